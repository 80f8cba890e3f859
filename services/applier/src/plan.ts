import type {
  GroupEvent,
  LifecycleType,
  MembershipEvent,
  RunDetailEvent,
  SyncRunEvent,
  UserEvent,
  UserLifecycleEvent,
} from '@dirstream/events';
import type { ErrorCode } from '@dirstream/errors';
import { eventIdFor, membershipKey, userKey } from '@dirstream/events';

/**
 * The pure core of the applier: decoded events + the rows they touch → the mutation to write.
 * No I/O here; the SQL adapter (apply.ts) reads the current rows, calls these, and writes the
 * result set-based in one transaction.
 */

export type ConflictPolicy = 'skip' | 'link' | 'fail';

export type ProfilePolicy = {
  readonly conflictPolicy: ConflictPolicy;
};

/** Only configured profiles are applied; anything else is a poison record. */
export type PlanContext = {
  readonly profiles: ReadonlyMap<string, ProfilePolicy>;
  /**
   * False in replay: transitions are still recorded in the outbox (so the outbox matches a live
   * database) but as already published, so nothing is announced twice.
   */
  readonly announce: boolean;
  readonly now: number;
};

export type Invalid = { readonly code: ErrorCode; readonly reason: string };

export type CurrentUser = {
  readonly id: number;
  readonly profileId: string | null;
  readonly externalId: string | null;
  readonly version: number;
  readonly enabled: boolean;
  readonly loginName: string;
  readonly sid: string | null;
};

export type OtherIdentity = { readonly profileId: string; readonly externalId: string; readonly sid: string | null };

/** A stored directory user holding a login name. */
export type LoginHolder = OtherIdentity & { readonly loginName: string };

export type UserLookup = {
  /** Rows with the batch's identities, keyed by userKey. */
  readonly current: ReadonlyMap<string, CurrentUser>;
  /** Local accounts not linked to any directory identity, by lower-cased login name. */
  readonly localByLogin: ReadonlyMap<string, CurrentUser>;
  /** Directory users of any profile sharing an external ID or SID with the batch. */
  readonly sameIdentity: readonly OtherIdentity[];
  /** Stored directory users whose lower-cased login name a new identity of the batch also has. */
  readonly sameLogin?: readonly LoginHolder[];
};

export type UserUpsert = {
  readonly profileId: string;
  readonly externalId: string;
  readonly event: UserEvent;
};

export type UserLink = { readonly localId: number; readonly profileId: string; readonly externalId: string };

export type OutboxRow = {
  readonly eventId: string;
  readonly type: LifecycleType;
  readonly profileId: string;
  readonly externalId: string;
  readonly recordKey: string;
  readonly payload: UserLifecycleEvent;
  readonly published: boolean;
};

export type LogRow = {
  readonly runId: string | null;
  readonly profileId: string | null;
  readonly entity: 'user' | 'group' | 'membership' | 'sync-run';
  readonly externalId: string;
  readonly op: string;
  readonly version: number;
  readonly changed: readonly string[] | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  /** A membership row's group (the row's externalId is the member); absent on other rows. */
  readonly relatedId?: string;
  /** What the changed-field list cannot say: old and new DN of a rename, a disable's reason. */
  readonly detail?: Readonly<Record<string, unknown>> | null;
};

export type UserPlan = {
  readonly upserts: readonly UserUpsert[];
  readonly links: readonly UserLink[];
  readonly outbox: readonly OutboxRow[];
  readonly log: readonly LogRow[];
};

export type MembershipUpsert = {
  readonly profileId: string;
  readonly groupId: string;
  readonly memberId: string;
  readonly memberType: 'user' | 'group';
  readonly present: boolean;
  readonly version: number;
  readonly runId: string;
};

/** Keeps, per key, the event with the highest version; on a tie the first, as the version guard would. */
export function latestByKey<T extends { readonly version: number }>(events: readonly T[], keyOf: (e: T) => string): T[] {
  const latest = new Map<string, T>();
  for (const event of events) {
    const key = keyOf(event);
    const seen = latest.get(key);
    if (seen === undefined || event.version > seen.version) latest.set(key, event);
  }
  return [...latest.values()];
}

