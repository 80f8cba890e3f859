/**
 * Directories as they come (issue 13): group shapes and servers that do not rewrite `member`
 * values. Against the shared slapd; a server without refint is played by putting the old DN back
 * into the group right after the rename (what a group that refint does not cover keeps).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEdgeNames, type PollerTest, setupPollerTest, userOps } from './poller-support.ts';

describe('real directories', () => {
  let t: PollerTest;
  const { remember, edges } = createEdgeNames();
  async function run(full = false) {
    const r = await t.run({ full });
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.events?.summary.status, 'succeeded', r.events?.summary.reason ?? '');
    remember(r.events);
    return r.events;
  }
  async function members(groupDn: string): Promise<string[]> {
    const { searchEntries } = await t.ldap.client.search(groupDn, { scope: 'base', attributes: ['member'] });
    const value = searchEntries[0]?.member ?? [];
    return (Array.isArray(value) ? value : [value]).map((v) => String(v).toLowerCase());
  }
  /** Renames `dn`, waits for refint, then lists the old DN again in `groupDn`: a server without refint. */
  async function renameWithoutRefint(dn: string, newRdn: string, groupDn: string, others: readonly string[]): Promise<string> {
    const newDn = `${newRdn},${dn.slice(dn.indexOf(',') + 1)}`;
    await t.ldap.client.modifyDN(dn, newRdn);
    const deadline = Date.now() + 15_000;
    while (!(await members(groupDn)).includes(newDn.toLowerCase())) {
      assert.ok(Date.now() < deadline, 'refint did not rewrite the group');
      await sleep(50);
    }
    await t.ldap.modify(groupDn, { member: [...others, dn] });
    return newDn;
  }

  before(async () => {
    t = await setupPollerTest('real-dirs');
  });
  after(async () => {
    await t?.cleanup();
  });

  it("uniqueMember values in NameAndOptionalUID form (dn#'0101'B) name the DN's entry", async () => {
    const una = await t.ldap.addUser('una');
    const uno = await t.ldap.addUser('uno');
    await t.ldap.client.add(`cn=uniq,${t.ldap.groupsDn}`, {
      objectClass: ['top', 'groupOfUniqueNames'],
      cn: 'uniq',
      uniqueMember: [`${una}#'0101'B`, uno],
    });
    const first = await run(true);
    assert.deepEqual(edges(first), ['added:uniq<-una', 'added:uniq<-uno']);
    await t.ldap.modify(`cn=uniq,${t.ldap.groupsDn}`, { uniqueMember: [`${uno}#'1'B`] });
    assert.deepEqual(edges(await run()), ['removed:uniq<-una']);
    assert.deepEqual(edges(await run(true)), []);
  });

  it('without refint, the old DN of a renamed member is tolerated in the pass that saw the rename only (delta)', async () => {
    const amy = await t.ldap.addUser('amy');
    const ben = await t.ldap.addUser('ben');
    const crew = await t.ldap.addGroup('crew', [amy, ben]);
    assert.deepEqual(edges(await run()), ['added:crew<-amy', 'added:crew<-ben']);
    await renameWithoutRefint(ben, 'uid=benny', crew, [amy]);
    const renamed = await run();
    assert.deepEqual(userOps(renamed), ['renamed:benny']);
    assert.deepEqual(edges(renamed), [], 'the pass that saw the rename keeps the member');
    assert.deepEqual(edges(await run()), ['removed:crew<-benny'], 'the next pass: the old DN names no entry');
    assert.deepEqual(edges(await run(true)), []);
    assert.deepEqual(edges(await run()), []);
  });

  it('a uniqueMember value with a UID (refint leaves it alone) names a renamed member in that pass only, by deltas too', async () => {
    const eve = await t.ldap.addUser('eve');
    const fay = await t.ldap.addUser('fay');
    const club = `cn=club,${t.ldap.groupsDn}`;
    await t.ldap.client.add(club, { objectClass: ['top', 'groupOfUniqueNames'], cn: 'club', uniqueMember: [`${eve}#'01'B`, fay] });
    assert.deepEqual(edges(await run()), ['added:club<-eve', 'added:club<-fay']);
    await t.ldap.client.modifyDN(eve, 'uid=evelyn');
    const renamed = await run();
    assert.deepEqual(userOps(renamed), ['renamed:evelyn']);
    assert.deepEqual(edges(renamed), []);
    assert.deepEqual(edges(await run()), ['removed:club<-evelyn'], 'the delta re-reads the group by ID');
    assert.deepEqual(edges(await run(true)), []);
  });

  it('without refint, the old DN of a renamed member is tolerated in the pass that saw the rename only (full)', async () => {
    const cat = await t.ldap.addUser('cat');
    const dan = await t.ldap.addUser('dan');
    const band = await t.ldap.addGroup('band', [cat, dan]);
    assert.deepEqual(edges(await run(true)), ['added:band<-cat', 'added:band<-dan']);
    await renameWithoutRefint(cat, 'uid=cathy', band, [dan]);
    const renamed = await run(true);
    assert.deepEqual(userOps(renamed), ['renamed:cathy']);
    assert.deepEqual(edges(renamed), []);
    assert.deepEqual(edges(await run(true)), ['removed:band<-cathy'], 'poller --once --full after the rename pass');
    assert.deepEqual(edges(await run(true)), []);
  });
});

