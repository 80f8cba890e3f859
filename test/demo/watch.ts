/**
 * Reads every dirstream topic of the demo from the beginning (a fresh consumer group) and keeps
 * the decoded records, so each step can show the record its change produced.
 */
import { randomUUID } from 'node:crypto';
import {
  createCodec,
  type GroupEvent,
  type MembershipEvent,
  parseMembershipKey,
  type SyncRunEvent,
  topicNames,
  type UserEvent,
  type UserLifecycleEvent,
} from '@dirstream/events';
import { createConsumer, kafkaClientConfig } from '@dirstream/kafka';
import { type Kafka, logLevel, Kafka as KafkaClient } from 'kafkajs';

export type Seen =
  | { readonly kind: 'user'; readonly topic: string; readonly at: number; readonly event: UserEvent }
  | { readonly kind: 'group'; readonly topic: string; readonly at: number; readonly event: GroupEvent }
  | { readonly kind: 'membership'; readonly topic: string; readonly at: number; readonly event: MembershipEvent }
  | {
      readonly kind: 'membership-tombstone';
      readonly topic: string;
      readonly at: number;
      readonly groupId: string;
      readonly memberId: string;
    }
  | { readonly kind: 'sync-run'; readonly topic: string; readonly at: number; readonly event: SyncRunEvent }
  | { readonly kind: 'lifecycle'; readonly topic: string; readonly at: number; readonly event: UserLifecycleEvent }
  | { readonly kind: 'undecodable'; readonly topic: string; readonly at: number; readonly reason: string };

export type TopicWatch = {
  readonly seen: readonly Seen[];
  /** Records per topic. */
  counts(): Record<string, number>;
  stop(): Promise<void>;
};

export function createKafkaClient(brokers: readonly string[]): Kafka {
  return new KafkaClient({ ...kafkaClientConfig({ clientId: 'dirstream-demo', brokers, ssl: false }), logLevel: logLevel.NOTHING });
}

export async function watchTopics(kafka: Kafka, prefix: string): Promise<TopicWatch> {
  const names = topicNames(prefix);
  const codec = createCodec();
  const seen: Seen[] = [];
  const counts: Record<string, number> = {};
  const consumer = createConsumer(kafka, { groupId: `dirstream-demo-watch-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({
    topics: [names.users, names.groups, names.memberships, names.syncRuns, names.userLifecycle],
    fromBeginning: true,
  });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, message }) => {
      const at = Date.now();
      counts[topic] = (counts[topic] ?? 0) + 1;
      try {
        if (message.value === null) {
          if (topic === names.memberships && message.key !== null) {
            const key = parseMembershipKey(message.key);
            seen.push({ kind: 'membership-tombstone', topic, at, groupId: key.groupId, memberId: key.memberId });
          }
          return;
        }
        if (topic === names.users) seen.push({ kind: 'user', topic, at, event: codec.decode('user-event', message.value) });
        else if (topic === names.groups) seen.push({ kind: 'group', topic, at, event: codec.decode('group-event', message.value) });
        else if (topic === names.memberships)
          seen.push({ kind: 'membership', topic, at, event: codec.decode('membership-event', message.value) });
        else if (topic === names.syncRuns) seen.push({ kind: 'sync-run', topic, at, event: codec.decode('sync-run', message.value) });
        else if (topic === names.userLifecycle)
          seen.push({ kind: 'lifecycle', topic, at, event: codec.decode('user-lifecycle', message.value) });
      } catch (error) {
        seen.push({ kind: 'undecodable', topic, at, reason: error instanceof Error ? error.message : String(error) });
      }
    },
  });
  return {
    seen,
    counts: () => ({ ...counts }),
    async stop() {
      await consumer.disconnect().catch(() => undefined);
    },
  };
}
