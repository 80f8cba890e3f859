import { createError } from '@dirstream/errors';
import {
  type Codec,
  groupKey,
  type GroupEvent,
  type MembershipEvent,
  membershipKey,
  type RunDetailEvent,
  type SyncRunEvent,
  type TopicNames,
  type UserEvent,
  userKey,
} from '@dirstream/events';
import { sendAcknowledged, type TrackedProducer } from '@dirstream/kafka';
import { TRACING_OFF, traceHeaders, type Tracing } from '@dirstream/tracing';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Message, TopicMessages } from 'kafkajs';

/** The events of one checkpoint: sent together, acknowledged before the state moves. */
export type EventBatch = {
  readonly users: readonly UserEvent[];
  readonly groups: readonly GroupEvent[];
  readonly memberships: readonly MembershipEvent[];
};

/** An event left out of a batch because its record is larger than the size limit. */
export type RejectedEvent = {
  readonly kind: 'user' | 'group';
  readonly externalId: string;
  readonly dn: string | null;
  /** Key plus encoded value, in bytes. */
  readonly bytes: number;
  readonly limit: number;
};

export type SendResult = { readonly rejected: readonly RejectedEvent[] };

export type EventSink = {
  /**
   * Resolves once Kafka acknowledged every record (acks = all). Events whose record exceeds the
   * size limit are not sent and come back in `rejected` (nothing of them was produced).
   */
  send(batch: EventBatch): Promise<SendResult>;
  sendRun(event: SyncRunEvent): Promise<void>;
  /** One page of a run's entry errors or halt report (run/run-details.ts). */
  sendRunDetail(event: RunDetailEvent): Promise<void>;
};

/** Records per produce request: keeps requests below the broker's message size limits. */
const CHUNK = 5_000;
/** Just under the broker's default `max.message.bytes` (1 MiB + 12). */
export const DEFAULT_MAX_EVENT_BYTES = 1_000_000;
/** Per-record overhead in a record batch (length, attributes, deltas, header count), upper bound. */
const RECORD_OVERHEAD = 32;

/** Values already encoded (while measuring) by event object, so an event is encoded once. */
type EncodedCache = WeakMap<object, Buffer>;

