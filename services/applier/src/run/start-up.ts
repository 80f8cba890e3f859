import type { DirstreamConfig } from '@dirstream/config';
import { retry } from '@dirstream/errors';
import { createIdempotentProducer, createKafkaClient, ensureTopics, type TrackedProducer } from '@dirstream/kafka';
import type { Admin, Kafka } from 'kafkajs';
import { closeDatabase, type Database, migrate, openDatabase } from '../database.ts';
import type { ApplierContext } from './context.ts';

/**
 * Profiles and the group → role mapping from the configuration, written at start. Which group a
 * configured name is bound to is the poller's decision, carried by the group events
 * (`groups.role_bindings`); the poller also reports a name that several groups carry.
 */
export async function syncConfiguration(db: Database, config: DirstreamConfig): Promise<void> {
  await db.transaction(async (sql) => {
    await sql.query('select pg_advisory_xact_lock(7340002)');
    for (const profile of config.profiles) {
      await sql.query(
        `insert into sync_profiles (id, name, directory_type, conflict_policy, updated_at) values ($1, $2, $3, $4, now())
         on conflict (id) do update set name = excluded.name, directory_type = excluded.directory_type,
           conflict_policy = excluded.conflict_policy, updated_at = now()`,
        [profile.id, profile.name, profile.directory, profile.policies.conflictPolicy],
      );
      const mapping = Object.entries(profile.policies.groupRoles).flatMap(([group, roles]) =>
        roles.map((role) => ({ group_name: group, role })),
      );
      await sql.query(
        `insert into app_roles (name) select distinct r.role from jsonb_to_recordset($1::jsonb) as r(group_name text, role text)
         on conflict do nothing`,
        [JSON.stringify(mapping)],
      );
      await sql.query('delete from group_roles where profile_id = $1', [profile.id]);
      await sql.query(
        `insert into group_roles (profile_id, group_name, role)
         select distinct $1::uuid, r.group_name, r.role from jsonb_to_recordset($2::jsonb) as r(group_name text, role text)`,
        [profile.id, JSON.stringify(mapping)],
      );
    }
  });
}

async function isDatabaseEmpty(db: Database): Promise<boolean> {
  const rows = await db.query<{
    used: boolean;
  }>(`select (exists (select 1 from users where profile_id is not null) or exists (select 1 from groups)
             or exists (select 1 from memberships) or exists (select 1 from outbox)) as used`);
  return rows[0]?.used === false;
}

export type Started = {
  readonly db: Database;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly producer: TrackedProducer;
};

/**
 * Migrations, the database, the configuration, topics and the producer. Each step waits out an
 * outage (database or broker down) like the apply loop does. `cleanups` receives what to undo on
 * the way out; a string is a refusal to start (the reason).
 */
export async function startUp(
  ctx: ApplierContext,
  options: { readonly replay: boolean },
  cleanups: (() => Promise<void>)[],
): Promise<Started | string> {
  const { config, log } = ctx;
  const patiently = <T>(step: string, fn: () => Promise<T>): Promise<T> =>
    retry(fn, {
      signal: ctx.stopping,
      baseMs: 500,
      maxMs: 10_000,
      onRetry: (err, attempt) => log.warn({ err, step, attempt }, 'applier start-up step failed; retrying'),
    });
  await patiently('migrate', () => migrate({ config, logger: log }));
  const db = await openDatabase(config);
  cleanups.push(() => closeDatabase(db));

  if (options.replay && !(await patiently('replay check', () => isDatabaseEmpty(db)))) {
    return 'replay needs an empty database (directory users, groups, memberships or outbox rows exist)';
  }
  await patiently('configuration', () => syncConfiguration(db, config));

  const kafka = createKafkaClient(config.kafka, log);
  const admin: Admin = kafka.admin();
  await patiently('kafka admin', () => admin.connect());
  cleanups.push(() => admin.disconnect());
  await patiently('topics', () =>
    ensureTopics(admin, {
      prefix: config.kafka.topicPrefix,
      partitions: config.kafka.partitions,
      replicationFactor: config.kafka.replicationFactor,
      minInsyncReplicas: config.kafka.minInsyncReplicas,
    }),
  );

  // The Java-compatible murmur2 partitioner (packages/kafka): the same key lands where other
  // clients put it. Tracked: the outbox relay checks that every partition of a send was
  // acknowledged (sendAcknowledged).
  const producer = createIdempotentProducer(kafka);
  await patiently('kafka producer', () => producer.connect());
  cleanups.push(() => producer.disconnect());
  return { db, kafka, admin, producer };
}
