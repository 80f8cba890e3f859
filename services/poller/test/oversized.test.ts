/**
 * An entry whose event is larger than the broker accepts (a 1 MB attribute value) is an entry
 * error of the run, not a failed run: it is neither emitted nor stored, the other entries are, and
 * it is tried again on the next pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type PollerTest, type RunEvents, setupPollerTest } from './poller-support.ts';

describe('an oversized entry', () => {
  let t: PollerTest;
  const dns: Record<string, string> = {};
  const overrides = { users: { attributes: { extra: { notes: 'description' } } } };
  const names = new Map<string, string>();
  const edges = (ev: RunEvents | null) =>
    (ev?.memberships ?? []).map((e) => `${e.op}:${names.get(e.groupId)}<-${names.get(e.memberId)}`).sort();
  const remember = (ev: RunEvents | null) => {
    for (const e of ev?.users ?? []) names.set(e.externalId, e.state.loginName);
    for (const e of ev?.groups ?? []) names.set(e.externalId, e.state.name);
  };
  const tooLarge = (ev: RunEvents | null) => (ev?.summary.errors ?? []).filter((e) => e.code === 'ENTRY_TOO_LARGE');

  before(async () => {
    t = await setupPollerTest('oversized');
    dns.small = await t.ldap.addUser('small');
    dns.big = await t.ldap.addUser('big', { description: 'x'.repeat(1_100_000) });
    dns.other = await t.ldap.addUser('other');
    dns.team = await t.ldap.addGroup('team', [dns.small, dns.big]);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('is reported with its DN and size; the rest of the run is emitted and the run succeeds', async () => {
    const r = await t.run({ overrides });
    assert.equal(r.ok, true, r.reason);
    remember(r.events);
    assert.equal(r.events?.summary.status, 'succeeded');
    assert.deepEqual((r.events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}`).sort(), ['created:other', 'created:small']);
    assert.deepEqual(edges(r.events), ['added:team<-small']);
    const errors = tooLarge(r.events);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.dn?.toLowerCase(), dns.big?.toLowerCase());
    assert.match(errors[0]?.message ?? '', /\b1\d{6} bytes\b.*1000000/);
    assert.equal(r.events?.summary.counts.created, 2);
  });

  it('was not stored: the next pass tries it again and reports it again', async () => {
    const r = await t.run({ overrides, full: true });
    assert.equal(r.ok, true, r.reason);
    assert.deepEqual(r.events?.users ?? [], []);
    assert.deepEqual(edges(r.events), []);
    assert.equal(tooLarge(r.events).length, 1);
  });

  it('once it fits, it is created and joins its group', async () => {
    await t.ldap.modify(dns.big as string, { description: 'short now' });
    const r = await t.run({ overrides });
    assert.equal(r.ok, true, r.reason);
    remember(r.events);
    assert.deepEqual(
      (r.events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}`),
      ['created:big'],
    );
    assert.equal(r.events?.users[0]?.state.attributes?.notes?.[0], 'short now');
    assert.deepEqual(edges(r.events), ['added:team<-big']);
    assert.deepEqual(tooLarge(r.events), []);
  });
});
