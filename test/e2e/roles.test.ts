/**
 * Group → role grants through the real pipeline (issue 13, item 7): bound to the group's identity,
 * following renames; a configured name carried by several groups grants nothing until one remains.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

let pipeline: Pipeline;
before(async () => {
  pipeline = await createPipeline({
    label: 'roles',
    profile: { policies: { groupRoles: { admins: ['admin'], ops: ['operator'], Staff: ['staff'] } } },
  });
});
after(async () => {
  await pipeline?.cleanup();
});

async function sync(full = false): Promise<string> {
  const polled = await pipeline.runPoller(full ? ['--full'] : []);
  assert.equal(polled.code, 0, describeResult(polled));
  await pipeline.applyUntilCaughtUp();
  return polled.stdout + polled.stderr;
}

async function roles(): Promise<string[]> {
  const rows = await pipeline.query<{ login_name: string; role: string }>(
    'select login_name, role from user_effective_roles where profile_id = $1 order by login_name, role',
    [pipeline.profileId],
  );
  return rows.map((r) => `${r.login_name}:${r.role}`);
}

test('a role follows its group through a rename; a new group taking the old name grants nothing', async () => {
  const { ldap } = pipeline;
  const ann = await ldap.addUser('ann');
  const bob = await ldap.addUser('bob');
  const admins = await ldap.addGroup('admins', [ann]);
  await ldap.addGroup('staff', [ann, bob]); // configured as "Staff": names match case-insensitively
  await sync(true);
  assert.deepEqual(await roles(), ['ann:admin', 'ann:staff', 'bob:staff']);

  await ldap.client.modifyDN(admins, 'cn=administrators');
  await sync();
  assert.deepEqual(await roles(), ['ann:admin', 'ann:staff', 'bob:staff'], 'renamed: the grant follows the group');

  await ldap.addGroup('admins', [bob]);
  await sync();
  assert.deepEqual(await roles(), ['ann:admin', 'ann:staff', 'bob:staff'], 'the name alone grants nothing once bound');

  await ldap.client.del(`cn=administrators,${ldap.groupsDn}`);
  await sync(true);
  assert.deepEqual(await roles(), ['ann:staff', 'bob:admin', 'bob:staff'], 'the bound group gone: the name binds again');
});

test('a configured name carried by several groups grants nothing, and says so, until one remains', async () => {
  const { ldap } = pipeline;
  const cat = await ldap.addUser('cat');
  const dan = await ldap.addUser('dan');
  await ldap.client.add(`ou=east,${ldap.groupsDn}`, { objectClass: ['top', 'organizationalUnit'], ou: 'east' });
  await ldap.addGroup('ops', [cat]);
  const eastOps = await ldap.addGroup('ops', [dan], `ou=east,${ldap.groupsDn}`);
  const output = await sync(true);
  assert.ok(!(await roles()).some((r) => r.endsWith(':operator')), 'ambiguous: no operator');
  // The poller, which decides the bindings, says so in the pass.
  assert.match(output, /the group name ops names 2 groups; it grants nothing until one group carries that name/);
  await ldap.client.del(eastOps);
  await sync(true);
  assert.ok((await roles()).includes('cat:operator'));
  assert.ok(!(await roles()).includes('dan:operator'));
});
