import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GroupState, UserState } from '@dirstream/events';
import { changedFields, diffEdges, diffGroup, diffUser, effectiveMembers, removeGroup, removeUser, restoreUser } from '../src/core/diff.ts';
import { stateHash } from '../src/core/hash.ts';
import type { StoredEdge, StoredGroup, StoredUser } from '../src/core/types.ts';

const NOW = 1_800_000_000_000;

const alice: UserState = {
  externalId: 'id-a',
  sid: null,
  sidHistory: [],
  dn: 'uid=alice,ou=staff,dc=x',
  loginName: 'alice',
  userPrincipalName: null,
  displayName: 'Alice',
  givenName: 'Alice',
  surname: 'A',
  emails: ['alice@x'],
  phone: null,
  title: null,
  company: null,
  enabled: true,
  disabledReason: null,
  attributes: {},
};

function stored(state: UserState, version = 5, present = true): StoredUser {
  return { externalId: state.externalId, hash: stateHash(state), version, present, state };
}

describe('diffUser', () => {
  const cases: {
    name: string;
    prev: StoredUser | null;
    next: UserState;
    op: string | null;
    changed?: string[];
    rename?: boolean;
    disables?: boolean;
  }[] = [
    { name: 'new user → created with every field', prev: null, next: alice, op: 'created' },
    { name: 'same state → nothing', prev: stored(alice), next: alice, op: null },
    { name: 'DN case/escaping noise → nothing', prev: stored(alice), next: { ...alice, dn: 'UID=Alice,OU=Staff,DC=x' }, op: null },
    { name: 'mail changed → updated', prev: stored(alice), next: { ...alice, emails: ['a2@x'] }, op: 'updated', changed: ['emails'] },
    {
      name: 'RDN changed → renamed',
      prev: stored(alice),
      next: { ...alice, dn: 'uid=alice2,ou=staff,dc=x', loginName: 'alice2' },
      op: 'renamed',
      changed: ['dn', 'loginName'],
      rename: true,
    },
    {
      name: 'parent changed → moved',
      prev: stored(alice),
      next: { ...alice, dn: 'uid=alice,ou=sales,dc=x' },
      op: 'moved',
      changed: ['dn'],
      rename: true,
    },
    {
      name: 'disabled in the directory → disabled',
      prev: stored(alice),
      next: { ...alice, enabled: false, disabledReason: 'directory-disabled' },
      op: 'disabled',
      changed: ['disabledReason', 'enabled'],
      disables: true,
    },
    {
      name: 're-enabled → enabled',
      prev: stored({ ...alice, enabled: false, disabledReason: 'directory-disabled' }),
      next: alice,
      op: 'enabled',
      changed: ['disabledReason', 'enabled'],
    },
    {
      name: 'disable + move → disabled with rename info',
      prev: stored(alice),
      next: { ...alice, dn: 'uid=alice,ou=gone,dc=x', enabled: false, disabledReason: 'directory-disabled' },
      op: 'disabled',
      rename: true,
      disables: true,
    },
    {
      name: 'back after removal → enabled',
      prev: stored({ ...alice, enabled: false, disabledReason: 'removed-from-directory' }, 5, false),
      next: alice,
      op: 'enabled',
    },
    {
      name: 'extra attribute → attributes.<name>',
      prev: stored(alice),
      next: { ...alice, attributes: { badge: ['7'] } },
      op: 'updated',
      changed: ['attributes.badge'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const change = diffUser(c.prev, c.next, NOW);
      if (c.op === null) return assert.equal(change, null);
      assert.ok(change);
      assert.equal(change.op, c.op);
      if (c.changed) assert.deepEqual(change.changed, c.changed);
      if (c.op === 'created') assert.ok(change.changed.includes('loginName') && change.changed.includes('dn'));
      assert.equal(change.rename !== null, c.rename === true);
      if (change.rename) assert.equal(change.rename.previousDn, c.prev?.state.dn);
      assert.equal(change.disables, c.disables === true);
      assert.equal(change.version, Math.max((c.prev?.version ?? -1) + 1, NOW * 1000));
      assert.equal(change.hash, stateHash(c.next));
    });
  }
  it('versions keep growing when the clock is behind the stored version', () => {
    const change = diffUser(stored(alice, NOW * 1000 + 50), { ...alice, title: 'x' }, NOW);
    assert.equal(change?.version, NOW * 1000 + 51);
  });
});