function isVersion(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** Why a decoded user event cannot be applied (never retried), or null. */
export function validateUserEvent(event: UserEvent, key: string | null, ctx: PlanContext): Invalid | null {
  if (!ctx.profiles.has(event.profileId)) {
    return { code: 'APPLY_UNKNOWN_PROFILE', reason: `profile ${event.profileId} is not configured` };
  }
  if (event.externalId === '' || event.state.externalId !== event.externalId) {
    return { code: 'APPLY_INVALID_EVENT', reason: 'externalId is empty or differs from state.externalId' };
  }
  if (key !== null && key !== userKey(event.profileId, event.externalId)) {
    return { code: 'APPLY_KEY_MISMATCH', reason: 'record key does not match the event identity' };
  }
  if (event.state.loginName.trim() === '') return { code: 'APPLY_INVALID_EVENT', reason: 'loginName is empty' };
  if (!isVersion(event.version)) return { code: 'APPLY_INVALID_EVENT', reason: `version ${event.version} is invalid` };
  return null;
}

export function validateGroupEvent(event: GroupEvent, key: string | null, ctx: PlanContext): Invalid | null {
  if (!ctx.profiles.has(event.profileId)) {
    return { code: 'APPLY_UNKNOWN_PROFILE', reason: `profile ${event.profileId} is not configured` };
  }
  if (event.externalId === '' || event.state.externalId !== event.externalId) {
    return { code: 'APPLY_INVALID_EVENT', reason: 'externalId is empty or differs from state.externalId' };
  }
  if (key !== null && key !== userKey(event.profileId, event.externalId)) {
    return { code: 'APPLY_KEY_MISMATCH', reason: 'record key does not match the event identity' };
  }
  if (!isVersion(event.version)) return { code: 'APPLY_INVALID_EVENT', reason: `version ${event.version} is invalid` };
  return null;
}

export function validateMembershipEvent(event: MembershipEvent, key: string | null, ctx: PlanContext): Invalid | null {
  if (!ctx.profiles.has(event.profileId)) {
    return { code: 'APPLY_UNKNOWN_PROFILE', reason: `profile ${event.profileId} is not configured` };
  }
  if (event.groupId === '' || event.memberId === '') {
    return { code: 'APPLY_INVALID_EVENT', reason: 'groupId or memberId is empty' };
  }
  if (key !== null && key !== membershipKey(event.profileId, event.groupId, event.memberId)) {
    return { code: 'APPLY_KEY_MISMATCH', reason: 'record key does not match the edge' };
  }
  if (!isVersion(event.version)) return { code: 'APPLY_INVALID_EVENT', reason: `version ${event.version} is invalid` };
  return null;
}

export function validateSyncRun(event: SyncRunEvent, ctx: PlanContext): Invalid | null {
  if (!ctx.profiles.has(event.profileId)) {
    return { code: 'APPLY_UNKNOWN_PROFILE', reason: `profile ${event.profileId} is not configured` };
  }
  if (event.runId === '') return { code: 'APPLY_INVALID_EVENT', reason: 'runId is empty' };
  return null;
}

export function validateRunDetail(event: RunDetailEvent, ctx: PlanContext): Invalid | null {
  if (!ctx.profiles.has(event.profileId)) {
    return { code: 'APPLY_UNKNOWN_PROFILE', reason: `profile ${event.profileId} is not configured` };
  }
  if (event.runId === '') return { code: 'APPLY_INVALID_EVENT', reason: 'runId is empty' };
  if (!Number.isInteger(event.page) || event.page < 0) return { code: 'APPLY_INVALID_EVENT', reason: `page ${event.page} is invalid` };
  return null;
}

/** The lifecycle event a transition produces; its ID is deterministic so a retry cannot duplicate it. */
export function lifecycleEventFor(event: UserEvent, now: number): UserLifecycleEvent {
  const type: LifecycleType = event.state.enabled ? 'user-enabled' : 'user-disabled';
  return {
    eventId: eventIdFor('user-lifecycle', type, event.profileId, event.externalId, String(event.version)),
    type,
    profileId: event.profileId,
    externalId: event.externalId,
    loginName: event.state.loginName,
    reason: event.state.enabled ? null : event.state.disabledReason,
    version: event.version,
    causeEventId: event.eventId,
    occurredAt: event.times.changedAt ?? event.times.observedAt ?? now,
  };
}

function userLog(event: UserEvent, op: string, errorCode: ErrorCode | null, errorMessage: string | null): LogRow {
  return {
    runId: event.source.runId,
    profileId: event.profileId,
    entity: 'user',
    externalId: event.externalId,
    op,
    version: event.version,
    changed: errorCode === null ? event.changed : null,
    errorCode,
    errorMessage,
    detail: errorCode === null ? userDetail(event) : null,
  };
}

/** Old and new DN / login of a rename or move, and why a user is disabled. */
function userDetail(event: UserEvent): Record<string, unknown> | null {
  const detail: Record<string, unknown> = {};
  if (event.rename !== null) {
    detail.previousDn = event.rename.previousDn;
    detail.dn = event.state.dn;
    if (event.rename.previousLoginName !== null && event.rename.previousLoginName !== event.state.loginName) {
      detail.previousLoginName = event.rename.previousLoginName;
      detail.loginName = event.state.loginName;
    }
  }
  if (!event.state.enabled && event.state.disabledReason !== null) detail.disabledReason = event.state.disabledReason;
  return Object.keys(detail).length === 0 ? null : detail;
}

/**
 * Users: one mutation per identity (the highest version in the batch), guarded by the stored
 * version.
 *
 * Announcements: a lifecycle event is written only when a stored user's enabled flag flips. A
 * user seen for the first time is not announced, even when it arrives disabled: nobody downstream
 * was told it existed, and a replay into an empty database must not announce anything either.
 */
export function planUsers(events: readonly UserEvent[], lookup: UserLookup, ctx: PlanContext): UserPlan {
  const upserts: UserUpsert[] = [];
  const links: UserLink[] = [];
  const outbox: OutboxRow[] = [];
  const log: LogRow[] = [];
  const linkedLocals = new Set<number>();
  // Login names of the profile's directory users, to report two entries with one login (both are
  // kept: the directory is the source of truth, the application decides how to log in).
  const logins = new Map<string, string[]>();
  const loginKey = (profileId: string, login: string) => `${profileId}/${login.toLowerCase()}`;
  for (const other of lookup.sameLogin ?? []) {
    const key = loginKey(other.profileId, other.loginName);
    logins.set(key, [...(logins.get(key) ?? []), other.externalId]);
  }

  for (const event of latestByKey(events, (e) => userKey(e.profileId, e.externalId))) {
    const key = userKey(event.profileId, event.externalId);
    const current = lookup.current.get(key);
    if (current !== undefined && event.version <= current.version) continue;

    if (current === undefined) {
      const local = lookup.localByLogin.get(event.state.loginName.toLowerCase());
      if (local !== undefined && !linkedLocals.has(local.id)) {
        const policy = ctx.profiles.get(event.profileId)?.conflictPolicy ?? 'skip';
        const message = `a local account (id ${local.id}) has the login name ${event.state.loginName}`;
        if (policy === 'skip') {
          log.push(userLog(event, 'conflict-skipped', 'USER_LOCAL_ACCOUNT_CONFLICT', message));
          continue;
        }
        if (policy === 'fail') {
          log.push(userLog(event, 'conflict-failed', 'USER_LOCAL_ACCOUNT_CONFLICT', message));
          continue;
        }
        linkedLocals.add(local.id);
        links.push({ localId: local.id, profileId: event.profileId, externalId: event.externalId });
        log.push(userLog(event, 'linked', null, null));
      }

      const elsewhere = lookup.sameIdentity.filter(
        (other) =>
          other.profileId !== event.profileId &&
          (other.externalId === event.externalId || (event.state.sid !== null && other.sid === event.state.sid)),
      );
      for (const other of elsewhere) {
        log.push(
          userLog(
            event,
            'duplicate-identity',
            'USER_DUPLICATE_IDENTITY',
            `the same directory user is also synced by profile ${other.profileId} (external id ${other.externalId})`,
          ),
        );
      }

      const sameLogin = loginKey(event.profileId, event.state.loginName);
      const holders = (logins.get(sameLogin) ?? []).filter((id) => id !== event.externalId);
      if (holders.length > 0) {
        log.push(
          userLog(
            event,
            'duplicate-login',
            'USER_DUPLICATE_LOGIN',
            `the login name ${event.state.loginName} (${event.state.dn}) is also used by directory user ${holders.join(', ')} of this profile`,
          ),
        );
      }
      logins.set(sameLogin, [...holders, event.externalId]);
    }

    upserts.push({ profileId: event.profileId, externalId: event.externalId, event });
    log.push(userLog(event, event.op, null, null));

    if (current !== undefined && current.enabled !== event.state.enabled) {
      const payload = lifecycleEventFor(event, ctx.now);
      outbox.push({
        eventId: payload.eventId,
        type: payload.type,
        profileId: event.profileId,
        externalId: event.externalId,
        recordKey: key,
        payload,
        published: !ctx.announce,
      });
    }
  }
  return { upserts, links, outbox, log };
}

/** Groups: the latest state per identity, plus a log row for each one that is newer than stored. */
export function planGroups(
  events: readonly GroupEvent[],
  currentVersions: ReadonlyMap<string, number>,
): { upserts: GroupEvent[]; log: LogRow[] } {
  const upserts: GroupEvent[] = [];
  const log: LogRow[] = [];
  for (const event of latestByKey(events, (e) => userKey(e.profileId, e.externalId))) {
    const stored = currentVersions.get(userKey(event.profileId, event.externalId));
    if (stored !== undefined && event.version <= stored) continue;
    upserts.push(event);
    log.push({
      runId: event.source.runId,
      profileId: event.profileId,
      entity: 'group',
      externalId: event.externalId,
      op: event.op,
      version: event.version,
      changed: event.changed,
      errorCode: null,
      errorMessage: null,
      detail: event.rename === null ? null : { previousDn: event.rename.previousDn, dn: event.state.dn },
    });
  }
  return { upserts, log };
}

/**
 * Memberships: the latest event per edge becomes present/absent with its version. The version
 * guard is left to SQL (edges are not read first); a removal keeps its row so an older `added`
 * cannot resurrect the edge. Tombstones carry no version and always follow a `removed` event that
 * already did the work, so they change nothing.
 */
export function planMemberships(events: readonly MembershipEvent[]): MembershipUpsert[] {
  return latestByKey(events, (e) => membershipKey(e.profileId, e.groupId, e.memberId)).map((e) => ({
    profileId: e.profileId,
    groupId: e.groupId,
    memberId: e.memberId,
    memberType: e.memberType,
    present: e.op === 'added',
    version: e.version,
    runId: e.source.runId,
  }));
}

/**
 * The sync log rows of the edges a batch actually changed (the SQL version guard decides which):
 * one per edge, logged on the member (`externalId`) with its group in `relatedId`, so both the
 * member's and the group's timeline show it.
 */
export function logMembershipChanges(written: readonly MembershipUpsert[]): LogRow[] {
  return written.map((edge) => ({
    runId: edge.runId,
    profileId: edge.profileId,
    entity: 'membership',
    externalId: edge.memberId,
    relatedId: edge.groupId,
    op: edge.present ? 'added' : 'removed',
    version: edge.version,
    changed: null,
    errorCode: null,
    errorMessage: null,
    detail: { memberType: edge.memberType },
  }));
}

/** Sync runs: one row per run (the last event of a run wins). */
export function planSyncRuns(events: readonly SyncRunEvent[]): SyncRunEvent[] {
  const byRun = new Map<string, SyncRunEvent>();
  for (const event of events) {
    const seen = byRun.get(event.runId);
    if (seen === undefined || event.finishedAt >= seen.finishedAt) byRun.set(event.runId, event);
  }
  return [...byRun.values()];
}

export type RunErrorRow = {
  readonly runId: string;
  readonly profileId: string;
  readonly page: number;
  readonly position: number;
  readonly dn: string | null;
  readonly code: string;
  readonly message: string;
};

export type WouldDisableRow = {
  readonly runId: string;
  readonly profileId: string;
  readonly page: number;
  readonly position: number;
  readonly externalId: string;
  readonly loginName: string;
  readonly dn: string;
  readonly reason: string | null;
};

/**
 * Run-detail pages → one row per item, keyed by (run, page, position): a page delivered twice
 * maps to the same keys. A kind this build does not know is skipped (the set may grow).
 */
export function planRunDetails(events: readonly RunDetailEvent[]): { errors: RunErrorRow[]; wouldDisable: WouldDisableRow[] } {
  const errors: RunErrorRow[] = [];
  const wouldDisable: WouldDisableRow[] = [];
  for (const e of events) {
    const at = { runId: e.runId, profileId: e.profileId, page: e.page };
    if (e.kind === 'entry-errors') {
      e.entryErrors.forEach((err, position) => {
        errors.push({ ...at, position, dn: err.dn, code: err.code, message: err.message });
      });
    } else if (e.kind === 'would-disable') {
      e.wouldDisable.forEach((u, position) => {
        wouldDisable.push({ ...at, position, externalId: u.externalId, loginName: u.loginName, dn: u.dn, reason: u.reason });
      });
    }
  }
  return { errors, wouldDisable };
}
