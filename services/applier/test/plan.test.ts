import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventIdFor, userKey } from '@dirstream/events';
import {
  type CurrentUser,
  latestByKey,
  type PlanContext,
  planGroups,
  planMemberships,
  logMembershipChanges,
  planUsers,
  validateMembershipEvent,
  validateUserEvent,
} from '@dirstream/applier';
import { groupEvent, membershipEvent, PROFILE_A, PROFILE_B, userEvent } from './fixtures.ts';

const ctx = (policy: 'skip' | 'link' | 'fail' = 'skip', announce = true): PlanContext => ({
  profiles: new Map([
    [PROFILE_A, { conflictPolicy: policy }],
    [PROFILE_B, { conflictPolicy: policy }],
  ]),
  announce,
  now: 1_700_000_000_000,
});

const stored = (externalId: string, version: number, enabled = true, profileId = PROFILE_A): CurrentUser => ({
  id: 1,
  profileId,
  externalId,
  version,
  enabled,
  loginName: externalId,
  sid: null,
});

const lookup = (current: CurrentUser[] = [], locals: CurrentUser[] = [], others: CurrentUser[] = []) => ({
  current: new Map(current.map((c) => [userKey(c.profileId ?? '', c.externalId ?? ''), c])),
  localByLogin: new Map(locals.map((l) => [l.loginName.toLowerCase(), l])),
  sameIdentity: others.map((o) => ({ profileId: o.profileId ?? '', externalId: o.externalId ?? '', sid: o.sid })),
});

