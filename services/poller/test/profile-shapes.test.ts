/**
 * Profile shapes the seeds never ran against the real servers (issue 13, items 8–9): a disabled
 * profile asked for by --profile, two profiles in one poller process, a non-default group filter,
 * `scope: one` and `scope: base`, and `removedGroups: keep`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ProfileConfig } from '@dirstream/config';
import { createCodec, topicNames, type UserEvent } from '@dirstream/events';
import { createSilentLogger } from '@dirstream/logging';
import { createLdapSubtree, readTopics } from '@dirstream/testing';
import { runPoller } from '../src/run/poller.ts';
import { groupOps, setupPollerTest, userOps } from './poller-support.ts';

describe('profile shapes', () => {
  it('enabled: false — --profile refuses to poll it, naming the fix; a scheduled poller skips it', async () => {
    const t = await setupPollerTest('disabled-profile');
    try {
      await t.ldap.addUser('dpa');
      const r = await t
        .run({ overrides: { enabled: false } })
        .catch((cause: unknown) => ({ ok: false, reason: String(cause), result: null }));
      assert.equal(r.ok, false);
      assert.match(r.reason ?? '', /enabled: false: set enabled: true to poll it/);
      assert.equal(r.result, null, 'no run happened');
      const all = await runPoller(
        { config: await t.config({ enabled: false }), logger: createSilentLogger(), signal: new AbortController().signal },
        { once: true },
      );
      assert.deepEqual(all, { ok: false, reason: 'no enabled profile to poll' });
      const enabled = await t.run();
      assert.deepEqual(userOps(enabled.events), ['created:dpa']);
    } finally {
      await t.cleanup();
    }
  });

  it('two profiles in one poller process: each its own subtree, IDs, events and removals', async () => {
    const t = await setupPollerTest('two-profiles');
    const other = await createLdapSubtree(t.infra, 'two-profiles-b');
    try {
      await t.ldap.addUser('tpa');
      const gone = await t.ldap.addUser('tpgone');
      await other.addUser('tpb');
      await other.addUser('tpa'); // the same login in the other directory: another identity
      const base = await t.config();
      const first = base.profiles[0] as ProfileConfig;
      const secondId = randomUUID();
      const second = {
        ...first,
        id: secondId,
        name: 'second',
        users: { ...first.users, baseDn: other.peopleDn },
        groups: first.groups ? { ...first.groups, baseDn: other.groupsDn } : undefined,
      } as ProfileConfig;
      const config = { ...base, profiles: [first, second] };
      const once = () => runPoller({ config, logger: createSilentLogger(), signal: new AbortController().signal }, { once: true });
      assert.deepEqual(await once(), { ok: true });
      await t.ldap.client.del(gone);
      assert.deepEqual(await once(), { ok: true });
      const codec = createCodec();
      const records = await readTopics(t.kafka, [topicNames(t.prefix).users]);
      const events: UserEvent[] = records.filter((r) => r.value !== null).map((r) => codec.decode('user-event', r.value as Buffer));
      const of = (profileId: string) =>
        events
          .filter((e) => e.source.profileId === profileId)
          .map((e) => `${e.op}:${e.state.loginName}`)
          .sort();
      assert.deepEqual(of(t.profileId), ['created:tpa', 'created:tpgone', 'disabled:tpgone']);
      assert.deepEqual(of(secondId), ['created:tpa', 'created:tpb']);
      const keys = new Set(records.map((r) => r.key?.toString() ?? ''));
      assert.ok([...keys].every((k) => k.startsWith(`${t.profileId}/`) || k.startsWith(`${secondId}/`)));
      const tpa = events.filter((e) => e.state.loginName === 'tpa');
      assert.notEqual(tpa[0]?.externalId, tpa[1]?.externalId);
    } finally {
      await other.cleanup();
      await t.cleanup();
    }
  });

  it('a non-default group filter: only matching groups are synced; a group renamed out of it is removed', async () => {
    const t = await setupPollerTest('group-filter');
    try {
      const a = await t.ldap.addUser('gfa');
      const team = await t.ldap.addGroup('team-one', [a]);
      await t.ldap.addGroup('other', [a]);
      const overrides = { groups: { filter: '(&(objectClass=groupOfNames)(cn=team-*))' } };
      const first = await t.run({ overrides });
      assert.equal(first.ok, true, first.reason);
      assert.deepEqual(groupOps(first.events), ['created:team-one']);
      assert.equal(first.events?.memberships.length, 1);
      await t.ldap.client.modifyDN(team, 'cn=former-team');
      const next = await t.run({ overrides, full: true });
      assert.deepEqual(groupOps(next.events), ['removed:team-one']);
      assert.deepEqual(
        next.events?.memberships.map((m) => m.op),
        ['removed'],
      );
    } finally {
      await t.cleanup();
    }
  });

  it('scope one reads the base level only; scope base reads the base entry only', async () => {
    const t = await setupPollerTest('scopes');
    try {
      const top = await t.ldap.addUser('sca');
      await t.ldap.client.add(`ou=deeper,${t.ldap.peopleDn}`, { objectClass: ['top', 'organizationalUnit'], ou: 'deeper' });
      const deep = await t.ldap.addUser('scb', {}, `ou=deeper,${t.ldap.peopleDn}`);
      const crew = await t.ldap.addGroup('crew', [top, deep]);
      await t.ldap.addGroup('band', [top]);
      const overrides = { users: { scope: 'one' }, groups: { baseDn: crew, scope: 'base' } };
      const first = await t.run({ overrides });
      assert.equal(first.ok, true, first.reason);
      assert.deepEqual(userOps(first.events), ['created:sca']);
      assert.deepEqual(groupOps(first.events), ['created:crew']);
      assert.equal(first.events?.memberships.length, 1, 'scb is below the users level: not a synced member');
      // The removal logic honours the scope too: nothing is "missing" on the next full pass.
      const again = await t.run({ overrides, full: true });
      assert.deepEqual(userOps(again.events), []);
      assert.deepEqual(groupOps(again.events), []);
      // Widening the scope brings scb in.
      const sub = await t.run({ overrides: { users: { scope: 'sub' }, groups: { baseDn: crew, scope: 'base' } }, full: true });
      assert.deepEqual(userOps(sub.events), ['created:scb']);
      assert.equal(sub.events?.memberships.length, 1);
    } finally {
      await t.cleanup();
    }
  });

  it('removedGroups: keep keeps a deleted group and its memberships; remove (the default) removes it', async () => {
    const t = await setupPollerTest('keep-groups');
    try {
      const a = await t.ldap.addUser('kga');
      const g = await t.ldap.addGroup('kept', [a]);
      const h = await t.ldap.addGroup('dropped', [a]);
      assert.equal((await t.run()).ok, true);
      await t.ldap.client.del(g);
      const kept = await t.run({ overrides: { policies: { removedGroups: 'keep' } }, full: true });
      assert.equal(kept.ok, true, kept.reason);
      assert.deepEqual(groupOps(kept.events), []);
      assert.deepEqual(kept.events?.memberships, []);
      await t.ldap.client.del(h);
      const removed = await t.run({ full: true });
      assert.deepEqual(groupOps(removed.events), ['removed:dropped', 'removed:kept']);
    } finally {
      await t.cleanup();
    }
  });
});