describe('timestamp deltas: the removal check', () => {
  it('a delta sees a deletion and a user leaving the filter (and does not without the check)', async () => {
    const t = await setupPollerTest('ts-removal');
    try {
      const filter = '(&(objectClass=inetOrgPerson)(!(employeeType=gone)))';
      const overrides = (removalCheck: boolean) => ({ users: { filter }, schedule: { delta: 'timestamp', removalCheck } });
      const a = await t.ldap.addUser('tra');
      const b = await t.ldap.addUser('trb');
      await t.ldap.addUser('trc');
      const first = await t.run({ overrides: overrides(true) });
      assert.equal(first.ok, true, first.reason);
      await t.ldap.client.del(a);
      await t.ldap.modify(b, { employeeType: 'gone' });
      const without = await t.run({ overrides: overrides(false) });
      assert.equal(without.result?.mode, 'delta');
      assert.deepEqual(userOps(without.events), [], 'a timestamp query cannot list them');
      const delta = await t.run({ overrides: overrides(true) });
      assert.equal(delta.ok, true, delta.reason);
      assert.equal(delta.result?.mode, 'delta');
      const reasons = (delta.events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}:${e.state.disabledReason}`).sort();
      assert.deepEqual(reasons, ['disabled:tra:removed-from-directory', 'disabled:trb:outside-filter']);
      assert.deepEqual(userOps((await t.run({ overrides: overrides(true) })).events), []);
    } finally {
      await t.cleanup();
    }
  });
});

describe('users.attributes.modified', () => {
  it('is the attribute a timestamp delta compares', async () => {
    const t = await setupPollerTest('ts-marker');
    try {
      // createTimestamp as the marker: a later modification does not move it, a new entry has one.
      const overrides = { users: { attributes: { modified: 'createTimestamp' } }, schedule: { delta: 'timestamp' } };
      const a = await t.ldap.addUser('tma');
      // Created further back than the delta's overlap (2 s) before the cursor.
      await new Promise((resolve) => setTimeout(resolve, 3_100));
      assert.equal((await t.run({ overrides })).ok, true);
      await t.ldap.modify(a, { title: 'Boss' });
      await t.ldap.addUser('tmb');
      const delta = await t.run({ overrides });
      assert.equal(delta.result?.mode, 'delta');
      assert.deepEqual(userOps(delta.events), ['created:tmb'], 'the modification is not seen through createTimestamp');
      const full = await t.run({ overrides, full: true });
      assert.deepEqual(userOps(full.events), ['updated:tma']);
    } finally {
      await t.cleanup();
    }
  });
});

describe('"synchronize only groups" on delta passes', () => {
  it('a user removed from the last synced group is disabled by the next delta, and comes back', async () => {
    const t = await setupPollerTest('og-delta');
    try {
      const overrides = { policies: { onlyGroupMembers: true } };
      const a = await t.ldap.addUser('oda');
      const b = await t.ldap.addUser('odb');
      const g = await t.ldap.addGroup('members', [a, b]);
      const first = await t.run({ overrides });
      assert.equal(first.ok, true, first.reason);
      await t.ldap.modify(g, { member: [a] });
      const out = await t.run({ overrides });
      assert.equal(out.result?.mode, 'delta');
      assert.deepEqual(
        (out.events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}:${e.state.disabledReason}`),
        ['disabled:odb:not-in-synced-group'],
      );
      const c = await t.ldap.addUser('odc');
      const created = await t.run({ overrides });
      assert.deepEqual(
        (created.events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}`),
        ['created:odc', 'disabled:odc'],
      );
      await t.ldap.modify(g, { member: [a, b, c] });
      const back = await t.run({ overrides });
      assert.equal(back.result?.mode, 'delta');
      assert.deepEqual(userOps(back.events), ['enabled:odb', 'enabled:odc']);
    } finally {
      await t.cleanup();
    }
  });
});
