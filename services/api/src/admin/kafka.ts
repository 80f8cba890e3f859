import { randomUUID } from 'node:crypto';
import { type DirstreamError, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { createKafkaClient } from '@dirstream/kafka';
import type { Admin, Kafka } from 'kafkajs';
import type { ServeContext } from '../context.ts';
import { httpError } from '../http/errors.ts';

/**
 * The console's Kafka access: one admin client, connected on first use and kept (offsets and
 * watermarks are cheap to ask), and short-lived consumers for reading the dead-letter topic.
 */
export type KafkaAccess = {
  readonly kafka: Kafka;
  admin(): Promise<Admin>;
  /** A consumer group name for one read of the console, unique, under the applier's group name. */
  readerGroup(): string;
  close(): Promise<void>;
};

/**
 * A Kafka failure as the console's answer: 503 with what went wrong (a missing topic says to
 * create the topics). Kafka's messages name topics and brokers, never credentials.
 */
export function kafkaUnavailable(cause: unknown, topic: string): DirstreamError {
  const err = toError(cause);
  // kafkajs wraps the broker's error (retries exceeded, non-retriable) in `cause` / `originalError`.
  let missing = false;
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; depth++) {
    const wrapped = e as { type?: string; cause?: unknown; originalError?: unknown };
    if (wrapped.type === 'UNKNOWN_TOPIC_OR_PARTITION') missing = true;
    e = wrapped.cause ?? wrapped.originalError;
  }
  const message = missing ? `topic ${topic} does not exist: run dirstream topics create` : `Kafka did not answer: ${err.message}`;
  return httpError('HTTP_UNAVAILABLE', message, { body: { code: missing ? 'KAFKA_TOPIC_MISSING' : 'KAFKA_UNAVAILABLE', message } });
}

export function createKafkaAccess(ctx: ServeContext, logger: Logger): KafkaAccess {
  const kafka = createKafkaClient(ctx.config.kafka, logger, { clientId: `${ctx.config.kafka.clientId}-console` });
  let connected: Promise<Admin> | undefined;
  let closed = false;
  return {
    kafka,
    admin() {
      if (closed) return Promise.reject(new Error('the console is closing'));
      if (connected === undefined) {
        const admin = kafka.admin();
        connected = admin.connect().then(
          () => admin,
          (cause: unknown) => {
            connected = undefined;
            throw toError(cause);
          },
        );
      }
      return connected;
    },
    readerGroup: () => `${ctx.config.applier.groupId}.console.${randomUUID()}`,
    async close() {
      closed = true;
      const pending = connected;
      connected = undefined;
      if (pending !== undefined) await (await pending.catch(() => undefined))?.disconnect().catch(() => undefined);
    },
  };
}
