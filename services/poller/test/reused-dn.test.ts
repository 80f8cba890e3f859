/**
 * A DN taken again in one delta (found by the convergence oracle with seed 1234567): on a server
 * without refint, a group keeps listing the DN of a group that was deleted; when another group is
 * renamed into that DN, the group names it now (DESIGN invariant 9), though nothing marks the
 * listing group as changed. A delta re-reads the groups naming a DN a group took in the pass, and
 * those naming a DN or login a user took (renamed into the value of a deleted user).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@dirstream/testing';
import { createSlapd, slapdInstance, startSlapd, stopSlapd } from '../../../infra/local/openldap.ts';
import { createEdgeNames, type PollerTest, setupPollerTest } from './poller-support.ts';

describe('a group DN taken again in one delta, on a server without refint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dirstream-reused-dn-'));
  let stopSlapdInstance: () => Promise<void> = async () => undefined;
  let t: PollerTest;
  const { remember, edges } = createEdgeNames();

  before(async () => {
    const instance = slapdInstance({ dir: join(dir, 'slapd'), port: await freePort(), overlays: { accesslog: false, refint: false } });
    await createSlapd(instance);
    await startSlapd(instance);
    stopSlapdInstance = async () => {
      await stopSlapd(instance);
    };
    t = await setupPollerTest('reused-dn', { openldap: instance });
  });
  after(async () => {
    await t?.cleanup();
    await stopSlapdInstance().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(full = false) {
    const r = await t.run({ full });
    assert.equal(r.ok, true, r.reason);
    assert.equal(r.events?.summary.status, 'succeeded', r.events?.summary.reason ?? '');
    remember(r.events);
    return r.events;
  }

  it('the group still listing the deleted group names the group renamed into its DN', async () => {
    const ann = await t.ldap.addUser('ann');
    const leads = await t.ldap.addGroup('leads', [ann]);
    const crew = await t.ldap.addGroup('crew', [ann]);
    await t.ldap.addGroup('club', [leads]);
    assert.deepEqual(edges(await run(true)), ['added:club<-leads', 'added:crew<-ann', 'added:leads<-ann']);

    // One pass: leads deleted (club keeps the value: no refint), crew renamed into its DN.
    await t.ldap.client.del(leads);
    await t.ldap.client.modifyDN(crew, 'cn=leads');
    const delta = await run();
    assert.equal(delta?.summary.mode, 'delta');
    const renamed = delta?.groups.find((g) => g.op === 'renamed');
    const removed = delta?.groups.find((g) => g.op === 'removed');
    assert.ok(renamed && removed, 'crew renamed and leads removed in the pass');
    // Both are called leads now: by IDs, the edge added is club <- crew.
    const byId = (delta?.memberships ?? []).map(
      (e) =>
        `${e.op}:${e.groupId === removed.externalId ? 'old' : e.groupId === renamed.externalId ? 'crew' : 'club'}<-${e.memberId === removed.externalId ? 'old' : e.memberId === renamed.externalId ? 'crew' : 'ann'}`,
    );
    assert.deepEqual(byId.sort(), ['added:club<-crew', 'removed:club<-old', 'removed:old<-ann']);
    assert.deepEqual(edges(await run(true)), [], 'a full pass agrees');
  });

  it('a full pass: a group listing a DN that a deleted group held and another took in the pass names the new holder', async () => {
    const bea = await t.ldap.addUser('bea');
    const old = await t.ldap.addGroup('old', [bea]);
    const taker = await t.ldap.addGroup('taker', [bea]);
    await run(true);
    // One pass: old deleted (still present in the state until the pass's removals), taker renamed
    // into its DN, and a new group listing that DN.
    await t.ldap.client.del(old);
    await t.ldap.client.modifyDN(taker, 'cn=old');
    await t.ldap.addGroup('fresh', [old]);
    const full = await run(true);
    const renamed = full?.groups.find((g) => g.op === 'renamed');
    const removed = full?.groups.find((g) => g.op === 'removed');
    const fresh = full?.groups.find((g) => g.op === 'created');
    assert.ok(renamed && removed && fresh, 'taker renamed, old removed, fresh created');
    const name = (id: string) =>
      id === removed.externalId ? 'old' : id === renamed.externalId ? 'taker' : id === fresh.externalId ? 'fresh' : 'bea';
    const byId = (full?.memberships ?? []).map((e) => `${e.op}:${name(e.groupId)}<-${name(e.memberId)}`);
    assert.deepEqual(byId.sort(), ['added:fresh<-taker', 'removed:old<-bea']);
  });

  it('a user renamed into a DN a group still lists (deleted user, no refint) is a member after the delta', async () => {
    const cat = await t.ldap.addUser('cat');
    const dan = await t.ldap.addUser('dan');
    await t.ldap.addGroup('pals', [dan]);
    await run(true);
    // dan deleted: pals keeps dan's DN (no refint), a dangling value from now on.
    await t.ldap.client.del(dan);
    const gone = await run();
    assert.equal(gone?.summary.mode, 'delta');
    assert.ok(
      gone?.users.some((u) => u.op === 'disabled' && u.state.disabledReason === 'removed-from-directory'),
      'dan removed in the delta',
    );
    // cat renamed into dan's old DN: pals names cat now, though pals itself did not change.
    await t.ldap.client.modifyDN(cat, 'uid=dan');
    const delta = await run();
    assert.equal(delta?.summary.mode, 'delta');
    const renamed = delta?.users.find((u) => u.op === 'renamed' || u.op === 'moved');
    assert.ok(renamed, 'cat renamed in the delta');
    const pals = (delta?.memberships ?? []).filter((e) => e.memberId === renamed.externalId);
    assert.deepEqual(
      pals.map((e) => e.op),
      ['added'],
      'the edge pals <- cat is added by the delta',
    );
    assert.deepEqual(edges(await run(true)), [], 'a full pass agrees');
  });
});
