import type { EachBatchPayload, Kafka } from 'kafkajs';
import { createConsumer as createKafkaConsumer } from '@dirstream/kafka';
import { type SpanContext, spanContextFrom, traceHeaders, traceHeadersOf, contextWithParent } from '@dirstream/tracing';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { type ApplyInput, applyBatch } from '../apply.ts';
import type { Database } from '../database.ts';
import type { OutboxRelay } from '../outbox.ts';
import type { ApplierContext } from './context.ts';
import type { DeadLetter } from './dead-letter.ts';
import { createDecode, type Item, toInput } from './decode.ts';
import { createApplyWithRetries } from './retry.ts';
import { createSeatCheck } from './seats.ts';

function* chunks<T>(values: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < values.length; i += size) yield values.slice(i, i + size);
}

/**
 * The consumer of the input topics. Each chunk of a partition's batch (applier.maxBatchSize
 * records) is applied in one transaction; its offset is committed only after that commit.
 */
export function createConsumer(ctx: ApplierContext, kafka: Kafka) {
  const consumer = createKafkaConsumer(kafka, {
    groupId: ctx.groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 30_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 500,
    // Bounds what one fetch holds in memory (records are decoded and applied chunk by chunk).
    maxBytes: 4 * 1024 * 1024,
    maxBytesPerPartition: 512 * 1024,
    retry: { initialRetryTime: 300, retries: 10 },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    ctx.health.joined = true;
    ctx.log.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  return consumer;
}

export function createEachBatch(
  ctx: ApplierContext,
  deps: { db: Database; relay: OutboxRelay; deadLetter: DeadLetter },
): (payload: EachBatchPayload) => Promise<void> {
  const { config, metrics } = ctx;
  const checkSeats = createSeatCheck(ctx, deps.db);
  const decode = createDecode(ctx, deps.deadLetter);

  const applyInTransaction = (input: ApplyInput) => deps.db.transaction((sql) => applyBatch(sql, input, ctx.planContext()));
  const applyItems = async (items: readonly Item[]) => {
    const result = ctx.tracing.enabled ? await applyTraced(ctx, items, applyInTransaction) : await applyInTransaction(toInput(items));
    ctx.health.databaseHealthy = true;
    if (result.announced > 0) deps.relay.kick();
    if (result.usersWritten > 0) await checkSeats();
    return result;
  };
  const applyWithRetries = createApplyWithRetries(ctx, applyItems, deps.deadLetter);

  return async (payload) => {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    for (const chunk of chunks(batch.messages, config.applier.maxBatchSize)) {
      if (!isRunning() || isStale()) break;
      const items: Item[] = [];
      for (const message of chunk) {
        const item = await decode(topic, partition, message);
        if (item !== null) items.push(item);
      }
      if (items.length > 0) await applyWithRetries({ topic, partition, heartbeat, isRunning }, items);
      const last = chunk[chunk.length - 1];
      if (last === undefined) continue;
      resolveOffset(last.offset);
      await commitOffsetsIfNecessary({
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
      });
      metrics.eventsApplied.inc({ topic }, chunk.length);
      metrics.batchSize.observe({ topic }, chunk.length);
      await heartbeat();
    }
  };
}

/** Records that carry more distinct trace contexts than this are linked up to it. */
const MAX_LINKS = 32;

/**
 * The transaction as a span: its parent is the `traceparent` of the first record carrying one,
 * the other records' contexts are links. Outbox rows written for a record get the span's context
 * when the record is in the span's trace, else the record's own, so the downstream event stays in
 * the trace of the directory change that caused it.
 */
export async function applyTraced<R>(ctx: ApplierContext, items: readonly Item[], apply: (input: ApplyInput) => Promise<R>): Promise<R> {
  const contexts = items.map((item) => spanContextFrom(item.message.headers));
  const parent = contexts.find((c) => c !== undefined);
  const linked = new Map<string, SpanContext>();
  for (const c of contexts) {
    if (c === undefined || c === parent || linked.size >= MAX_LINKS) continue;
    linked.set(`${c.traceId}-${c.spanId}`, c);
  }
  if (parent !== undefined) linked.delete(`${parent.traceId}-${parent.spanId}`);
  const span = ctx.tracing.tracer.startSpan(
    'dirstream.applier.apply',
    {
      kind: SpanKind.CONSUMER,
      links: [...linked.values()].map((context) => ({ context })),
      attributes: { 'messaging.system': 'kafka', 'messaging.batch.message_count': items.length, 'db.system.name': 'postgresql' },
    },
    contextWithParent(parent),
  );
  const own = traceHeaders(span);
  const traceId = span.spanContext().traceId;
  const traceContexts = new Map<string, Readonly<Record<string, string>>>();
  items.forEach((item, i) => {
    const c = contexts[i];
    if (item.kind !== 'user' || c === undefined || item.message.key === null) return;
    traceContexts.set(item.message.key.toString('utf8'), c.traceId === traceId ? own : traceHeadersOf(c));
  });
  try {
    return await apply({ ...toInput(items), traceContexts });
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}
