/**
 * Two membership cases the convergence oracle found (seeds 1075491027 and 1512601270), pinned as
 * deterministic tests: after each pass the database's direct memberships equal the ones the
 * directory states (read with plain ldapsearch).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { annotate, createModel, firstDifference, readDatabase, snapshotDirectory } from '../support/oracle.ts';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

let pipeline: Pipeline;
before(async () => {
  pipeline = await createPipeline({ label: 'delta-members', profile: { users: { disabledFilter: '(employeeType=inactive)' } } });
});
after(async () => {
  await pipeline?.cleanup();
});

async function syncAndCompare(what: string, full: boolean): Promise<void> {
  const polled = await pipeline.runPoller(full ? ['--full'] : []);
  assert.equal(polled.code, 0, describeResult(polled));
  await pipeline.applyUntilCaughtUp();
  const snapshot = await snapshotDirectory({
    url: pipeline.infra.openldap.url,
    bindDn: pipeline.infra.openldap.adminDn,
    passwordFile: pipeline.passwordFile,
    usersBaseDn: pipeline.ldap.peopleDn,
    groupsBaseDn: pipeline.ldap.groupsDn,
  });
  const model = createModel();
  model.observe(snapshot);
  const expected = model.expected();
  const actual = await readDatabase(pipeline.query, pipeline.profileId);
  // Users that left keep their rows (the model above knows only this snapshot): compare edges only.
  const difference = firstDifference(
    { ...expected, users: new Map(), groups: new Map() },
    { ...actual, users: new Map(), groups: new Map() },
  );
  assert.equal(difference === null ? null : annotate(difference, snapshot, expected), null, `${what} (${full ? 'full' : 'delta'} pass)`);
}

for (const full of [false, true]) {
  test(`a user disabled and renamed in the same ${full ? 'full' : 'delta'} pass keeps its memberships`, async () => {
    const { ldap } = pipeline;
    const suffix = full ? 'f' : 'd';
    const alice = await ldap.addUser(`alice-${suffix}`);
    const bob = await ldap.addUser(`bob-${suffix}`);
    await ldap.addGroup(`team-${suffix}`, [alice, bob]);
    await syncAndCompare('initial', true);

    await ldap.modify(alice, { employeeType: 'inactive' });
    await ldap.client.modifyDN(alice, `uid=alice2-${suffix},${ldap.peopleDn}`);
    // The group changes too, so a delta pass reads it again.
    await ldap.modify(`cn=team-${suffix},${ldap.groupsDn}`, { description: 'changed' });
    await syncAndCompare('after disable + rename', full);
  });
}

test('a user disabled and moved, then added to a new group, in one delta pass is a member (seed 981564565)', async () => {
  const { ldap } = pipeline;
  const sales = `ou=sales,${ldap.peopleDn}`;
  await ldap.client.add(sales, { objectClass: ['top', 'organizationalUnit'], ou: 'sales' });
  const erin = await ldap.addUser('erin');
  const frank = await ldap.addUser('frank');
  await ldap.addGroup('first', [erin, frank]);
  await syncAndCompare('initial', true);

  // The disable is held back until the run's safety decision; the new group names the new DN.
  await ldap.modify(erin, { employeeType: 'inactive' });
  await ldap.client.modifyDN(erin, `uid=erin,${sales}`);
  await ldap.addGroup('second', [`uid=erin,${sales}`, frank]);
  await syncAndCompare('after disable + move + new group', false);
});

test('a user moved out of the users base and back in gets its memberships back in a delta pass', async () => {
  const { ldap } = pipeline;
  const attic = `ou=attic,${ldap.baseDn}`;
  await ldap.client.add(attic, { objectClass: ['top', 'organizationalUnit'], ou: 'attic' });
  const carol = await ldap.addUser('carol');
  const dave = await ldap.addUser('dave');
  await ldap.addGroup('crew', [carol, dave]);
  await syncAndCompare('initial', true);

  await ldap.client.modifyDN(carol, `uid=carol,${attic}`);
  await syncAndCompare('after the move out', false);
  await syncAndCompare('a full pass while outside', true);

  // Refint rewrites crew's member value back without touching crew's modifyTimestamp/entryCSN.
  await ldap.client.modifyDN(`uid=carol,${attic}`, carol);
  await syncAndCompare('after the move back in', false);
});

test('renames read back at once (refint still rewriting the groups) keep their memberships', async () => {
  // slapo-refint rewrites `member` values in a background task after the modrdn returned: a pass
  // right after the renames reads old DNs in the groups. The renamed users are the same members
  // (identity is the entryUUID); removing their edges loses them until the next full pass,
  // because refint's own rewrite moves neither modifyTimestamp nor entryCSN.
  const { ldap } = pipeline;
  const members: string[] = [];
  for (let i = 0; i < 120; i++) members.push(await ldap.addUser(`m${i}`));
  for (let g = 0; g < 6; g++) await ldap.addGroup(`wide${g}`, members);
  await syncAndCompare('initial', true);

  const renamed = await Promise.all(
    members.slice(0, 60).map(async (dn, i) => {
      const next = `uid=moved${i},${ldap.peopleDn}`;
      await ldap.client.modifyDN(dn, next);
      return next;
    }),
  );
  assert.equal(renamed.length, 60);
  const polled = await pipeline.runPoller([]);
  assert.equal(polled.code, 0, describeResult(polled));
  // Let refint finish, then compare: the directory states every edge, the database must too.
  await new Promise((r) => setTimeout(r, 5_000));
  await syncAndCompare('after the renames (delta), refint settled', false);
});