describe('planUsers', () => {
  const cases = [
    {
      name: 'a new user is upserted and not announced',
      events: [userEvent('u1', 10)],
      current: [],
      upserts: 1,
      outbox: [],
    },
    {
      name: 'a first-seen disabled user is not announced',
      events: [userEvent('u1', 10, { enabled: false, disabledReason: 'directory-disabled' })],
      current: [],
      upserts: 1,
      outbox: [],
    },
    {
      name: 'an event at the stored version changes nothing',
      events: [userEvent('u1', 10, { enabled: false })],
      current: [stored('u1', 10)],
      upserts: 0,
      outbox: [],
    },
    {
      name: 'an older event changes nothing',
      events: [userEvent('u1', 9, { enabled: false })],
      current: [stored('u1', 10)],
      upserts: 0,
      outbox: [],
    },
    {
      name: 'enabled → disabled is announced once',
      events: [userEvent('u1', 11, { enabled: false, disabledReason: 'removed-from-directory' })],
      current: [stored('u1', 10)],
      upserts: 1,
      outbox: ['user-disabled'],
    },
    {
      name: 'disabled → enabled is announced',
      events: [userEvent('u1', 11)],
      current: [stored('u1', 10, false)],
      upserts: 1,
      outbox: ['user-enabled'],
    },
    {
      name: 'an update without a flag change is not announced',
      events: [userEvent('u1', 11, { displayName: 'New' })],
      current: [stored('u1', 10)],
      upserts: 1,
      outbox: [],
    },
    {
      name: 'duplicates collapse to the highest version (disable then re-enable in one batch)',
      events: [userEvent('u1', 12), userEvent('u1', 11, { enabled: false }), userEvent('u1', 12)],
      current: [stored('u1', 10)],
      upserts: 1,
      outbox: [],
    },
    {
      name: 'out of order in a batch: the highest version wins',
      events: [userEvent('u1', 13, { enabled: false }), userEvent('u1', 12)],
      current: [stored('u1', 10)],
      upserts: 1,
      outbox: ['user-disabled'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planUsers(c.events, lookup(c.current), ctx());
      assert.equal(plan.upserts.length, c.upserts);
      assert.deepEqual(
        plan.outbox.map((o) => o.type),
        c.outbox,
      );
      for (const row of plan.outbox) {
        assert.equal(row.eventId, eventIdFor('user-lifecycle', row.type, row.profileId, row.externalId, String(row.payload.version)));
        assert.equal(row.published, false);
      }
    });
  }

  it('the announcement ID is deterministic (a retry cannot duplicate it)', () => {
    const events = [userEvent('u1', 11, { enabled: false })];
    const a = planUsers(events, lookup([stored('u1', 10)]), ctx());
    const b = planUsers(events, lookup([stored('u1', 10)]), ctx());
    assert.equal(a.outbox[0]?.eventId, b.outbox[0]?.eventId);
  });

  it('replay records transitions as already published', () => {
    const plan = planUsers([userEvent('u1', 11, { enabled: false })], lookup([stored('u1', 10)]), ctx('skip', false));
    assert.equal(plan.outbox.length, 1);
    assert.equal(plan.outbox[0]?.published, true);
  });

  const local: CurrentUser = { id: 77, profileId: null, externalId: null, version: 0, enabled: true, loginName: 'Carol', sid: null };
  const conflictCases = [
    { policy: 'skip' as const, upserts: 0, links: 0, op: 'conflict-skipped', error: 'USER_LOCAL_ACCOUNT_CONFLICT' },
    { policy: 'fail' as const, upserts: 0, links: 0, op: 'conflict-failed', error: 'USER_LOCAL_ACCOUNT_CONFLICT' },
    { policy: 'link' as const, upserts: 1, links: 1, op: 'linked', error: null },
  ];
  for (const c of conflictCases) {
    it(`a local account with the same login name: ${c.policy}`, () => {
      const plan = planUsers([userEvent('carol', 5, { loginName: 'carol' })], lookup([], [local]), ctx(c.policy));
      assert.equal(plan.upserts.length, c.upserts);
      assert.equal(plan.links.length, c.links);
      const entry = plan.log.find((l) => l.op === c.op);
      assert.ok(entry, `log has ${c.op}`);
      assert.equal(entry.errorCode, c.error);
      if (c.links === 1) assert.deepEqual(plan.links[0], { localId: 77, profileId: PROFILE_A, externalId: 'carol' });
    });
  }

  it('the same directory user in two profiles is reported', () => {
    const other = stored('u1', 3, true, PROFILE_B);
    const plan = planUsers([userEvent('u1', 5)], lookup([], [], [other]), ctx());
    assert.equal(plan.upserts.length, 1);
    const entry = plan.log.find((l) => l.op === 'duplicate-identity');
    assert.equal(entry?.errorCode, 'USER_DUPLICATE_IDENTITY');
  });

  it('the same SID in two profiles is reported', () => {
    const other = { ...stored('other-guid', 3, true, PROFILE_B), sid: 'S-1-5-21-1-2-3-1001' };
    const plan = planUsers([userEvent('u1', 5, { sid: 'S-1-5-21-1-2-3-1001' })], lookup([], [], [other]), ctx());
    assert.ok(plan.log.some((l) => l.op === 'duplicate-identity'));
  });

  const namesake = { profileId: PROFILE_A, externalId: 'old-guid', sid: null, loginName: 'Dana' };
  const loginCases = [
    { name: 'a stored user of the profile', events: [userEvent('u1', 5, { loginName: 'dana' })], sameLogin: [namesake], reported: ['u1'] },
    {
      name: 'two new users in one batch',
      events: [userEvent('u1', 5, { loginName: 'dana' }), userEvent('u2', 5, { loginName: 'DANA' })],
      sameLogin: [],
      reported: ['u2'],
    },
    {
      name: 'a user of another profile (not reported)',
      events: [userEvent('u1', 5, { loginName: 'dana' })],
      sameLogin: [{ ...namesake, profileId: PROFILE_B }],
      reported: [],
    },
    { name: 'itself (not reported)', events: [userEvent('old-guid', 5, { loginName: 'dana' })], sameLogin: [namesake], reported: [] },
  ];
  for (const c of loginCases) {
    it(`a duplicate login name: ${c.name}`, () => {
      const plan = planUsers(c.events, { ...lookup(), sameLogin: c.sameLogin }, ctx());
      assert.equal(plan.upserts.length, c.events.length, 'both entries are kept');
      const reported = plan.log.filter((l) => l.op === 'duplicate-login');
      assert.deepEqual(
        reported.map((l) => l.externalId),
        c.reported,
      );
      for (const entry of reported) assert.equal(entry.errorCode, 'USER_DUPLICATE_LOGIN');
    });
  }
});