export function toRecords(batch: EventBatch, topics: TopicNames, codec: Codec, encoded?: EncodedCache): TopicMessages[] {
  const out: TopicMessages[] = [];
  if (batch.users.length > 0) {
    out.push({
      topic: topics.users,
      messages: batch.users.map((e) => ({
        key: userKey(e.profileId, e.externalId),
        value: encoded?.get(e) ?? codec.encode('user-event', e),
      })),
    });
  }
  if (batch.groups.length > 0) {
    out.push({
      topic: topics.groups,
      messages: batch.groups.map((e) => ({
        key: groupKey(e.profileId, e.externalId),
        value: encoded?.get(e) ?? codec.encode('group-event', e),
      })),
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

function recordBytes(message: Message): number {
  const size = (v: Message['key'] | Message['value']) => (v === null || v === undefined ? 0 : Buffer.byteLength(v));
  return size(message.key) + size(message.value);
}

/**
 * Splits a batch into what may be sent and what may not: a user or group event whose record is
 * above `maxEventBytes` would make the broker refuse the whole request (MESSAGE_TOO_LARGE), so it
 * is left out and reported instead, and one oversized entry cannot stop the others.
 */
export function splitOversized(
  batch: EventBatch,
  codec: Codec,
  maxEventBytes: number,
): { batch: EventBatch; rejected: RejectedEvent[]; encoded: EncodedCache } {
  const rejected: RejectedEvent[] = [];
  const encoded: EncodedCache = new WeakMap();
  const fitting = <E extends UserEvent | GroupEvent>(
    kind: RejectedEvent['kind'],
    events: readonly E[],
    record: (e: E) => { key: string; value: Buffer },
  ) =>
    events.filter((e) => {
      const { key, value } = record(e);
      encoded.set(e, value);
      const bytes = recordBytes({ key, value });
      if (bytes <= maxEventBytes) return true;
      rejected.push({ kind, externalId: e.externalId, dn: e.state.dn, bytes, limit: maxEventBytes });
      return false;
    });
  const users = fitting('user', batch.users, (e) => ({ key: userKey(e.profileId, e.externalId), value: codec.encode('user-event', e) }));
  const groups = fitting('group', batch.groups, (e) => ({
    key: groupKey(e.profileId, e.externalId),
    value: codec.encode('group-event', e),
  }));
  // Membership events carry IDs only: bounded, never measured.
  if (rejected.length === 0) return { batch, rejected, encoded };
  return { batch: { users, groups, memberships: batch.memberships }, rejected, encoded };
}

/** Consecutive slices of at most CHUNK records and `maxBytes` bytes (a record above it goes alone). */
function chunks(messages: readonly Message[], maxBytes: number): Message[][] {
  const out: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = recordBytes(m) + RECORD_OVERHEAD;
    if (current.length > 0 && (current.length >= CHUNK || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function createKafkaSink(options: {
  producer: TrackedProducer;
  topics: TopicNames;
  codec: Codec;
  maxEventBytes?: number;
  /** When on, each send is a span and its records carry its W3C `traceparent` header. */
  tracing?: Tracing;
}): EventSink {
  const { producer, topics, codec } = options;
  const maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const tracing = options.tracing ?? TRACING_OFF;
  async function produce(topicMessages: TopicMessages[]): Promise<void> {
    if (!tracing.enabled) return produceRecords(topicMessages);
    const span = tracing.tracer.startSpan('dirstream.poller.produce', {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': topicMessages.map((t) => t.topic).join(','),
        'messaging.batch.message_count': topicMessages.reduce((n, t) => n + t.messages.length, 0),
      },
    });
    const headers = traceHeaders(span);
    // The records were built for this send (toRecords): they take the one headers object as they are.
    for (const t of topicMessages) for (const m of t.messages) m.headers = headers;
    try {
      await produceRecords(topicMessages);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }
  async function produceRecords(topicMessages: TopicMessages[]): Promise<void> {
    try {
      for (const { topic, messages } of topicMessages) {
        // kafkajs puts a request's records for one partition into one record batch, which the
        // broker measures against max.message.bytes: requests are bounded in bytes too.
        // sendAcknowledged: a resolved kafkajs send may have skipped partitions after a leader change.
        for (const slice of chunks(messages, maxEventBytes)) {
          await sendAcknowledged(producer, { topic, acks: -1, messages: slice });
        }
      }
    } catch (cause) {
      throw createError('KAFKA_PRODUCE_FAILED', 'Kafka did not acknowledge the events', { retriable: true, cause });
    }
  }
  return {
    async send(input) {
      const { batch, rejected, encoded } = splitOversized(input, codec, maxEventBytes);
      await produce(toRecords(batch, topics, codec, encoded));
      return { rejected };
    },
    sendRun: (event) => produce([{ topic: topics.syncRuns, messages: [{ key: event.profileId, value: codec.encode('sync-run', event) }] }]),
    sendRunDetail: (event) =>
      produce([{ topic: topics.runDetails, messages: [{ key: event.profileId, value: codec.encode('run-detail', event) }] }]),
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
        note(
          `user ${e.op}`,
          `${e.state.loginName} (${e.state.dn})${e.changed.length && e.op !== 'created' ? ` [${e.changed.join(', ')}]` : ''}${e.state.disabledReason ? ` reason=${e.state.disabledReason}` : ''}`,
        );
      }
      for (const e of batch.groups) note(`group ${e.op}`, `${e.state.name} (${e.state.dn})`);
      for (const e of batch.memberships) note(`membership ${e.op}`, `${e.groupId} ← ${e.memberType} ${e.memberId}`);
      return { rejected: [] };
    },
    async sendRun() {},
    async sendRunDetail() {},
  };
  return { sink, counts, examples };
}
