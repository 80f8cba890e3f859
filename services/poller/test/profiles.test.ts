/**
 * Profile variants against the real slapd: the generic `ldap` dialect with the timestamp delta
 * and posixGroup memberUid, "synchronize only groups", policy keep, entry errors, and the
 * dry-run plan that changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, createSilentLogger } from '@dirstream/logging';
import { planProfile, runPoller } from '../src/run/poller.ts';
import { setupPollerTest } from './poller-support.ts';

describe('profile variants', () => {
  it('generic ldap: timestamp delta and posixGroup memberUid', async () => {
    const t = await setupPollerTest('ldap-ts');
    try {
      const a = await t.ldap.addUser('tsa');
      await t.ldap.addUser('tsb');
      await t.ldap.client.add(`cn=posix,${t.ldap.groupsDn}`, {
        objectClass: ['top', 'posixGroup'],
        cn: 'posix',
        gidNumber: '5000',
        memberUid: ['tsa', 'tsb', 'unknown'],
      });
      const overrides = { directory: 'ldap', schedule: { delta: 'auto' } };
      const first = await t.run({ overrides });
      assert.equal(first.ok, true, first.reason);
      assert.equal(first.events?.users.length, 2);
      assert.equal(first.events?.memberships.length, 2, 'memberUid resolved by login name; unknown skipped');
      await t.ldap.modify(a, { title: 'Boss' });
      const delta = await t.run({ overrides });
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(
        delta.events?.users.map((e) => `${e.op}:${e.state.loginName}:${e.changed.join(',')}`),
        ['updated:tsa:title'],
      );
      assert.equal(delta.events?.summary.cursorBefore !== null, true);
      const quiet = await t.run({ overrides });
      assert.deepEqual(quiet.events?.users, []);
      await t.ldap.modify(`cn=posix,${t.ldap.groupsDn}`, { memberUid: ['tsb'] });
      const removed = await t.run({ overrides });
      assert.deepEqual(
        removed.events?.memberships.map((e) => e.op),
        ['removed'],
      );
      assert.equal(removed.events?.tombstones.length, 1);
    } finally {
      await t.cleanup();
    }
  });

  it('synchronize only groups: users outside every synced group are disabled, and come back', async () => {
    const t = await setupPollerTest('onlygroups');
    try {
      const a = await t.ldap.addUser('oga');
      const b = await t.ldap.addUser('ogb');
      const g = await t.ldap.addGroup('members', [a]);
      const overrides = { policies: { onlyGroupMembers: true } };
      const first = await t.run({ overrides });
      assert.equal(first.ok, true, first.reason);
      const byLogin = new Map(first.events?.users.map((e) => [e.state.loginName, e]) ?? []);
      assert.equal(byLogin.get('oga')?.state.enabled, true);
      // ogb was created enabled, then disabled once the groups were read.
      const ogb = first.events?.users.filter((e) => e.state.loginName === 'ogb').map((e) => `${e.op}:${e.state.disabledReason}`);
      assert.deepEqual(ogb, ['created:null', 'disabled:not-in-synced-group']);
      await t.ldap.modify(g, { member: [a, b] });
      const back = await t.run({ overrides, full: true });
      assert.deepEqual(
        back.events?.users.map((e) => `${e.op}:${e.state.loginName}`),
        ['enabled:ogb'],
      );
      const quiet = await t.run({ overrides, full: true });
      assert.deepEqual(quiet.events?.users, []);
    } finally {
      await t.cleanup();
    }
  });

  it('policy keep: a deleted user is not disabled', async () => {
    const t = await setupPollerTest('keep');
    try {
      const a = await t.ldap.addUser('ka');
      await t.ldap.addUser('kb');
      const overrides = { policies: { removedUsers: 'keep' } };
      assert.equal((await t.run({ overrides })).ok, true);
      await t.ldap.client.del(a);
      const r = await t.run({ overrides, full: true });
      assert.equal(r.ok, true, r.reason);
      assert.deepEqual(r.events?.users, []);
    } finally {
      await t.cleanup();
    }
  });

  it('an entry missing a required attribute is an entry error; the run goes on', async () => {
    const t = await setupPollerTest('entryerr');
    try {
      await t.ldap.addUser('good');
      // inetOrgPerson without uid: no login name.
      const bad = `cn=No Login,${t.ldap.peopleDn}`;
      await t.ldap.client.add(bad, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: 'No Login', sn: 'x' });
      const r = await t.run();
      assert.equal(r.ok, true, r.reason);
      assert.deepEqual(
        r.events?.users.map((e) => e.state.loginName),
        ['good'],
      );
      assert.equal(r.events?.summary.counts.errors, 1);
      assert.equal(r.events?.summary.errors[0]?.code, 'ENTRY_MISSING_ATTRIBUTE');
      assert.equal(r.events?.summary.errors[0]?.dn?.toLowerCase(), bad.toLowerCase());
    } finally {
      await t.cleanup();
    }
  });

  it('plan is a dry run: reports what would be emitted, sends and stores nothing', async () => {
    const t = await setupPollerTest('plan');
    try {
      const a = await t.ldap.addUser('pa');
      await t.ldap.addUser('pb');
      await t.ldap.addGroup('pg', [a]);
      const config = await t.config();
      const report = await planProfile(
        { config, logger: createSilentLogger(), signal: new AbortController().signal },
        { profileId: t.profileId },
      );
      assert.match(report, /full pass/);
      assert.match(report, /user created: 2/);
      assert.match(report, /group created: 1/);
      const again = await planProfile(
        { config, logger: createSilentLogger(), signal: new AbortController().signal },
        { profileId: t.profileId },
      );
      assert.match(again, /user created: 2/, 'nothing was stored by the first plan');
      const run = await t.run();
      assert.equal(run.events?.users.length, 2, 'the real run still creates everything');
      assert.equal(run.events?.summary.counts.created, 2);
    } finally {
      await t.cleanup();
    }
  });

  it('binary extra attributes are carried base64; the bind password never reaches logs or errors', async () => {
    const t = await setupPollerTest('binary');
    try {
      const photo = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x80, 0x81]);
      await t.ldap.addUser('bin', { jpegPhoto: photo as unknown as string });
      const lines: string[] = [];
      const logger = createLogger({ name: 'test', level: 'trace', destination: { write: (s: string) => lines.push(s) } as never });
      const overrides = { users: { attributes: { extra: { photo: 'jpegPhoto' } } } };
      const r = await t.run({ overrides, logger });
      assert.equal(r.ok, true, r.reason);
      assert.deepEqual(r.events?.users[0]?.state.attributes.photo, [photo.toString('base64')]);
      const wrong = 'not-the-password-0xCAFE';
      const bad = await t.run({ logger, overrides: { connection: { urls: ['ldap://127.0.0.1:1', t.infra.openldap.url] } }, full: true });
      assert.equal(bad.ok, true, 'failover to the second URL');
      const cfg = await t.config();
      const badConfig = { ...cfg, profiles: cfg.profiles.map((p) => ({ ...p, connection: { ...p.connection, bindPassword: wrong } })) };
      const outcome = await runPoller({ config: badConfig, logger, signal: new AbortController().signal }, { once: true });
      assert.equal(outcome.ok, false);
      assert.match(outcome.reason ?? '', /bind failed/);
      const text = lines.join('');
      assert.ok(!text.includes(wrong), 'wrong password not in logs');
      assert.ok(!text.includes(t.infra.openldap.adminPassword), 'password not in logs');
      assert.ok(!(outcome.reason ?? '').includes(wrong));
      assert.match(text, /LDAP_BIND_FAILED/);
    } finally {
      await t.cleanup();
    }
  });

  it('a user leaving the filter is disabled as outside-filter (delta and full pass), and comes back', async () => {
    const t = await setupPollerTest('outside');
    try {
      const a = await t.ldap.addUser('oa');
      const b = await t.ldap.addUser('ob');
      await t.ldap.addUser('oc');
      const overrides = { users: { filter: '(&(objectClass=inetOrgPerson)(!(title=contractor)))' } };
      assert.equal((await t.run({ overrides })).ok, true);
      await t.ldap.modify(a, { title: 'contractor' });
      const delta = await t.run({ overrides });
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(
        delta.events?.users.map((e) => `${e.op}:${e.state.loginName}:${e.state.disabledReason}`),
        ['disabled:oa:outside-filter'],
      );
      await t.ldap.modify(b, { title: 'contractor' });
      const full = await t.run({ overrides, full: true });
      assert.deepEqual(
        full.events?.users.map((e) => `${e.op}:${e.state.loginName}:${e.state.disabledReason}`),
        ['disabled:ob:outside-filter'],
      );
      await t.ldap.modify(a, { title: null });
      const back = await t.run({ overrides });
      assert.deepEqual(
        back.events?.users.map((e) => `${e.op}:${e.state.loginName}`),
        ['enabled:oa'],
      );
    } finally {
      await t.cleanup();
    }
  });

  it('a group that already lists a user gets the edge when the user enters the scope (delta)', async () => {
    const t = await setupPollerTest('enter');
    try {
      const x = await t.ldap.addUser('ex', { title: 'contractor' });
      const y = await t.ldap.addUser('ey');
      await t.ldap.addGroup('eg', [x, y]);
      const overrides = { users: { filter: '(&(objectClass=inetOrgPerson)(!(title=contractor)))' } };
      const first = await t.run({ overrides });
      assert.equal(first.events?.memberships.length, 1, 'only the user in scope has an edge');
      await t.ldap.modify(x, { title: null });
      const delta = await t.run({ overrides });
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(
        delta.events?.users.map((e) => `${e.op}:${e.state.loginName}`),
        ['created:ex'],
      );
      assert.equal(delta.events?.memberships.length, 1, 'the existing group now names the user');
      assert.equal(delta.events?.memberships[0]?.op, 'added');
      const full = await t.run({ overrides, full: true });
      assert.deepEqual(full.events?.users, []);
      assert.deepEqual(full.events?.memberships, []);
      // The unchanged full pass skipped the group's member list; a later change is still seen.
      await t.ldap.modify(`cn=eg,${t.ldap.groupsDn}`, { member: [y] });
      const removed = await t.run({ overrides, full: true });
      assert.deepEqual(
        removed.events?.memberships.map((e) => e.op),
        ['removed'],
      );
    } finally {
      await t.cleanup();
    }
  });
});