describe('planGroups and planMemberships', () => {
  it('a group at or below the stored version is skipped', () => {
    const current = new Map([[userKey(PROFILE_A, 'g1'), 5]]);
    assert.equal(planGroups([groupEvent('g1', 5)], current).upserts.length, 0);
    assert.equal(planGroups([groupEvent('g1', 6)], current).upserts.length, 1);
    assert.equal(planGroups([groupEvent('g2', 1)], current).upserts.length, 1);
  });

  const edgeCases = [
    { name: 'added', events: [membershipEvent('g', 'u', 1)], present: [true] },
    { name: 'removed keeps a removal row', events: [membershipEvent('g', 'u', 2, 'removed')], present: [false] },
    {
      name: 'added then removed in one batch: removed wins',
      events: [membershipEvent('g', 'u', 1), membershipEvent('g', 'u', 2, 'removed')],
      present: [false],
    },
    {
      name: 'removed then an older added: removed wins',
      events: [membershipEvent('g', 'u', 2, 'removed'), membershipEvent('g', 'u', 1)],
      present: [false],
    },
  ];
  for (const c of edgeCases) {
    it(`membership: ${c.name}`, () => {
      assert.deepEqual(
        planMemberships(c.events).map((m) => m.present),
        c.present,
      );
    });
  }
});

describe('membership changes in the sync log', () => {
  it('each written edge is one row on the member, naming its group, in the run that changed it', () => {
    const edges = planMemberships([
      membershipEvent('g1', 'u1', 7),
      membershipEvent('g2', 'u1', 7),
      membershipEvent('g1', 'sub', 8, 'removed', 'group'),
    ]);
    assert.deepEqual(
      logMembershipChanges(edges).map((l) => [l.entity, l.externalId, l.relatedId, l.op, l.version, l.runId, l.detail]),
      [
        ['membership', 'u1', 'g1', 'added', 7, 'run-1', { memberType: 'user' }],
        ['membership', 'u1', 'g2', 'added', 7, 'run-1', { memberType: 'user' }],
        ['membership', 'sub', 'g1', 'removed', 8, 'run-1', { memberType: 'group' }],
      ],
    );
  });

  it('an edge the version guard held back logs nothing', () => {
    assert.deepEqual(logMembershipChanges([]), []);
  });
});

describe('sync log detail', () => {
  it('a rename keeps the old and new DN, a disable its reason', () => {
    const renamed = userEvent('u1', 2, { op: 'renamed', dn: 'uid=u1b,ou=people,dc=dirstream,dc=test' });
    const withRename = { ...renamed, rename: { previousDn: 'uid=u1,ou=people,dc=dirstream,dc=test', previousLoginName: 'u1' } };
    const disabled = userEvent('u2', 2, { op: 'disabled', enabled: false, disabledReason: 'removed-from-directory' });
    const plan = planUsers([withRename, disabled], lookup([stored('u1', 1), stored('u2', 1)]), ctx());
    const details = new Map(plan.log.map((l) => [l.externalId, l.detail]));
    assert.deepEqual(details.get('u1'), {
      previousDn: 'uid=u1,ou=people,dc=dirstream,dc=test',
      dn: 'uid=u1b,ou=people,dc=dirstream,dc=test',
    });
    assert.deepEqual(details.get('u2'), { disabledReason: 'removed-from-directory' });
  });
});

describe('validation and classification', () => {
  it('an unknown profile is a poison record', () => {
    const event = userEvent('u1', 1, { profileId: '00000000-0000-4000-8000-000000000999' });
    assert.equal(validateUserEvent(event, null, ctx())?.code, 'APPLY_UNKNOWN_PROFILE');
  });
  it('a key that does not match the identity is a poison record', () => {
    assert.equal(validateUserEvent(userEvent('u1', 1), userKey(PROFILE_A, 'u2'), ctx())?.code, 'APPLY_KEY_MISMATCH');
    assert.equal(validateUserEvent(userEvent('u1', 1), userKey(PROFILE_A, 'u1'), ctx()), null);
  });
  it('an empty login name or a bad version is invalid', () => {
    assert.equal(validateUserEvent(userEvent('u1', 1, { loginName: ' ' }), null, ctx())?.code, 'APPLY_INVALID_EVENT');
    assert.equal(validateUserEvent(userEvent('u1', 0), null, ctx())?.code, 'APPLY_INVALID_EVENT');
    assert.equal(validateMembershipEvent(membershipEvent('', 'u', 1), null, ctx())?.code, 'APPLY_INVALID_EVENT');
  });
  it('latestByKey keeps the highest version, the first on a tie (as the version guard does)', () => {
    const picked = latestByKey(
      [
        { k: 'a', version: 1, tag: 'x' },
        { k: 'a', version: 3, tag: 'y' },
        { k: 'a', version: 3, tag: 'z' },
        { k: 'b', version: 1, tag: 'w' },
      ],
      (e) => e.k,
    );
    assert.deepEqual(
      picked.map((p) => p.tag),
      ['y', 'w'],
    );
  });
});
