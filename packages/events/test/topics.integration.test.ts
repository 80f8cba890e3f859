/** ensureTopics (packages/kafka) and the codec against the real broker (npm run infra:up). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isDirstreamError } from '@dirstream/errors';
import { createKafka, deleteTopics, loadInfra, readTopics, uniquePrefix } from '@dirstream/testing';
import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { ensureTopics, TOPIC_CONFIGS } from '@dirstream/kafka';
import { createCodec } from '../src/codec.ts';
import { eventIdFor } from '../src/ids.ts';
import { syncRunKey, userKey } from '../src/keys.ts';
import { TOPIC_KINDS, TOPIC_RECORD_TYPES, topicNames } from '../src/topics.ts';
import { SAMPLES } from './helpers.ts';

const TOPIC_RESOURCE = 2 as ConfigResourceTypes.TOPIC;
const infra = loadInfra();
const kafka = createKafka(infra, 'events-test');
const prefix = uniquePrefix('events');
const names = topicNames(prefix);
const codec = createCodec();
let admin: Admin;

async function describeTopics(topics: readonly string[]): Promise<Map<string, Map<string, string>>> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({ type: TOPIC_RESOURCE, name })),
  });
  return new Map(
    described.resources.map((resource) => [
      resource.resourceName,
      new Map(resource.configEntries.map((entry) => [entry.configName, entry.configValue])),
    ]),
  );
}

before(async () => {
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await deleteTopics(admin, prefix);
  await deleteTopics(admin, `${prefix}-bad`);
  await admin.disconnect();
});

describe('ensureTopics on the real broker', () => {
  it('creates every topic with its config', async () => {
    const result = await ensureTopics(admin, { prefix, partitions: 3, replicationFactor: 1 });
    assert.deepEqual([...result.created].sort(), Object.values(names).sort());
    assert.deepEqual(result.existing, []);

    const metadata = await admin.fetchTopicMetadata({ topics: Object.values(names) });
    for (const topic of metadata.topics) assert.equal(topic.partitions.length, 3, topic.name);

    const configs = await describeTopics(Object.values(names));
    for (const kind of TOPIC_KINDS) {
      const actual = configs.get(names[kind])!;
      for (const [name, value] of Object.entries(TOPIC_CONFIGS[kind])) {
        assert.equal(actual.get(name), value, `${names[kind]} ${name}`);
      }
    }
    for (const kind of ['users', 'groups', 'memberships'] as const) {
      assert.equal(configs.get(names[kind])!.get('cleanup.policy'), 'compact');
    }
    assert.equal(configs.get(names.memberships)!.get('delete.retention.ms'), String(7 * 24 * 3600 * 1000));
    assert.equal(configs.get(names.userLifecycle)!.get('cleanup.policy'), 'delete');
  });

  it('is idempotent', async () => {
    const again = await ensureTopics(admin, { prefix, partitions: 3, replicationFactor: 1 });
    assert.deepEqual(again.created, []);
    assert.equal(again.existing.length, TOPIC_KINDS.length);
  });

  it('refuses an existing topic with another cleanup.policy, naming it', async () => {
    const bad = `${prefix}-bad`;
    const users = topicNames(bad).users;
    // No waitForLeaders: kafkajs' wait fails when the broker it asks has not learnt of the topic
    // yet (UNKNOWN_TOPIC_OR_PARTITION, seen on a loaded machine); ensureTopics waits itself.
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic: users, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }],
    });
    await assert.rejects(
      ensureTopics(admin, { prefix: bad, partitions: 1 }),
      (error: unknown) => isDirstreamError(error, 'EVENT_TOPIC_MISCONFIGURED') && (error as Error).message.includes(users),
    );
  });
});

describe('codec through Kafka', () => {
  it('produces and consumes one event of each type', async () => {
    await ensureTopics(admin, { prefix, partitions: 3, replicationFactor: 1 });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const user = SAMPLES['user-event'];
    const keys: Record<string, string> = {
      'user-event': userKey(user.profileId, user.externalId),
      'group-event': userKey(SAMPLES['group-event'].profileId, SAMPLES['group-event'].externalId),
      'membership-event': `${user.profileId}/g/m`,
      'sync-run': syncRunKey(SAMPLES['sync-run'].profileId),
      'user-lifecycle': userKey(user.profileId, user.externalId),
      'dead-letter': 'original-key',
      'auth-event': 'login:zoe',
      'run-detail': syncRunKey(SAMPLES['run-detail'].profileId),
    };
    try {
      for (const kind of TOPIC_KINDS) {
        const type = TOPIC_RECORD_TYPES[kind];
        await producer.send({
          topic: names[kind],
          acks: -1,
          messages: [{ key: keys[type]!, value: codec.encode(type, SAMPLES[type]) }],
        });
      }
    } finally {
      await producer.disconnect();
    }

    const records = await readTopics(kafka, Object.values(names), { timeoutMs: 60_000 });
    assert.equal(records.length, TOPIC_KINDS.length);
    for (const kind of TOPIC_KINDS) {
      const type = TOPIC_RECORD_TYPES[kind];
      const record = records.find((r) => r.topic === names[kind]);
      assert.ok(record?.value, `nothing read from ${names[kind]}`);
      assert.equal(record.key?.toString(), keys[type]);
      assert.deepStrictEqual(codec.decode(type, record.value), SAMPLES[type]);
    }
  });
});

describe('examples/print-user-lifecycle.ts', () => {
  it('prints each lifecycle event once and skips undecodable records', async () => {
    await ensureTopics(admin, { prefix, partitions: 3, replicationFactor: 1 });
    const base = SAMPLES['user-lifecycle'];
    const enabled = {
      ...base,
      type: 'user-enabled' as const,
      reason: null,
      version: base.version + 1,
      eventId: eventIdFor('user-enabled', base.profileId, base.externalId, base.version + 1),
    };
    const key = userKey(base.profileId, base.externalId);
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic: names.userLifecycle,
        acks: -1,
        messages: [
          { key, value: codec.encode('user-lifecycle', base) },
          { key, value: Buffer.from('not avro') },
          { key, value: codec.encode('user-lifecycle', enabled) },
          // A redelivery: same event ID, printed once.
          { key, value: codec.encode('user-lifecycle', enabled) },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const script = path.resolve(import.meta.dirname, '../examples/print-user-lifecycle.ts');
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [script, '--brokers', infra.kafka.brokers.join(','), '--prefix', prefix, '--from-beginning', '--max-events', '2'],
      { timeout: 60_000 },
    );
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.match(lines[0]!, /user-disabled .*login=zoe reason=removed-from-directory/);
    assert.match(lines[1]!, new RegExp(`user-enabled .*eventId=${enabled.eventId}`));
    assert.match(stderr, /skipped partition \d+ offset \d+: EVENT_DECODE_FAILED/);
  });
});
