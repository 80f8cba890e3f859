import { errorCode, toError } from '@dirstream/errors';
import type { GroupEvent, MembershipEvent, RunDetailEvent, SyncRunEvent, UserEvent } from '@dirstream/events';
import type { KafkaMessage } from 'kafkajs';
import type { ApplyInput } from '../apply.ts';
import {
  type Invalid,
  validateGroupEvent,
  validateMembershipEvent,
  validateRunDetail,
  validateSyncRun,
  validateUserEvent,
} from '../plan.ts';
import type { ApplierContext } from './context.ts';
import type { DeadLetter } from './dead-letter.ts';

/** One decoded input record, kept with its Kafka coordinates for dead-lettering. */
export type Item =
  | { kind: 'user'; event: UserEvent; message: KafkaMessage }
  | { kind: 'group'; event: GroupEvent; message: KafkaMessage }
  | { kind: 'membership'; event: MembershipEvent; message: KafkaMessage }
  | { kind: 'sync-run'; event: SyncRunEvent; message: KafkaMessage }
  | { kind: 'run-detail'; event: RunDetailEvent; message: KafkaMessage };

export function toInput(items: readonly Item[]): ApplyInput {
  const input = {
    users: [] as UserEvent[],
    groups: [] as GroupEvent[],
    memberships: [] as MembershipEvent[],
    syncRuns: [] as SyncRunEvent[],
    runDetails: [] as RunDetailEvent[],
  };
  for (const item of items) {
    if (item.kind === 'user') input.users.push(item.event);
    else if (item.kind === 'group') input.groups.push(item.event);
    else if (item.kind === 'membership') input.memberships.push(item.event);
    else if (item.kind === 'run-detail') input.runDetails.push(item.event);
    else input.syncRuns.push(item.event);
  }
  return input;
}

/**
 * Decodes and validates one record. A record that cannot be decoded, or fails a deterministic
 * check (a retry would fail the same way), is dead-lettered at once: null. A membership
 * tombstone is null too (the `removed` event before it did the work).
 */
export function createDecode(
  ctx: ApplierContext,
  deadLetter: DeadLetter,
): (topic: string, partition: number, message: KafkaMessage) => Promise<Item | null> {
  const { codec } = ctx;
  return async (topic, partition, message) => {
    const type = ctx.recordTypes.get(topic);
    const key = message.key === null ? null : message.key.toString('utf8');
    if (message.value === null) {
      if (type === 'membership-event') return null;
      await deadLetter(topic, partition, message, 'APPLY_UNEXPECTED_TOMBSTONE', 'a tombstone on an entity topic', 1);
      return null;
    }
    let item: Item;
    let invalid: Invalid | null;
    const plan = ctx.planContext();
    try {
      if (type === 'user-event') {
        const event = codec.decode('user-event', message.value) as UserEvent;
        item = { kind: 'user', event, message };
        invalid = validateUserEvent(event, key, plan);
      } else if (type === 'group-event') {
        const event = codec.decode('group-event', message.value) as GroupEvent;
        item = { kind: 'group', event, message };
        invalid = validateGroupEvent(event, key, plan);
      } else if (type === 'membership-event') {
        const event = codec.decode('membership-event', message.value) as MembershipEvent;
        item = { kind: 'membership', event, message };
        invalid = validateMembershipEvent(event, key, plan);
      } else if (type === 'run-detail') {
        const event = codec.decode('run-detail', message.value) as RunDetailEvent;
        item = { kind: 'run-detail', event, message };
        invalid = validateRunDetail(event, plan);
      } else {
        const event = codec.decode('sync-run', message.value) as SyncRunEvent;
        item = { kind: 'sync-run', event, message };
        invalid = validateSyncRun(event, plan);
      }
    } catch (caught) {
      const err = toError(caught);
      await deadLetter(topic, partition, message, errorCode(err) ?? 'EVENT_DECODE_FAILED', err.message, 1);
      return null;
    }
    if (invalid !== null) {
      await deadLetter(topic, partition, message, invalid.code, invalid.reason, 1);
      return null;
    }
    return item;
  };
}