describe('removeUser / restoreUser', () => {
  it('disables a removed user with the reason and marks it absent', () => {
    const change = removeUser(stored(alice), 'removed-from-directory', 'disable', NOW);
    assert.equal(change?.op, 'disabled');
    assert.equal(change?.state.disabledReason, 'removed-from-directory');
    assert.equal(change?.present, false);
    assert.equal(change?.disables, true);
  });
  it('keeps a removed user under policy keep', () => {
    assert.equal(removeUser(stored(alice), 'removed-from-directory', 'keep', NOW), null);
  });
  it('an already disabled user gets the new reason as an update, not a disable', () => {
    const change = removeUser(
      stored({ ...alice, enabled: false, disabledReason: 'directory-disabled' }),
      'removed-from-directory',
      'disable',
      NOW,
    );
    assert.equal(change?.op, 'updated');
    assert.deepEqual(change?.changed, ['disabledReason']);
    assert.equal(change?.disables, false);
  });
  it('restores a user disabled by only-groups', () => {
    const change = restoreUser(stored({ ...alice, enabled: false, disabledReason: 'not-in-synced-group' }), NOW);
    assert.equal(change?.op, 'enabled');
    assert.equal(restoreUser(stored(alice), NOW), null);
  });
});

describe('diffGroup', () => {
  const g: GroupState = {
    externalId: 'g1',
    sid: null,
    dn: 'cn=devs,ou=g,dc=x',
    name: 'devs',
    description: null,
    present: true,
    attributes: {},
  };
  const sg = (state: GroupState): StoredGroup => ({
    externalId: state.externalId,
    hash: stateHash(state),
    version: 1,
    present: state.present,
    state,
  });
  it('created, unchanged, renamed, moved, removed, back', () => {
    assert.equal(diffGroup(null, g, NOW)?.op, 'created');
    assert.equal(diffGroup(sg(g), g, NOW), null);
    assert.equal(diffGroup(sg(g), { ...g, dn: 'cn=devs2,ou=g,dc=x', name: 'devs2' }, NOW)?.op, 'renamed');
    assert.equal(diffGroup(sg(g), { ...g, dn: 'cn=devs,ou=h,dc=x' }, NOW)?.op, 'moved');
    assert.equal(diffGroup(sg(g), { ...g, description: 'd' }, NOW)?.op, 'updated');
    const removed = removeGroup(sg(g), NOW);
    assert.equal(removed?.op, 'removed');
    assert.equal(removed?.state.present, false);
    assert.equal(removeGroup(sg({ ...g, present: false }), NOW), null);
    assert.equal(diffGroup(sg({ ...g, present: false }), g, NOW)?.op, 'created');
  });
});

describe('diffEdges', () => {
  const edge = (memberId: string, version = 1): [string, StoredEdge] => [memberId, { groupId: 'g', memberId, memberType: 'user', version }];
  const cases: { name: string; prev: [string, StoredEdge][]; current: string[]; added: string[]; removed: string[] }[] = [
    { name: 'first read adds all', prev: [], current: ['a', 'b'], added: ['a', 'b'], removed: [] },
    { name: 'no change', prev: [edge('a'), edge('b')], current: ['b', 'a'], added: [], removed: [] },
    { name: 'duplicates collapse', prev: [], current: ['a', 'a'], added: ['a'], removed: [] },
    { name: 'add and remove', prev: [edge('a'), edge('b')], current: ['b', 'c'], added: ['c'], removed: ['a'] },
    { name: 'emptied', prev: [edge('a')], current: [], added: [], removed: ['a'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const diff = diffEdges(
        'g',
        new Map(c.prev),
        c.current.map((memberId) => ({ memberId, memberType: 'user' as const })),
        NOW,
      );
      assert.deepEqual(
        diff.added.map((e) => e.memberId),
        c.added,
      );
      assert.deepEqual(
        diff.removed.map((e) => e.memberId),
        c.removed,
      );
      for (const r of diff.removed) assert.ok(r.version > 1);
    });
  }
});

describe('effectiveMembers', () => {
  it('follows nested groups and survives a cycle', () => {
    const edges: Record<string, { memberId: string; memberType: 'user' | 'group' }[]> = {
      g0: [
        { memberId: 'g1', memberType: 'group' },
        { memberId: 'u0', memberType: 'user' },
      ],
      g1: [
        { memberId: 'g2', memberType: 'group' },
        { memberId: 'u1', memberType: 'user' },
      ],
      g2: [
        { memberId: 'g1', memberType: 'group' },
        { memberId: 'u2', memberType: 'user' },
        { memberId: 'g0', memberType: 'group' },
      ],
    };
    const result = effectiveMembers('g0', (g) => edges[g] ?? []);
    assert.deepEqual([...result.users].sort(), ['u0', 'u1', 'u2']);
    assert.deepEqual([...result.groups].sort(), ['g1', 'g2']);
  });
});

describe('changedFields', () => {
  it('lists differing fields in order', () => {
    assert.deepEqual(changedFields({ a: 1, b: [1], dn: 'cn=X' }, { a: 2, b: [1], dn: 'CN=x' }), ['a']);
  });
});
