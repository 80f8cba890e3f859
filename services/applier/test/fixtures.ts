import { randomUUID } from 'node:crypto';
import { type DirstreamConfig, POLLER_DEFAULTS, SERVE_DEFAULTS } from '@dirstream/config';
import type { GroupEvent, MembershipEvent, SyncRunEvent, UserEvent, UserState } from '@dirstream/events';
import { eventIdFor } from '@dirstream/events';

export const PROFILE_A = '7d1a5e0c-0000-4000-8000-00000000000a';
export const PROFILE_B = '7d1a5e0c-0000-4000-8000-00000000000b';

const SOURCE = {
  directoryType: 'openldap' as const,
  server: 'ldap://127.0.0.1:38389',
  position: null,
  runId: 'run-1',
  mode: 'full' as const,
};

export function userEvent(
  externalId: string,
  version: number,
  overrides: Partial<UserState> & { profileId?: string; op?: UserEvent['op']; runId?: string } = {},
): UserEvent {
  const { profileId = PROFILE_A, op = 'updated', runId = 'run-1', ...state } = overrides;
  const full: UserState = {
    externalId,
    sid: null,
    sidHistory: [],
    dn: `uid=${externalId},ou=people,dc=dirstream,dc=test`,
    loginName: externalId,
    userPrincipalName: null,
    displayName: `User ${externalId}`,
    givenName: 'Given',
    surname: externalId,
    emails: [`${externalId}@example.test`],
    phone: null,
    title: null,
    company: null,
    enabled: true,
    disabledReason: null,
    attributes: {},
    ...state,
  };
  return {
    eventId: eventIdFor('user', profileId, externalId, String(version)),
    op,
    profileId,
    externalId,
    version,
    state: full,
    changed: ['enabled'],
    rename: null,
    source: { ...SOURCE, profileId, runId },
    times: { changedAt: 1_700_000_000_000, observedAt: 1_700_000_000_000, emittedAt: 1_700_000_000_000 },
  };
}

export function groupEvent(
  externalId: string,
  version: number,
  overrides: { name?: string; present?: boolean; profileId?: string; op?: GroupEvent['op']; roleBindings?: readonly string[] } = {},
): GroupEvent {
  const { profileId = PROFILE_A, op = 'updated', name = externalId, present = true, roleBindings = [] } = overrides;
  return {
    eventId: eventIdFor('group', profileId, externalId, String(version)),
    op,
    profileId,
    externalId,
    version,
    state: {
      externalId,
      sid: null,
      dn: `cn=${name},ou=groups,dc=dirstream,dc=test`,
      name,
      description: null,
      present,
      attributes: {},
    },
    changed: ['name'],
    rename: null,
    source: { ...SOURCE, profileId },
    times: { changedAt: null, observedAt: 1_700_000_000_000, emittedAt: 1_700_000_000_000 },
    roleBindings,
  };
}

export function membershipEvent(
  groupId: string,
  memberId: string,
  version: number,
  op: 'added' | 'removed' = 'added',
  memberType: 'user' | 'group' = 'user',
  profileId = PROFILE_A,
): MembershipEvent {
  return {
    eventId: eventIdFor('membership', profileId, groupId, memberId, String(version)),
    op,
    profileId,
    groupId,
    memberId,
    memberType,
    version,
    source: { ...SOURCE, profileId },
    times: { changedAt: null, observedAt: 1_700_000_000_000, emittedAt: 1_700_000_000_000 },
  };
}

export function syncRunEvent(runId: string, profileId = PROFILE_A): SyncRunEvent {
  return {
    eventId: eventIdFor('sync-run', runId),
    runId,
    profileId,
    directoryType: 'openldap',
    mode: 'full',
    status: 'succeeded',
    reason: null,
    startedAt: 1_700_000_000_000,
    finishedAt: 1_700_000_060_000,
    counts: {
      created: 1,
      updated: 0,
      renamed: 0,
      moved: 0,
      disabled: 0,
      enabled: 0,
      groupsCreated: 0,
      groupsUpdated: 0,
      groupsRemoved: 0,
      membershipsAdded: 0,
      membershipsRemoved: 0,
      errors: 0,
      entriesRead: 1,
    },
    errors: [],
    cursorBefore: null,
    cursorAfter: 'c1',
  };
}

/** A configuration for one test: its own database, topic prefix and group. */
export function testConfig(options: {
  databaseUrl: string;
  brokers: readonly string[];
  prefix: string;
  groupId?: string;
  conflictPolicy?: 'skip' | 'link' | 'fail';
  seatLimit?: number;
  partitions?: number;
  maxBatchSize?: number;
}): DirstreamConfig {
  const profile = (id: string, name: string) => ({
    id,
    name,
    directory: 'openldap' as const,
    enabled: true,
    connection: {
      urls: ['ldap://127.0.0.1:38389'],
      startTls: false,
      tls: { rejectUnauthorized: true },
      bindDn: 'cn=admin,dc=dirstream,dc=test',
      bindPassword: 'unused',
      connectTimeoutMs: 10_000,
      timeoutMs: 60_000,
      pageSize: 500,
    },
    users: { baseDn: 'ou=people,dc=dirstream,dc=test', scope: 'sub' as const, attributes: { extra: {} } },
    schedule: { intervalSeconds: 300, fullEverySeconds: 86_400, delta: 'auto' as const, overlapSeconds: 5 },
    policies: {
      removedUsers: 'disable' as const,
      onlyGroupMembers: false,
      maxDisableCount: 100,
      maxDisablePercent: 10,
      allowMassDisable: false,
      conflictPolicy: options.conflictPolicy ?? 'skip',
      groupRoles: { admins: ['admin'], staff: ['reader', 'writer'] },
    },
  });
  return {
    kafka: {
      brokers: [...options.brokers],
      clientId: `applier-test-${randomUUID().slice(0, 8)}`,
      topicPrefix: options.prefix,
      partitions: options.partitions ?? 3,
      replicationFactor: 1,
      ssl: false,
    },
    database: { url: options.databaseUrl, pollerSchema: 'dirstream_poller', poolSize: 6 },
    applier: {
      groupId: options.groupId ?? `${options.prefix}-applier`,
      maxBatchSize: options.maxBatchSize ?? 500,
      metricsHost: '127.0.0.1',
      metricsPort: 0,
      seatLimit: options.seatLimit ?? 0,
      applyRetries: 2,
    },
    poller: POLLER_DEFAULTS,
    serve: SERVE_DEFAULTS,
    logLevel: 'warn',
    profiles: [profile(PROFILE_A, 'alpha'), profile(PROFILE_B, 'beta')],
  } as DirstreamConfig;
}
