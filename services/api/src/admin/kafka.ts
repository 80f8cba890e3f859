import { randomUUID } from 'node:crypto';
import { toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { createKafkaClient } from '@dirstream/poller';
import type { Admin, Kafka } from 'kafkajs';
import type { ServeContext } from '../context.ts';

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

export function createKafkaAccess(ctx: ServeContext, logger: Logger): KafkaAccess {
  const kafka = createKafkaClient({ ...ctx.config.kafka, clientId: `${ctx.config.kafka.clientId}-console` }, logger);
  let connected: Promise<Admin> | undefined;
  return {
    kafka,
    admin() {
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
      const pending = connected;
      connected = undefined;
      if (pending !== undefined) await (await pending.catch(() => undefined))?.disconnect().catch(() => undefined);
    },
  };
}
