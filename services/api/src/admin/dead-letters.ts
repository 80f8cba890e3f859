import { toError } from '@dirstream/errors';
import { createCodec, topicNames } from '@dirstream/events';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../context.ts';
import { createConsumer, fetchTopicEnds } from '@dirstream/kafka';
import { httpError } from '../http/errors.ts';
import { parseInput } from '../http/input.ts';
import type { Admin } from 'kafkajs';
import { type KafkaAccess, kafkaUnavailable } from './kafka.ts';
import { iso } from './paging.ts';

export type DeadLetter = {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: string;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly failedAt: string | null;
  readonly consumerGroup: string;
  /** Size of the original record's value; the bytes themselves are not shown. */
  readonly valueBytes: number | null;
};

export type DeadLetters = { readonly topic: string; readonly total: number; readonly items: readonly DeadLetter[] };

const READ_TIMEOUT_MS = 10_000;

/**
 * The newest `limit` records of the dead-letter topic (at most `limit` per partition are read,
 * then the newest overall kept), newest first, with their reasons. Reads with a throw-away
 * consumer group that commits nothing and is deleted afterwards.
 */
export async function readDeadLetters(ctx: ServeContext, kafka: KafkaAccess, limit: number): Promise<DeadLetters> {
  const topic = topicNames(ctx.config.kafka.topicPrefix).deadLetters;
  let admin: Admin;
  let marks: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
  try {
    admin = await kafka.admin();
    marks = await fetchTopicEnds(admin, topic);
  } catch (cause) {
    throw kafkaUnavailable(cause, topic);
  }
  const total = marks.reduce((n, m) => n + Number(BigInt(m.high) - BigInt(m.low)), 0);
  const ranges = marks
    .map((m) => {
      const high = BigInt(m.high);
      const low = BigInt(m.low);
      const start = high - BigInt(limit) > low ? high - BigInt(limit) : low;
      return { partition: m.partition, start, high };
    })
    .filter((r) => r.high > r.start);
  if (ranges.length === 0) return { topic, total, items: [] };

  const codec = createCodec();
  const items: DeadLetter[] = [];
  const pending = new Set(ranges.map((r) => r.partition));
  const groupId = kafka.readerGroup();
  const consumer = createConsumer(kafka.kafka, { groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(httpError('HTTP_UNAVAILABLE', 'reading the dead-letter topic timed out')), READ_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = ranges.find((r) => r.partition === partition);
            if (range === undefined || BigInt(message.offset) < range.start) return;
            if (BigInt(message.offset) < range.high && message.value !== null) {
              try {
                const event = codec.decode('dead-letter', message.value);
                items.push({
                  partition,
                  offset: message.offset,
                  key: message.key === null ? null : message.key.toString('utf8'),
                  sourceTopic: event.sourceTopic,
                  sourcePartition: event.partition,
                  sourceOffset: event.offset,
                  code: event.code,
                  reason: event.reason,
                  attempts: event.attempts,
                  failedAt: iso(new Date(event.failedAt)),
                  consumerGroup: event.consumerGroup,
                  valueBytes: event.value === null ? null : event.value.length,
                });
              } catch (cause) {
                items.push({
                  partition,
                  offset: message.offset,
                  key: null,
                  sourceTopic: '',
                  sourcePartition: -1,
                  sourceOffset: '',
                  code: 'DEAD_LETTER_UNREADABLE',
                  reason: toError(cause).message,
                  attempts: 0,
                  failedAt: null,
                  consumerGroup: '',
                  valueBytes: message.value.length,
                });
              }
            }
            if (BigInt(message.offset) + 1n >= range.high && pending.delete(partition) && pending.size === 0) done();
          },
        })
        .then(() => {
          for (const r of ranges) consumer.seek({ topic, partition: r.partition, offset: String(r.start) });
        })
        .catch((cause: unknown) => {
          clearTimeout(timer);
          reject(toError(cause));
        });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  items.sort((a, b) => (b.failedAt ?? '').localeCompare(a.failedAt ?? '') || Number(BigInt(b.offset) - BigInt(a.offset)));
  return { topic, total, items: items.slice(0, limit) };
}

export const deadLetterQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();

export function registerDeadLetterRoutes(app: FastifyInstance, ctx: ServeContext, kafka: KafkaAccess): void {
  app.get('/v1/dead-letters', async (request) => {
    const { limit } = parseInput(deadLetterQuery, request.query, 'query');
    const result = await readDeadLetters(ctx, kafka, limit);
    return { topic: result.topic, total: result.total, deadLetters: result.items };
  });
}
