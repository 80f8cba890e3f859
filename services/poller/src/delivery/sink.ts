import type { KafkaConfig } from '@dirstream/config';
import { createError } from '@dirstream/errors';
import {
  type Codec,
  groupKey,
  type GroupEvent,
  type MembershipEvent,
  membershipKey,
  type SyncRunEvent,
  type TopicNames,
  type UserEvent,
  userKey,
} from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { Kafka, type logCreator, logLevel, type Message, type Producer, type TopicMessages } from 'kafkajs';

/** The events of one checkpoint: sent together, acknowledged before the state moves. */
export type EventBatch = {
  readonly users: readonly UserEvent[];
  readonly groups: readonly GroupEvent[];
  readonly memberships: readonly MembershipEvent[];
};

export type EventSink = {
  /** Resolves once Kafka acknowledged every record (acks = all). */
  send(batch: EventBatch): Promise<void>;
  sendRun(event: SyncRunEvent): Promise<void>;
};

/** Records per produce request: keeps requests below the broker's message size limits. */
const CHUNK = 5_000;

/** kafkajs logs through the process's pino logger (its own ERROR lines for retried metadata are debug noise). */
function kafkaLogCreator(logger: Logger): logCreator {
  return () => ({ level, log }) => {
    const { message, ...fields } = log;
    if (level === logLevel.ERROR || level === logLevel.WARN) logger.debug({ kafkajs: fields }, message);
    else logger.trace({ kafkajs: fields }, message);
  };
}

export function createKafkaClient(config: KafkaConfig, logger: Logger): Kafka {
  return new Kafka({
    logCreator: kafkaLogCreator(logger.child({ component: 'kafkajs' })),
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    sasl: config.sasl
      ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as never)
      : undefined,
    retry: { retries: 8 },
    logLevel: logLevel.WARN,
  });
}

/** An idempotent producer: no duplicates from retries, per-partition order kept. */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

export function toRecords(batch: EventBatch, topics: TopicNames, codec: Codec): TopicMessages[] {
  const out: TopicMessages[] = [];
  if (batch.users.length > 0) {
    out.push({
      topic: topics.users,
      messages: batch.users.map((e) => ({ key: userKey(e.profileId, e.externalId), value: codec.encode('user-event', e) })),
    });
  }
  if (batch.groups.length > 0) {
    out.push({
      topic: topics.groups,
      messages: batch.groups.map((e) => ({ key: groupKey(e.profileId, e.externalId), value: codec.encode('group-event', e) })),
    });
  }
  if (batch.memberships.length > 0) {
    const messages: Message[] = [];
    for (const e of batch.memberships) {
      const key = membershipKey(e.profileId, e.groupId, e.memberId);
      messages.push({ key, value: codec.encode('membership-event', e) });
      // Invariant 2: a removed edge is a `removed` event, then a tombstone on the same key
      // (same partition, so compaction ends with nothing for that edge).
      if (e.op === 'removed') messages.push({ key, value: null });
    }
    out.push({ topic: topics.memberships, messages });
  }
  return out;
}

export function createKafkaSink(options: { producer: Producer; topics: TopicNames; codec: Codec }): EventSink {
  const { producer, topics, codec } = options;
  async function produce(topicMessages: TopicMessages[]): Promise<void> {
    try {
      for (const { topic, messages } of topicMessages) {
        for (let i = 0; i < messages.length; i += CHUNK) {
          await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.slice(i, i + CHUNK) }] });
        }
      }
    } catch (cause) {
      throw createError('KAFKA_PRODUCE_FAILED', 'Kafka did not acknowledge the events', { retriable: true, cause });
    }
  }
  return {
    send: (batch) => produce(toRecords(batch, topics, codec)),
    sendRun: (event) =>
      produce([{ topic: topics.syncRuns, messages: [{ key: event.profileId, value: codec.encode('sync-run', event) }] }]),
  };
}

/** A dry-run sink: counts and keeps a few examples, sends nothing. */
export function createPlanSink(examplesPerKind = 5) {
  const counts = new Map<string, number>();
  const examples = new Map<string, string[]>();
  const note = (kind: string, example: string) => {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    const list = examples.get(kind) ?? [];
    if (list.length < examplesPerKind) list.push(example);
    examples.set(kind, list);
  };
  const sink: EventSink = {
    async send(batch) {
      for (const e of batch.users) {
        note(`user ${e.op}`, `${e.state.loginName} (${e.state.dn})${e.changed.length && e.op !== 'created' ? ` [${e.changed.join(', ')}]` : ''}${e.state.disabledReason ? ` reason=${e.state.disabledReason}` : ''}`);
      }
      for (const e of batch.groups) note(`group ${e.op}`, `${e.state.name} (${e.state.dn})`);
      for (const e of batch.memberships) note(`membership ${e.op}`, `${e.groupId} ← ${e.memberType} ${e.memberId}`);
    },
    async sendRun() {},
  };
  return { sink, counts, examples };
}
