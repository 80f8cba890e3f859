/**
 * The event contract: what travels on the dirstream topics. The Avro schemas in schemas/ are the
 * wire form of these types; a change here is a change to a public API (see schemas/README.md).
 *
 * Time values are epoch milliseconds (Avro `timestamp-millis` as a JS number).
 */

export const DIRECTORY_TYPES = ['active-directory', 'openldap', 'ldap'] as const;
export type DirectoryType = (typeof DIRECTORY_TYPES)[number];

export const SYNC_MODES = ['full', 'delta'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

/** Where an event came from: the profile, the server and the position that was read. */
export type EventSource = {
  readonly profileId: string;
  readonly directoryType: DirectoryType;
  /** The server URL that was read (no credentials). */
  readonly server: string;
  /** Cursor position: uSNChanged, contextCSN, a modifyTimestamp, or null for a full pass. */
  readonly position: string | null;
  readonly runId: string;
  readonly mode: SyncMode;
};

export type EventTimes = {
  /** When the directory says the entry changed (modifyTimestamp / whenChanged), when known. */
  readonly changedAt: number | null;
  /** When the poller read the entry. */
  readonly observedAt: number;
  /** When the poller handed the event to Kafka. */
  readonly emittedAt: number;
};

export const USER_OPERATIONS = ['created', 'updated', 'renamed', 'moved', 'disabled', 'enabled'] as const;
export type UserOperation = (typeof USER_OPERATIONS)[number];

/** Why a user is disabled, when it is. */
export const DISABLED_REASONS = ['directory-disabled', 'removed-from-directory', 'outside-filter', 'not-in-synced-group'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

export type UserState = {
  /** Normalised: objectGUID as lowercase hyphenated GUID, entryUUID lowercase. */
  readonly externalId: string;
  /** objectSid as S-1-5-…, when the directory has one. */
  readonly sid: string | null;
  readonly sidHistory: readonly string[];
  readonly dn: string;
  readonly loginName: string;
  readonly userPrincipalName: string | null;
  readonly displayName: string;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly emails: readonly string[];
  readonly phone: string | null;
  readonly title: string | null;
  readonly company: string | null;
  readonly enabled: boolean;
  readonly disabledReason: DisabledReason | null;
  /** Extra mapped attributes: name → values (binary values base64). */
  readonly attributes: Readonly<Record<string, readonly string[]>>;
};

export type RenameInfo = {
  readonly previousDn: string;
  readonly previousLoginName: string | null;
};

export type UserEvent = {
  /** Deterministic: derived from profileId, externalId and version (see eventIdFor). */
  readonly eventId: string;
  readonly op: UserOperation;
  readonly profileId: string;
  readonly externalId: string;
  /** Grows per entity, across poller restarts and state loss. */
  readonly version: number;
  readonly state: UserState;
  /** Names of the state fields / attributes that changed; all of them on `created`. */
  readonly changed: readonly string[];
  /** Set on `renamed` / `moved` (and on any event whose DN changed). */
  readonly rename: RenameInfo | null;
  readonly source: EventSource;
  readonly times: EventTimes;
};

export const GROUP_OPERATIONS = ['created', 'updated', 'renamed', 'moved', 'removed'] as const;
export type GroupOperation = (typeof GROUP_OPERATIONS)[number];

export type GroupState = {
  readonly externalId: string;
  readonly sid: string | null;
  readonly dn: string;
  readonly name: string;
  readonly description: string | null;
  /** False once the group left the directory (op `removed`); the record stays as state. */
  readonly present: boolean;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
};

export type GroupEvent = {
  readonly eventId: string;
  readonly op: GroupOperation;
  readonly profileId: string;
  readonly externalId: string;
  readonly version: number;
  readonly state: GroupState;
  readonly changed: readonly string[];
  readonly rename: RenameInfo | null;
  readonly source: EventSource;
  readonly times: EventTimes;
  /**
   * Added in schema v2: the `policies.groupRoles` names (lower-cased) bound to this group after
   * this event — the group grants their roles. The poller decides them at the end of each pass;
   * empty on a removed group. Optional for producers; decoding sets it (null for v1 records: none).
   */
  readonly roleBindings?: readonly string[] | null;
};

export const MEMBERSHIP_OPERATIONS = ['added', 'removed'] as const;
export type MembershipOperation = (typeof MEMBERSHIP_OPERATIONS)[number];
export const MEMBER_TYPES = ['user', 'group'] as const;
export type MemberType = (typeof MEMBER_TYPES)[number];

/**
 * One direct edge the directory states (user→group or group→group). Effective (nested)
 * memberships are derived by consumers. A `removed` event is followed by a tombstone.
 */
export type MembershipEvent = {
  readonly eventId: string;
  readonly op: MembershipOperation;
  readonly profileId: string;
  readonly groupId: string;
  readonly memberId: string;
  readonly memberType: MemberType;
  readonly version: number;
  readonly source: EventSource;
  readonly times: EventTimes;
};

export const RUN_STATUSES = ['succeeded', 'failed', 'halted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type RunCounts = {
  readonly created: number;
  readonly updated: number;
  readonly renamed: number;
  readonly moved: number;
  readonly disabled: number;
  readonly enabled: number;
  readonly groupsCreated: number;
  readonly groupsUpdated: number;
  readonly groupsRemoved: number;
  readonly membershipsAdded: number;
  readonly membershipsRemoved: number;
  readonly errors: number;
  /** Entries read from the directory in this run. */
  readonly entriesRead: number;
};

export type RunError = {
  /** The entry at fault, when there is one. */
  readonly dn: string | null;
  readonly code: string;
  readonly message: string;
};

export type SyncRunEvent = {
  readonly eventId: string;
  readonly runId: string;
  readonly profileId: string;
  readonly directoryType: DirectoryType;
  readonly mode: SyncMode;
  readonly status: RunStatus;
  /** Why a run failed or halted (null when it succeeded). */
  readonly reason: string | null;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly counts: RunCounts;
  /** The first errors of the run (capped); `counts.errors` has the total. */
  readonly errors: readonly RunError[];
  readonly cursorBefore: string | null;
  readonly cursorAfter: string | null;
  /**
   * Added in schema v2 (schemas/sync-run/v2.avsc): the directory URL that answered, no
   * credentials. Optional for producers (encoded as null when left out); decoding always sets it
   * (null for records written with v1).
   */
  readonly server?: string | null;
  /**
   * Added in schema v3: milliseconds spent in each phase (users, groups, memberships, removals;
   * the set may grow). Optional for producers; decoding sets it (null for older records).
   */
  readonly phasesMs?: Readonly<Record<string, number>> | null;
};

export const RUN_DETAIL_KINDS = ['entry-errors', 'would-disable'] as const;
export type RunDetailKind = (typeof RUN_DETAIL_KINDS)[number];

/** A user a halted run held back instead of disabling. */
export type WouldDisable = {
  readonly externalId: string;
  readonly loginName: string;
  readonly dn: string;
  readonly reason: DisabledReason | null;
};

/**
 * One page of a run's details on `<prefix>.run-details`: every entry error of the run, and the
 * report of a halted run (every user it would have disabled). Pages are numbered per run and kind.
 */
export type RunDetailEvent = {
  /** Deterministic: eventIdFor('run-detail', profileId, runId, kind, page). */
  readonly eventId: string;
  readonly runId: string;
  readonly profileId: string;
  readonly kind: RunDetailKind;
  readonly page: number;
  /** True on the last page of this kind for the run. */
  readonly last: boolean;
  readonly entryErrors: readonly RunError[];
  readonly wouldDisable: readonly WouldDisable[];
  readonly emittedAt: number;
};

export const LIFECYCLE_TYPES = ['user-disabled', 'user-enabled'] as const;
export type LifecycleType = (typeof LIFECYCLE_TYPES)[number];

/** Downstream event published by the applier (via its outbox) on a real state transition. */
export type UserLifecycleEvent = {
  /** Deterministic: derived from type, profileId, externalId and version. */
  readonly eventId: string;
  readonly type: LifecycleType;
  readonly profileId: string;
  readonly externalId: string;
  readonly loginName: string;
  readonly reason: DisabledReason | null;
  /** The entity version whose apply caused the transition. */
  readonly version: number;
  /** The input event that caused it. */
  readonly causeEventId: string;
  readonly occurredAt: number;
};

export const AUTH_EVENT_RESULTS = [
  'success',
  'invalid-credentials',
  'account-disabled',
  'account-expired',
  'password-expired',
  'password-must-change',
  'account-locked',
  'logon-hours',
  'workstation-restricted',
  'rate-limited',
  'directory-unavailable',
  'invalid-request',
] as const;
export type AuthEventResult = (typeof AUTH_EVENT_RESULTS)[number];

/** One sign-in attempt through `dirstream serve` (never the password). */
export type AuthEvent = {
  /** A random UUID per attempt. */
  readonly eventId: string;
  readonly occurredAt: number;
  readonly result: AuthEventResult;
  readonly profileId: string | null;
  readonly externalId: string | null;
  /** As typed, at most 256 characters. */
  readonly login: string;
  readonly clientAddress: string;
  readonly latencyMs: number;
  readonly requestId: string;
  readonly firstSignIn: boolean;
};

export type DeadLetterEvent = {
  readonly sourceTopic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** A stable error code, e.g. EVENT_DECODE_FAILED. */
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly failedAt: number;
  readonly consumerGroup: string;
};

/** The record types of the contract, one schema folder each in schemas/. */
export const RECORD_TYPES = [
  'user-event',
  'group-event',
  'membership-event',
  'sync-run',
  'user-lifecycle',
  'dead-letter',
  'auth-event',
  'run-detail',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export type EventOf<T extends RecordType> = T extends 'user-event'
  ? UserEvent
  : T extends 'group-event'
    ? GroupEvent
    : T extends 'membership-event'
      ? MembershipEvent
      : T extends 'sync-run'
        ? SyncRunEvent
        : T extends 'user-lifecycle'
          ? UserLifecycleEvent
          : T extends 'auth-event'
            ? AuthEvent
            : T extends 'run-detail'
              ? RunDetailEvent
              : DeadLetterEvent;
