/**
 * slapo-refint rewrites a group's `member` values after a rename asynchronously, without touching
 * the group's modifyTimestamp or entryCSN. A group may therefore be read listing a member under
 * its old DN (refint not done yet) or under its new DN (the rename not in the state yet). Both
 * windows are made deterministic here; neither may produce a membership event: a renamed member
 * stays a member.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEdgeNames, type PollerTest, setupPollerTest, userOps } from './poller-support.ts';

describe('refint rewrites racing the poller', () => {
  let t: PollerTest;
  const dns: Record<string, string> = {};
  const { remember, edges } = createEdgeNames();

  async function members(groupDn: string): Promise<string[]> {
    const { searchEntries } = await t.ldap.client.search(groupDn, { scope: 'base', attributes: ['member'] });
    const value = searchEntries[0]?.member ?? [];
    return (Array.isArray(value) ? value : [value]).map((v) => String(v).toLowerCase());
  }
  /** Waits (bounded) until refint listed `dn` in the group. */
  async function refintDone(groupDn: string, dn: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await members(groupDn)).includes(dn.toLowerCase())) {
      assert.ok(Date.now() < deadline, `refint did not rewrite ${groupDn} to list ${dn}`);
      await sleep(50);
    }
  }
  async function run(full = false, hooks?: { afterProduce?: (info: { batch: number }) => Promise<void> }) {
    const r = await t.run({ full, internals: hooks ? { hooks } : undefined });
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.events?.summary.status, 'succeeded');
    remember(r.events);
    return r.events;
  }

  before(async () => {
    t = await setupPollerTest('refint-race');
    dns.amy = await t.ldap.addUser('amy');
    dns.ben = await t.ldap.addUser('ben');
    dns.cat = await t.ldap.addUser('cat');
    dns.crew = await t.ldap.addGroup('crew', [dns.amy, dns.ben]);
    dns.band = await t.ldap.addGroup('band', [dns.cat]);
    const first = await run(true);
    assert.deepEqual(edges(first), ['added:band<-cat', 'added:crew<-amy', 'added:crew<-ben']);
  });
  after(async () => {
    await t?.cleanup();
  });

  it('a group still listing the old DN of a renamed member (refint not done yet) keeps the member', async () => {
    const oldDn = dns.ben as string;
    const newDn = `uid=benny,${t.ldap.peopleDn}`;
    await t.ldap.client.modifyDN(oldDn, 'uid=benny');
    await refintDone(dns.crew as string, newDn);
    // The group as read during refint's delay: the member under its former DN, in the pass that sees the rename.
    await t.ldap.modify(dns.crew as string, { member: [dns.amy as string, oldDn] });
    const renamed = await run();
    assert.deepEqual(userOps(renamed), ['renamed:benny']);
    assert.deepEqual(edges(renamed), [], 'the pass that saw the rename');
    // refint catches up (the tolerance is bounded to that pass: test/real-directories covers a server that never does).
    await t.ldap.modify(dns.crew as string, { member: [dns.amy as string, newDn] });
    assert.deepEqual(edges(await run()), [], 'delta after the rewrite');
    assert.deepEqual(edges(await run(true)), [], 'full pass after the rewrite');
  });

  it('a group listing the new DN of a member renamed after the users were read keeps the member', async () => {
    const newDn = `uid=cathy,${t.ldap.peopleDn}`;
    await t.ldap.modify(dns.amy as string, { mail: 'amy.new@example.test' });
    let renamedMidRun = false;
    // After the users' batch is acknowledged and before the groups are read: cat is renamed and
    // refint rewrites `band`, so the group names a DN the state does not know yet.
    const during = await run(true, {
      afterProduce: async () => {
        if (renamedMidRun) return;
        renamedMidRun = true;
        await t.ldap.client.modifyDN(dns.cat as string, 'uid=cathy');
        await refintDone(dns.band as string, newDn);
      },
    });
    assert.equal(renamedMidRun, true);
    assert.deepEqual(userOps(during), ['updated:amy']);
    assert.deepEqual(edges(during), [], 'the member renamed mid-run is not removed');
    const next = await run();
    assert.deepEqual(userOps(next), ['renamed:cathy']);
    assert.deepEqual(edges(next), []);
    assert.deepEqual(edges(await run(true)), []);
  });
});
