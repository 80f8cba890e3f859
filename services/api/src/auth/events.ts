import type { DirstreamConfig } from '@dirstream/config';
import { toError } from '@dirstream/errors';
import { type AuthEvent, type Codec, createCodec, topicNames, userKey } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { createIdempotentProducer, createKafkaClient, sendAcknowledged } from '@dirstream/kafka';

/**
 * Auth events to `<prefix>.auth-events`, off the request path: attempts are buffered (bounded)
 * and sent in batches every FLUSH_MS. Sign-in never waits for Kafka and keeps working while it
 * is down; what cannot be delivered is dropped oldest-first and counted (docs/events.md).
 */
export type AuthEventPublisher = {
  /** `headers`: the record's headers (the sign-in span's `traceparent` when tracing is on). */
  publish(event: AuthEvent, headers?: Readonly<Record<string, string>>): void;
  /** Sends what is buffered (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
};

export type AuthEventPublisherOptions = {
  readonly kafka: DirstreamConfig['kafka'];
  readonly logger: Logger;
  readonly onDropped: (count: number) => void;
  readonly codec?: Codec;
};

type Pending = { readonly event: AuthEvent; readonly headers?: Readonly<Record<string, string>> };

const FLUSH_MS = 200;
const MAX_BUFFERED = 10_000;
const MAX_BATCH = 1_000;

/** The record key: the user when one was identified, else the login (lowercase). */
export function authEventKey(event: AuthEvent): string {
  return event.profileId !== null && event.externalId !== null
    ? userKey(event.profileId, event.externalId)
    : `login:${event.login.toLowerCase()}`;
}

export function createAuthEventPublisher(options: AuthEventPublisherOptions): AuthEventPublisher {
  const { logger } = options;
  const codec = options.codec ?? createCodec();
  const topic = topicNames(options.kafka.topicPrefix).authEvents;
  const kafka = createKafkaClient(options.kafka, logger);
  const producer = createIdempotentProducer(kafka);
  let connected: Promise<void> | null = null;
  let buffer: Pending[] = [];
  let sending: Promise<void> = Promise.resolve();
  let closed = false;
  let lastWarning = 0;

  const trim = () => {
    if (buffer.length <= MAX_BUFFERED) return;
    const excess = buffer.length - MAX_BUFFERED;
    buffer = buffer.slice(excess);
    options.onDropped(excess);
  };

  const send = async () => {
    while (buffer.length > 0) {
      const batch = buffer.splice(0, MAX_BATCH);
      try {
        connected ??= producer.connect();
        await connected;
        // sendAcknowledged: a resolved kafkajs send may have skipped partitions after a leader change.
        await sendAcknowledged(producer, {
          topic,
          acks: -1,
          messages: batch.map(({ event, headers }) => ({
            key: authEventKey(event),
            value: codec.encode('auth-event', event),
            ...(headers === undefined ? {} : { headers: { ...headers } }),
          })),
        });
      } catch (cause) {
        connected = null;
        buffer = [...batch, ...buffer];
        trim();
        // Kept for the next flush; the buffer bound drops the oldest when Kafka stays away.
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          logger.warn({ err: toError(cause), buffered: buffer.length }, 'auth events not delivered yet; sign-in goes on');
        }
        return;
      }
    }
  };

  const flush = () => {
    sending = sending.then(send);
    return sending;
  };
  const timer = setInterval(() => {
    if (buffer.length > 0) void flush();
  }, FLUSH_MS);
  timer.unref();

  return {
    publish(event, headers) {
      if (closed) return;
      buffer.push(headers === undefined ? { event } : { event, headers });
      trim();
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
      if (buffer.length > 0) options.onDropped(buffer.length);
      buffer = [];
      if (connected !== null) await producer.disconnect().catch(() => {});
    },
  };
}
