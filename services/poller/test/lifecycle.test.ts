/**
 * Directory changes against the real slapd → exactly the expected events; the pass after each
 * change (a full pass, the strictest comparison) emits nothing. One OU, database and topic prefix
 * for this file; the cases run in order on the same directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PollerTest, type RunEvents, setupPollerTest } from './poller-support.ts';

describe('poller lifecycle on OpenLDAP', () => {
  let t: PollerTest;
  const names = new Map<string, string>(); // externalId → login / group name
  const dns: Record<string, string> = {};
  let staff = '';
  let sales = '';

  function remember(events: RunEvents | null) {
    for (const e of events?.users ?? []) names.set(e.externalId, e.state.loginName);
    for (const e of events?.groups ?? []) names.set(e.externalId, e.state.name);
  }
  const users = (ev: RunEvents | null) => (ev?.users ?? []).map((e) => `${e.op}:${e.state.loginName}`).sort();
  const groups = (ev: RunEvents | null) => (ev?.groups ?? []).map((e) => `${e.op}:${e.state.name}`).sort();
  const edges = (ev: RunEvents | null) =>
    (ev?.memberships ?? []).map((e) => `${e.op}:${names.get(e.groupId)}<-${e.memberType}:${names.get(e.memberId)}`).sort();

  async function pass(expect: { users?: string[]; groups?: string[]; edges?: string[]; tombstones?: number }) {
    const r = await t.run();
    assert.equal(r.ok, true, r.reason);
    remember(r.events);
    assert.deepEqual(users(r.events), [...(expect.users ?? [])].sort(), 'user events');
    assert.deepEqual(groups(r.events), [...(expect.groups ?? [])].sort(), 'group events');
    assert.deepEqual(edges(r.events), [...(expect.edges ?? [])].sort(), 'membership events');
    assert.equal(r.events?.tombstones.length ?? 0, expect.tombstones ?? 0, 'tombstones');
    assert.equal(r.events?.summary.status, 'succeeded');
    // Every entity event carries the run ID of its run.
    for (const e of [...(r.events?.users ?? []), ...(r.events?.groups ?? []), ...(r.events?.memberships ?? [])]) {
      assert.equal(e.source.runId, r.result?.runId);
    }
    const again = await t.run({ full: true });
    assert.equal(again.ok, true, again.reason);
    assert.deepEqual(users(again.events), [], 'second pass: users');
    assert.deepEqual(groups(again.events), [], 'second pass: groups');
    assert.deepEqual(edges(again.events), [], 'second pass: memberships');
    return r.events as RunEvents;
  }

  before(async () => {
    t = await setupPollerTest('lifecycle');
    staff = `ou=staff,${t.ldap.peopleDn}`;
    sales = `ou=sales,${t.ldap.peopleDn}`;
    await t.ldap.client.add(staff, { objectClass: ['top', 'organizationalUnit'], ou: 'staff' });
    await t.ldap.client.add(sales, { objectClass: ['top', 'organizationalUnit'], ou: 'sales' });
    dns.alice = await t.ldap.addUser('alice', {}, staff);
    dns.bob = await t.ldap.addUser('bob', {}, staff);
    dns.carol = await t.ldap.addUser('carol', { cn: 'Doe, Carol' }, staff);
    dns.devs = await t.ldap.addGroup('devs', [dns.alice, dns.bob]);
    dns.ops = await t.ldap.addGroup('ops', [dns.carol]);
    dns.parent = await t.ldap.addGroup('parent', [dns.devs]);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('first run is a full pass creating everything', async () => {
    const events = await pass({
      users: ['created:alice', 'created:bob', 'created:carol'],
      groups: ['created:devs', 'created:ops', 'created:parent'],
      edges: ['added:devs<-user:alice', 'added:devs<-user:bob', 'added:ops<-user:carol', 'added:parent<-group:devs'],
    });
    assert.equal(events.summary.mode, 'full');
    assert.equal(events.summary.counts.created, 3);
    const carol = events.users.find((e) => e.state.loginName === 'carol');
    assert.equal(carol?.state.displayName, 'Doe, Carol');
  });

  it('add', async () => {
    dns.dave = await t.ldap.addUser('dave', {}, staff);
    const events = await pass({ users: ['created:dave'] });
    assert.equal(events.summary.mode, 'delta');
  });

  it('modify', async () => {
    await t.ldap.modify(dns.alice as string, { mail: 'alice.new@example.test' });
    const events = await pass({ users: ['updated:alice'] });
    assert.deepEqual(events.users[0]?.changed, ['emails']);
  });

  it('rename (modrdn)', async () => {
    const renamed = `uid=bobby,${staff}`;
    await t.ldap.client.modifyDN(dns.bob as string, 'uid=bobby');
    const events = await pass({ users: ['renamed:bobby'] });
    assert.equal(events.users[0]?.rename?.previousDn, dns.bob);
    assert.equal(events.users[0]?.rename?.previousLoginName, 'bob');
    assert.equal(events.users[0]?.state.dn.toLowerCase(), renamed.toLowerCase());
    dns.bob = renamed;
  });

  it('move to another OU', async () => {
    const moved = `cn=Doe\\, Carol,${sales}`.replace('cn=Doe\\, Carol', 'uid=carol');
    await t.ldap.client.modifyDN(dns.carol as string, moved);
    const events = await pass({ users: ['moved:carol'] });
    assert.equal(events.users[0]?.rename?.previousDn, dns.carol);
    assert.deepEqual(events.users[0]?.changed, ['dn']);
    dns.carol = moved;
  });

  it('disable and re-enable', async () => {
    await t.ldap.modify(dns.alice as string, { employeeType: 'inactive' });
    const off = await pass({ users: ['disabled:alice'] });
    assert.equal(off.users[0]?.state.disabledReason, 'directory-disabled');
    await t.ldap.modify(dns.alice as string, { employeeType: null });
    const on = await pass({ users: ['enabled:alice'] });
    assert.equal(on.users[0]?.state.enabled, true);
  });

  it('group membership add', async () => {
    await t.ldap.modify(dns.ops as string, { member: [dns.carol as string, dns.dave as string] });
    await pass({ edges: ['added:ops<-user:dave'] });
  });

  it('group membership remove (removed event + tombstone)', async () => {
    await t.ldap.modify(dns.devs as string, { member: [dns.alice as string] });
    await pass({ edges: ['removed:devs<-user:bobby'], tombstones: 1 });
  });

  it('nested group change', async () => {
    await t.ldap.modify(dns.parent as string, { member: [dns.devs as string, dns.ops as string] });
    await pass({ edges: ['added:parent<-group:ops'] });
  });

  it('delete a user: disabled, and the membership refint removed is derived', async () => {
    await t.ldap.client.del(dns.carol as string);
    const events = await pass({ users: ['disabled:carol'], edges: ['removed:ops<-user:carol'], tombstones: 1 });
    assert.equal(events.users[0]?.state.disabledReason, 'removed-from-directory');
  });

  it('delete a group: removed with its edges', async () => {
    await t.ldap.client.del(dns.ops as string);
    await pass({ groups: ['removed:ops'], edges: ['removed:ops<-user:dave', 'removed:parent<-group:ops'], tombstones: 2 });
  });

  it('a deleted user that comes back is enabled again (same entry restored by a full pass)', async () => {
    // A new entry with the same uid has a new entryUUID: a new identity, created.
    dns.carol = await t.ldap.addUser('carol', {}, sales);
    await pass({ users: ['created:carol'] });
  });
});
