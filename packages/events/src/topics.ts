/**
 * Topic names. One prefix per deployment (or per test), one topic per kind under it. User lifecycle
 * events (disabled and enabled) share one topic so that per-user order holds for consumers.
 */
import { DirstreamError } from '@dirstream/errors';
import type { RecordType } from './types.ts';

export const TOPIC_SUFFIXES = {
  users: 'users',
  groups: 'groups',
  memberships: 'memberships',
  syncRuns: 'sync-runs',
  userLifecycle: 'user-lifecycle',
  deadLetters: 'dead-letters',
  authEvents: 'auth-events',
  runDetails: 'run-details',
} as const;

export type TopicKind = keyof typeof TOPIC_SUFFIXES;
export type TopicNames = { readonly [K in TopicKind]: string };

/** The record type every value on a topic has (dead letters keep the original bytes inside). */
export const TOPIC_RECORD_TYPES: { readonly [K in TopicKind]: RecordType } = {
  users: 'user-event',
  groups: 'group-event',
  memberships: 'membership-event',
  syncRuns: 'sync-run',
  userLifecycle: 'user-lifecycle',
  deadLetters: 'dead-letter',
  authEvents: 'auth-event',
  runDetails: 'run-detail',
};

export const TOPIC_KINDS = Object.keys(TOPIC_SUFFIXES) as readonly TopicKind[];

export const DEFAULT_TOPIC_PREFIX = 'dirstream';

// Kafka allows [a-zA-Z0-9._-] and 249 characters; "user-lifecycle" is the longest suffix.
const LEGAL = /^[A-Za-z0-9._-]+$/;
const MAX_PREFIX = 249 - '.user-lifecycle'.length;

export function topicNames(prefix: string = DEFAULT_TOPIC_PREFIX): TopicNames {
  if (typeof prefix !== 'string' || !LEGAL.test(prefix) || prefix.length > MAX_PREFIX) {
    throw new DirstreamError(
      'EVENT_TOPIC_PREFIX_INVALID',
      `topic prefix must be 1-${MAX_PREFIX} characters of [A-Za-z0-9._-], got ${JSON.stringify(prefix)}`,
    );
  }
  return Object.freeze({
    users: `${prefix}.${TOPIC_SUFFIXES.users}`,
    groups: `${prefix}.${TOPIC_SUFFIXES.groups}`,
    memberships: `${prefix}.${TOPIC_SUFFIXES.memberships}`,
    syncRuns: `${prefix}.${TOPIC_SUFFIXES.syncRuns}`,
    userLifecycle: `${prefix}.${TOPIC_SUFFIXES.userLifecycle}`,
    deadLetters: `${prefix}.${TOPIC_SUFFIXES.deadLetters}`,
    authEvents: `${prefix}.${TOPIC_SUFFIXES.authEvents}`,
    runDetails: `${prefix}.${TOPIC_SUFFIXES.runDetails}`,
  });
}

/** Which record type a topic of this prefix carries, or undefined for a foreign topic. */
export function recordTypeOfTopic(topic: string, prefix: string = DEFAULT_TOPIC_PREFIX): RecordType | undefined {
  const names = topicNames(prefix);
  for (const kind of TOPIC_KINDS) {
    if (names[kind] === topic) return TOPIC_RECORD_TYPES[kind];
  }
  return undefined;
}
