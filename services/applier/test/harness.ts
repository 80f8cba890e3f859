import type { DirstreamConfig } from '@dirstream/config';
import type { DeadLetterEvent, GroupEvent, MembershipEvent, SyncRunEvent, UserEvent, UserLifecycleEvent } from '@dirstream/events';
import { createCodec, membershipKey, syncRunKey, topicNames, userKey } from '@dirstream/events';
import { createIdempotentProducer, ensureTopics } from '@dirstream/kafka';
import { createLogger, createSilentLogger, type Logger } from '@dirstream/logging';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, readTopics, type TestDatabase, uniquePrefix } from '@dirstream/testing';
import type { Kafka, Producer } from 'kafkajs';
import { runApplier, type RunApplierResult } from '@dirstream/applier';
import { testConfig } from './fixtures.ts';

export const codec = createCodec();

export function testLogger(): Logger {
  return process.env.APPLIER_TEST_LOG === undefined
    ? createSilentLogger()
    : createLogger({ name: 'applier-test', level: process.env.APPLIER_TEST_LOG });
}

export type Harness = {
  readonly prefix: string;
  readonly database: TestDatabase;
  readonly config: DirstreamConfig;
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly topics: ReturnType<typeof topicNames>;
  /** Another empty database (for replays). */
  newDatabase(label: string): Promise<TestDatabase>;
  produceUsers(events: readonly UserEvent[]): Promise<void>;
  produceGroups(events: readonly GroupEvent[]): Promise<void>;
  produceMemberships(events: readonly MembershipEvent[]): Promise<void>;
  produceSyncRuns(events: readonly SyncRunEvent[]): Promise<void>;
  produceRaw(topic: string, key: string | null, value: Buffer | null): Promise<void>;
  /** Runs an applier until its group has no lag; fails the test on a bad result or after timeoutMs. */
  applyUntilCaughtUp(
    config?: DirstreamConfig,
    options?: { replay?: boolean; groupId?: string; timeoutMs?: number },
  ): Promise<RunApplierResult>;
  readLifecycle(): Promise<UserLifecycleEvent[]>;
  readDeadLetters(): Promise<DeadLetterEvent[]>;
  close(): Promise<void>;
};

export async function createHarness(label: string, overrides: Partial<Parameters<typeof testConfig>[0]> = {}): Promise<Harness> {
  const infra = loadInfra();
  const prefix = uniquePrefix(label);
  const database = await createTestDatabase(infra, label);
  const extraDatabases: TestDatabase[] = [];
  const config = testConfig({ databaseUrl: database.url, brokers: infra.kafka.brokers, prefix, ...overrides });
  const kafka = createKafka(infra, `${prefix}-test`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { prefix, partitions: config.kafka.partitions });
  await admin.disconnect();
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const topics = topicNames(prefix);

  const send = async (topic: string, messages: { key: string; value: Buffer }[]) => {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  };

  return {
    prefix,
    database,
    config,
    kafka,
    producer,
    topics,
    async newDatabase(name) {
      const db = await createTestDatabase(infra, name);
      extraDatabases.push(db);
      return db;
    },
    produceUsers: (events) =>
      send(
        topics.users,
        events.map((e) => ({ key: userKey(e.profileId, e.externalId), value: codec.encode('user-event', e) })),
      ),
    produceGroups: (events) =>
      send(
        topics.groups,
        events.map((e) => ({ key: userKey(e.profileId, e.externalId), value: codec.encode('group-event', e) })),
      ),
    produceMemberships: (events) =>
      send(
        topics.memberships,
        events.map((e) => ({
          key: membershipKey(e.profileId, e.groupId, e.memberId),
          value: codec.encode('membership-event', e),
        })),
      ),
    produceSyncRuns: (events) =>
      send(
        topics.syncRuns,
        events.map((e) => ({ key: syncRunKey(e.profileId), value: codec.encode('sync-run', e) })),
      ),
    async produceRaw(topic, key, value) {
      await producer.send({ topic, acks: -1, messages: [{ key, value }] });
    },
    async applyUntilCaughtUp(cfg = config, options = {}) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 90_000);
      try {
        const result = await runApplier(
          { config: cfg, logger: testLogger(), signal: controller.signal },
          {
            untilCaughtUp: true,
            ...(options.replay === undefined ? {} : { replay: options.replay }),
            ...(options.groupId === undefined ? {} : { groupId: options.groupId }),
          },
        );
        if (controller.signal.aborted) throw new Error('applier did not catch up in time');
        return result;
      } finally {
        clearTimeout(timer);
      }
    },
    async readLifecycle() {
      const records = await readTopics(kafka, [topics.userLifecycle]);
      return records.map((r) => codec.decode('user-lifecycle', r.value ?? Buffer.alloc(0)));
    },
    async readDeadLetters() {
      const records = await readTopics(kafka, [topics.deadLetters]);
      return records.map((r) => codec.decode('dead-letter', r.value ?? Buffer.alloc(0)));
    },
    async close() {
      await producer.disconnect();
      const cleanupAdmin = kafka.admin();
      await cleanupAdmin.connect();
      await deleteTopics(cleanupAdmin, prefix).catch(() => undefined);
      await cleanupAdmin.disconnect();
      for (const db of [database, ...extraDatabases]) await db.drop().catch(() => undefined);
    },
  };
}
