/**
 * Group → role grants through the real pipeline (issue 13, item 7): bound to the group's identity,
 * following renames; a configured name carried by several groups grants nothing until one remains.
 * The poller decides the bindings once per pass; the last test applies the events it produced in
 * other partition orders, and only the last event of each group (what a replay of the compacted
 * topics reads), and gets the same grants.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApplyInput, applyBatch, type Database, migrate, openDatabase, syncConfiguration } from '@dirstream/applier';
import { createCodec, type GroupEvent, type MembershipEvent, recordTypeOfTopic, topicNames, type UserEvent } from '@dirstream/events';
import { createKafka, createTestDatabase, type ReadRecord, readTopics } from '@dirstream/testing';
import { createPipeline, describeResult, type Pipeline } from '../support/pipeline.ts';

let pipeline: Pipeline;
before(async () => {
  pipeline = await createPipeline({
    label: 'roles',
    profile: { policies: { groupRoles: { admins: ['admin'], ops: ['operator'], Staff: ['staff'], leads: ['lead'] } } },
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

const ROLES_QUERY = 'select login_name, role from user_effective_roles where profile_id = $1 order by login_name, role';

async function roles(): Promise<string[]> {
  const rows = await pipeline.query<{ login_name: string; role: string }>(ROLES_QUERY, [pipeline.profileId]);
  return rows.map((r) => `${r.login_name}:${r.role}`);
}

async function leads(): Promise<string[]> {
  return (await roles()).filter((r) => r.endsWith(':lead'));
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

test('bindings decided per pass: the same after any partition order and after a replay of the last events', async () => {
  const { ldap } = pipeline;
  const west = `ou=west,${ldap.groupsDn}`;
  await ldap.client.add(west, { objectClass: ['top', 'organizationalUnit'], ou: 'west' });
  const eve = await ldap.addUser('eve');
  const fay = await ldap.addUser('fay');
  const gus = await ldap.addUser('gus');
  const first = await ldap.addGroup('leads', [eve]);
  await sync();
  assert.deepEqual(await leads(), ['eve:lead'], 'one group carries the name: bound');
  const second = await ldap.addGroup('leads', [fay], west);
  await sync();
  assert.deepEqual(await leads(), ['eve:lead'], 'a second carrier: the bound group keeps the name');

  // One pass: the bound group deleted, the other carrier renamed away (oracle seed 599961736).
  await ldap.client.del(first);
  await ldap.client.modifyDN(second, `cn=west-leads,${west}`);
  await sync();
  assert.deepEqual(await leads(), [], 'the bound group gone and nobody carries the name: unbound');

  // One pass: two groups take the name before it is bound.
  const third = await ldap.addGroup('leads', [gus]);
  await ldap.client.modifyDN(`cn=west-leads,${west}`, `cn=Leads,${west}`);
  await sync();
  assert.deepEqual(await leads(), [], 'two carriers, unbound: nobody');
  await ldap.client.del(third);
  await sync();
  assert.deepEqual(await leads(), ['fay:lead'], 'one carrier left: bound');

  // One pass: the bound group deleted while another group is renamed to the name.
  const crew = await ldap.addGroup('crew', [eve, gus]);
  await sync();
  await ldap.client.del(`cn=Leads,${west}`);
  await ldap.client.modifyDN(crew, `cn=leads,${ldap.groupsDn}`);
  await sync(true);
  assert.deepEqual(await leads(), ['eve:lead', 'gus:lead'], 'the group renamed to the name takes it');

  const live = await roles();
  const names = topicNames(pipeline.prefix);
  const records = await readTopics(createKafka(pipeline.infra), [names.users, names.memberships, names.groups]);
  const codec = createCodec();
  const decode = <T>(r: ReadRecord): T =>
    codec.decode(recordTypeOfTopic(r.topic, pipeline.prefix) ?? 'group-event', r.value as Buffer) as T;
  const valued = records.filter((r) => r.value !== null);
  const entities: ApplyInput = {
    users: valued.filter((r) => r.topic === names.users).map((r) => decode<UserEvent>(r)),
    memberships: valued.filter((r) => r.topic === names.memberships).map((r) => decode<MembershipEvent>(r)),
    groups: [],
    syncRuns: [],
  };
  const partitions = new Map<number, GroupEvent[]>();
  for (const r of valued.filter((r) => r.topic === names.groups)) {
    partitions.set(r.partition, [...(partitions.get(r.partition) ?? []), decode<GroupEvent>(r)]);
  }
  assert.ok(partitions.size > 1, `the groups spread over several partitions (${partitions.size})`);
  const ascending = [...partitions.keys()].sort((a, b) => a - b);
  // Per-partition order kept, as Kafka keeps it; the partitions one after the other, or interleaved.
  const oneAfterAnother = ascending.flatMap((p) => partitions.get(p) ?? []);
  const interleaved: GroupEvent[] = [];
  const queues = [...ascending].reverse().map((p) => [...(partitions.get(p) ?? [])]);
  while (queues.some((q) => q.length > 0)) for (const q of queues) if (q.length > 0) interleaved.push(q.shift() as GroupEvent);
  // What a replay reads once the topic is compacted: each group's last event only.
  const last = new Map<string, GroupEvent>();
  for (const e of oneAfterAnother) last.set(e.externalId, e);
  const compacted = [...last.values()].reverse();

  for (const [label, order] of [
    ['partitions one after another', oneAfterAnother],
    ['partitions interleaved, last first', interleaved],
    ['replay of the last event per group', compacted],
  ] as const) {
    assert.deepEqual(await applyInto(entities, order), live, `${label}: the same grants as the live database`);
  }
});

/**
 * An empty database migrated and configured like the pipeline's, the users and memberships applied,
 * then the group events in the given order, each in its own transaction (as partitions apply).
 */
async function applyInto(entities: ApplyInput, groups: readonly GroupEvent[]): Promise<string[]> {
  const database = await createTestDatabase(pipeline.infra, 'roles-order');
  let db: Database | null = null;
  try {
    const config = { ...pipeline.config, database: { ...pipeline.config.database, url: database.url } };
    await migrate({ config });
    db = await openDatabase(config, { poolSize: 1 });
    await syncConfiguration(db, config);
    const ctx = {
      profiles: new Map([[pipeline.profileId, { conflictPolicy: config.profiles[0]?.policies.conflictPolicy ?? 'skip' }]]),
      announce: false,
      now: Date.now(),
    };
    await db.transaction((sql) => applyBatch(sql, entities, ctx));
    for (const group of groups)
      await db.transaction((sql) => applyBatch(sql, { users: [], memberships: [], syncRuns: [], groups: [group] }, ctx));
    const rows = await db.query<{ login_name: string; role: string }>(ROLES_QUERY, [pipeline.profileId]);
    return rows.map((r) => `${r.login_name}:${r.role}`);
  } finally {
    await db?.close();
    await database.drop();
  }
}
