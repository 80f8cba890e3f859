import { retry } from '@dirstream/errors';
import type { DeadLetterEvent } from '@dirstream/events';
import type { TrackedProducer } from '@dirstream/kafka';
import type { KafkaMessage } from 'kafkajs';
import type { ApplierContext } from './context.ts';

/** Sends one record, with why it failed, to the dead-letter topic; the partition moves on. */
export type DeadLetter = (
  topic: string,
  partition: number,
  message: KafkaMessage,
  code: string,
  reason: string,
  attempts: number,
) => Promise<void>;

/**
 * The record is produced to `<prefix>.dead-letters` (acks = all), retried for as long as the
 * broker refuses: a dead letter is never dropped, and the offset moves only once it is stored.
 */
export function createDeadLetter(ctx: ApplierContext, producer: TrackedProducer): DeadLetter {
  return async (topic, partition, message, code, reason, attempts) => {
    const event: DeadLetterEvent = {
      sourceTopic: topic,
      partition,
      offset: message.offset,
      key: message.key ?? null,
      value: message.value ?? null,
      code,
      reason,
      attempts,
      failedAt: Date.now(),
      consumerGroup: ctx.groupId,
    };
    const value = ctx.codec.encode('dead-letter', event);
    await retry(() => producer.send({ topic: ctx.topics.deadLetters, acks: -1, messages: [{ key: message.key ?? null, value }] }), {
      signal: ctx.stopping,
      shouldRetry: () => true,
      onRetry: (err, attempt) => ctx.log.warn({ err, attempt }, 'dead-letter produce failed; retrying'),
    });
    ctx.metrics.deadLetters.inc({ code });
    ctx.log.warn({ topic, partition, offset: message.offset, code, reason, attempts }, 'record dead-lettered');
  };
}
