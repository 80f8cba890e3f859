import { fetchTopicEnds, kafkaClientConfig } from '@dirstream/kafka';
import { type Admin, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import type { Infra } from './infra.ts';
import { uniquePrefix } from './unique.ts';

/** A client configured as the services' (packages/kafka), silent: tests assert, they do not read kafkajs' logs. */
export function createKafka(infra: Infra, clientId = 'dirstream-test'): Kafka {
  return new Kafka({ ...kafkaClientConfig({ brokers: infra.kafka.brokers, clientId, ssl: false }), logLevel: logLevel.NOTHING });
}

/** Deletes every topic whose name starts with `prefix.` (test clean-up). */
export async function deleteTopics(admin: Admin, prefix: string): Promise<void> {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
}

export type ReadRecord = {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: KafkaMessage['headers'];
};

/**
 * Reads `topics` from the beginning until every partition's end (as of the call) was reached:
 * a complete snapshot of what is on the topics now, in per-partition order.
 */
export async function readTopics(kafka: Kafka, topics: readonly string[], options: { timeoutMs?: number } = {}): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const p of await fetchTopicEnds(admin, topic)) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([k]) => k));
  const records: ReadRecord[] = [];
  if (pending.size === 0) return records;
  const consumer = kafka.consumer({ groupId: uniquePrefix('reader'), allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`readTopics: timed out with partitions still unread: ${[...pending].join(', ')}`)),
        options.timeoutMs ?? 30_000,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const id = `${topic}/${partition}`;
            const high = ends.get(id) ?? 0n;
            if (BigInt(message.offset) < high) {
              records.push({ topic, partition, offset: message.offset, key: message.key, value: message.value, headers: message.headers });
            }
            if (BigInt(message.offset) + 1n >= high && pending.delete(id) && pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
