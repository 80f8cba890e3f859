import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createKafka, deleteTopics, loadInfra, readTopics, uniquePrefix } from '@dirstream/testing';

const infra = loadInfra();
const kafka = createKafka(infra, 'smoke');
const prefix = uniquePrefix('smoke');
const admin = kafka.admin();

after(async () => {
  await deleteTopics(admin, prefix);
  await admin.disconnect();
});

test('produces to and consumes from a fresh topic', async () => {
  await admin.connect();
  const topic = `${prefix}.roundtrip`;
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }), true);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  const records = await readTopics(kafka, [topic]);
  assert.equal(records.length, 30);
  assert.deepEqual(new Set(records.map((r) => r.value?.toString())), new Set(messages.map((m) => m.value)));
  // Same key, same partition, in order.
  const byKey = new Map<string, number[]>();
  for (const r of records) {
    const key = r.key?.toString() ?? '';
    const partitions = new Set(records.filter((x) => x.key?.toString() === key).map((x) => x.partition));
    assert.equal(partitions.size, 1, `key ${key} spread over partitions`);
    byKey.set(key, [...(byKey.get(key) ?? []), Number(r.value?.toString().slice(1))]);
  }
  for (const values of byKey.values())
    assert.deepEqual(
      values,
      [...values].sort((a, b) => a - b),
    );
});

test('the broker refuses to auto-create topics', async () => {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 1 } });
  await producer.connect();
  try {
    await assert.rejects(producer.send({ topic: `${prefix}.never-created`, messages: [{ value: 'x' }] }));
  } finally {
    await producer.disconnect();
  }
  assert.equal((await admin.listTopics()).includes(`${prefix}.never-created`), false);
});
