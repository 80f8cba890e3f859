/**
 * Tracing off costs nothing measurable: the poller's produce path (encode, size checks, chunking,
 * the acknowledged send, over a producer that acknowledges at once, so Kafka is not what is
 * measured) before tracing existed (the sink of commit e903c81), with tracing off, and with tracing
 * on (spans exported to nowhere); and the applier's path around its transaction (a no-op apply):
 * off, on. Prints a table; asserts nothing.
 *
 *   ./node_modules/.bin/node bench/tracing.ts [--batches 200] [--size 1000] [--rounds 5]
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCodec, topicNames, type UserEvent } from '@dirstream/events';
import type { TrackedProducer } from '@dirstream/kafka';
import { createTracing, type Tracing, TRACING_OFF } from '@dirstream/tracing';
import type { ExportResult } from '@opentelemetry/core';
import type { KafkaMessage } from 'kafkajs';
import { SAMPLES } from '../packages/events/test/helpers.ts';
import { applyTraced } from '../services/applier/src/run/consume.ts';
import type { ApplierContext } from '../services/applier/src/run/context.ts';
import type { Item } from '../services/applier/src/run/decode.ts';
import { toInput } from '../services/applier/src/run/decode.ts';
import { createKafkaSink, type EventBatch } from '../services/poller/src/delivery/sink.ts';

const { values } = parseArgs({ options: { batches: { type: 'string' }, size: { type: 'string' }, rounds: { type: 'string' } } });
const BATCHES = Number(values.batches ?? 200);
const SIZE = Number(values.size ?? 1000);
const ROUNDS = Number(values.rounds ?? 5);

/** Acknowledges every record at once on partition 0. */
const producer = {
  tracker: { createPartitioner: () => () => 0, partitionOf: () => 0 },
  send: async (record: { topic: string }) => [{ topicName: record.topic, partition: 0, errorCode: 0 }],
} as unknown as TrackedProducer;

const codec = createCodec();
const topics = topicNames('bench');
const sample = SAMPLES['user-event'] as UserEvent;
const batches: EventBatch[] = Array.from({ length: BATCHES }, (_, b) => ({
  users: Array.from({ length: SIZE }, (_, i) => ({ ...sample, externalId: `u-${b}-${i}`, eventId: `e-${b}-${i}` })),
  groups: [],
  memberships: [],
}));

const nowhere = { export: (_spans: unknown, done: (r: ExportResult) => void) => done({ code: 0 }), shutdown: async () => {} };

type Sink = { send(batch: EventBatch): Promise<unknown> };

/** Runs every variant once per round, interleaved (so load from elsewhere hits all alike); medians in ms. */
async function timeInterleaved(variants: readonly (() => Promise<void>)[]): Promise<number[]> {
  for (const run of variants) await run(); // warm-up
  const runs: number[][] = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, run] of variants.entries()) {
      const started = process.hrtime.bigint();
      await run();
      runs[i]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return runs.map((xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number);
}

const pollerRun = (sink: Sink) => async () => {
  for (const batch of batches) await sink.send(batch);
};

function applierRun(tracing: Tracing): () => Promise<void> {
  const ctx = { tracing } as ApplierContext;
  const items: Item[] = batches[0]!.users.map((event) => ({
    kind: 'user',
    event,
    message: { key: Buffer.from(`${event.profileId}/${event.externalId}`), value: null, headers: {} } as unknown as KafkaMessage,
  }));
  const apply = async (_input: unknown) => 0;
  return async () => {
    for (let b = 0; b < BATCHES; b++) {
      if (ctx.tracing.enabled) await applyTraced(ctx, items, apply);
      else await apply(toInput(items));
    }
  };
}

const row = (path: string, label: string, ms: number) => {
  const events = BATCHES * SIZE;
  return `| ${path} | ${label} | ${events} | ${ms.toFixed(0)} | ${((ms * 1e6) / events).toFixed(0)} |`;
};

const beforePath = join(import.meta.dirname, '.sink-before.tmp.ts');
writeFileSync(beforePath, execFileSync('git', ['show', 'e903c81:services/poller/src/delivery/sink.ts'], { encoding: 'utf8' }));
try {
  const before = (await import(beforePath)) as { createKafkaSink: (o: object) => Sink };
  const on = await createTracing({ serviceName: 'bench', exporter: nowhere as never });
  const poller = await timeInterleaved([
    pollerRun(before.createKafkaSink({ producer, topics, codec })),
    pollerRun(createKafkaSink({ producer, topics, codec, tracing: TRACING_OFF })),
    pollerRun(createKafkaSink({ producer, topics, codec, tracing: on })),
  ]);
  const applier = await timeInterleaved([applierRun(TRACING_OFF), applierRun(on)]);
  const rows = [
    row('poller produce path', 'before tracing (e903c81)', poller[0]!),
    row('poller produce path', 'tracing off', poller[1]!),
    row('poller produce path', 'tracing on', poller[2]!),
    row('applier around the transaction', 'tracing off', applier[0]!),
    row('applier around the transaction', 'tracing on', applier[1]!),
  ];
  console.log(`${BATCHES} batches of ${SIZE} user events, median of ${ROUNDS} interleaved rounds (Node ${process.version})\n`);
  console.log('| path | tracing | events | ms | ns / event |\n| --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  await on.shutdown();
} finally {
  rmSync(beforePath, { force: true });
}
