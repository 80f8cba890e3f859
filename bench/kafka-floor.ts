/**
 * The Kafka part of the floor: Kafka's own producer performance tool (the kafka-tools jar of the
 * broker's version, from Maven Central) producing as many records of the same average size as the
 * pipeline produced, with acks=all and idempotence, into a topic with the same partition count.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createConsumer, fetchTopicEnds } from '@dirstream/kafka';
import { type Infra, createKafka } from '@dirstream/testing';
import { ensureJars, kafkaOptions } from '../infra/local/kafka.ts';
import { run } from '../infra/local/process.ts';

export type ProducedRecords = { readonly records: number; readonly averageBytes: number };

/** Counts the records on `topics` and their average key + value size (read once, in batches). */
export async function measureProduced(infra: Infra, topics: readonly string[]): Promise<ProducedRecords> {
  const kafka = createKafka(infra, 'bench-floor');
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  let records = 0;
  try {
    for (const topic of topics) {
      for (const p of await fetchTopicEnds(admin, topic)) {
        const count = Number(p.high) - Number(p.low);
        if (count > 0) ends.set(`${topic}/${p.partition}`, BigInt(p.high));
        records += count;
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (records === 0) return { records: 0, averageBytes: 0 };
  const consumer = createConsumer(kafka, { groupId: `bench-floor-${randomUUID()}` });
  let bytes = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('reading the produced records took over 5 minutes')), 300_000);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) bytes += (m.key?.length ?? 0) + (m.value?.length ?? 0);
            const key = `${batch.topic}/${batch.partition}`;
            const end = ends.get(key);
            if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) ends.delete(key);
            if (ends.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return { records, averageBytes: Math.max(1, Math.round(bytes / records)) };
}

/**
 * Seconds Kafka's ProducerPerformance needs for `records` records of `recordBytes` bytes (its own
 * measured rate: JVM start-up is left out, as the pipeline's processes are warm by then).
 */
export async function kafkaProduceSeconds(infra: Infra, produced: ProducedRecords, partitions: number): Promise<number> {
  if (produced.records === 0) return 0;
  const libs = await ensureJars(kafkaOptions(), () => undefined);
  const classpath = join(libs, '*');
  const bootstrap = infra.kafka.brokers.join(',');
  const topic = `bench-floor-${randomUUID().slice(0, 8)}`;
  const quiet = ['-Dlog4j.configuration=file:/dev/null', '-Djava.awt.headless=true'];
  const admin = createKafka(infra, 'bench-floor').admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    const { stdout } = await run('java', [
      ...quiet,
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(produced.records),
      '--record-size',
      String(produced.averageBytes),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      'enable.idempotence=true',
    ]);
    // The summary line: "N records sent, R records/sec (M MB/sec), …".
    const summary = /(\d+) records sent, ([\d.]+) records\/sec/.exec(stdout.trim().split('\n').pop() ?? '');
    if (summary === null) throw new Error(`ProducerPerformance printed no summary: ${stdout.slice(-500)}`);
    return Number(summary[1]) / Number(summary[2]);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}
