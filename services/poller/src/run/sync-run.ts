import { createHash, randomUUID } from 'node:crypto';
import { type ProfileConfig, resolveDeltaMechanism, resolveUserMapping, userMappingAttributes } from '@dirstream/config';
import { createError, errorCode, toError } from '@dirstream/errors';
import {
  eventIdFor,
  type EventSource,
  type GroupEvent,
  type MembershipEvent,
  type RunCounts,
  type RunError,
  type RunStatus,
  type SyncMode,
  type SyncRunEvent,
  type UserEvent,
  type UserState,
} from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { type CurrentMember, diffEdges, diffGroup, diffUser, removeEdge, removeGroup, removeUser, restoreUser } from '../core/diff.ts';
import { type EventContext, groupEvent, membershipEvent, userEvent } from '../core/events.ts';
import { stateHash } from '../core/hash.ts';
import { chooseMode, decideRun } from '../core/safety.ts';
import type { EdgeChange, GroupChange, StoredGroup, UserChange } from '../core/types.ts';
import type { EventSink } from '../delivery/sink.ts';
import { connectDirectory, type DirectoryConnection } from '../directory/client.ts';
import type { DeltaChanges, DeltaKind, DeltaSource, Dialect } from '../directory/dialect.ts';
import { chunkedIdClauses } from '../directory/delta-timestamp.ts';
import { escapeFilterValue, normaliseDn } from '../directory/dn.ts';
import type { LdapEntry } from '../directory/entry.ts';
import { lookahead } from '../directory/lookahead.ts';
import { groupAttributeList, mapGroup, mapUser, readExternalId, resolveGroupReadMapping } from '../directory/mapping.ts';
import type { PollerDatabase, Session } from '../state/database.ts';
import { createRunScratch, createStateStore, type ResolvedMember, toStoredGroup, toStoredUser } from '../state/store.ts';
import { fitDelta } from './fit-delta.ts';
import { formerDnClauses } from './former-dn-clauses.ts';
import { markPresentIds } from './removal-check.ts';
import { createProgress } from './progress.ts';
import type { RunDetailsSink } from './run-details.ts';

export type RunHooks = {
  /** Called after Kafka acknowledged a batch and before its checkpoint (crash tests). */
  readonly afterProduce?: (info: { readonly batch: number }) => void | Promise<void>;
};

export type SyncDeps = {
  readonly profile: ProfileConfig;
  readonly dialect: Dialect;
  readonly db: PollerDatabase;
  /** A dedicated connection (the one holding the profile lock) for the run's scratch tables. */
  readonly session: Session;
  readonly sink: EventSink;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Dry run: nothing is checkpointed (the sink decides whether anything is sent). */
  readonly dryRun: boolean;
  readonly now?: () => number;
  readonly hooks?: RunHooks;
  readonly progressIntervalMs?: number;
  /** Where every entry error and a halted run's report go (the summary keeps the first 50). */
  readonly details?: RunDetailsSink;
};

export type SyncOptions = {
  readonly full?: boolean;
  readonly allowMassDisable?: boolean;
  /** Chosen by the caller when someone is waiting for this run (a sync request); else a new one. */
  readonly runId?: string;
};

export type SyncResult = {
  readonly runId: string;
  readonly mode: SyncMode;
  readonly status: RunStatus;
  readonly reason: string | null;
  readonly summary: SyncRunEvent;
  /** What a halted run would have disabled (first entries), for the report. */
  readonly wouldDisable: readonly string[];
};

type Counts = { -readonly [K in keyof RunCounts]: number };

const MAX_ERRORS_KEPT = 50;
/** Above this many changed entries a delta run becomes a full pass. */
const DELTA_LIMIT = 20_000;
const REMOVAL_PAGE = 500;
const GROUP_MEMBER_PAGE = 100;
const EDGE_SLICE = 5_000;

function zeroCounts(): Counts {
  return {
    created: 0,
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
    entriesRead: 0,
  };
}

/** The profile's page size, capped by the server's own limit (AD: MaxPageSize 1000). */
function pageSizeFor(profile: ProfileConfig, dialect: Dialect): number {
  return dialect.maxPageSize === undefined ? profile.connection.pageSize : Math.min(profile.connection.pageSize, dialect.maxPageSize);
}

function and(...filters: (string | null | undefined)[]): string {
  const parts = filters.filter((f): f is string => typeof f === 'string' && f.length > 0).map((f) => (f.startsWith('(') ? f : `(${f})`));
  if (parts.length === 1) return parts[0] as string;
  return `(&${parts.join('')})`;
}

/** The identity of a group's member list as read (normalised, order-free) and of how it is read. */
function membersHash(dns: readonly string[], logins: readonly string[], attributes: readonly string[], nested: boolean): string {
  return createHash('sha256')
    .update(JSON.stringify([nested, [...attributes].sort(), [...dns].sort(), [...logins].sort()]))
    .digest('base64url');
}

/** One sync run of one profile: read, diff, produce, checkpoint; then the summary on sync-runs. */
export async function syncProfile(deps: SyncDeps, options: SyncOptions = {}): Promise<SyncResult> {
  const { profile, dialect, db, session, sink, signal } = deps;
  const now = deps.now ?? Date.now;
  const runId = options.runId ?? randomUUID();
  const startedAt = now();
  const logger = deps.logger.child({ runId });
  const store = createStateStore(db, profile.id, runId);
  const scratch = createRunScratch(session, db, profile.id);
  const counts = zeroCounts();
  const errors: RunError[] = [];
  const recordError = (error: RunError) => {
    counts.errors++;
    if (errors.length < MAX_ERRORS_KEPT) errors.push(error);
    deps.details?.entryError(error);
    logger.warn({ dn: error.dn, code: error.code }, error.message);
  };

  const userMapping = resolveUserMapping(profile);
  const groupMapping = resolveGroupReadMapping(profile);
  let deltaKind = resolveDeltaMechanism(profile) as DeltaKind;
  const createDelta = (kind: DeltaKind): DeltaSource | null =>
    kind === 'none'
      ? null
      : dialect.createDelta(kind, {
          usersBaseDn: profile.users.baseDn,
          groupsBaseDn: profile.groups?.baseDn ?? null,
          idAttribute: userMapping.externalId,
          modifiedAttribute: userMapping.modified,
        });
  let delta = createDelta(deltaKind);
  /** Said in the run's reason when `auto` fell back below the directory type's best mechanism. */
  let deltaNote: string | null = null;
  const previous = await store.profileState();
  const usersBefore = await store.userCounts();
  let mode: SyncMode = chooseMode({
    forceFull: options.full === true || (previous !== null && previous.cursorKind !== deltaKind),
    hasDelta: delta !== null,
    cursor: previous?.cursor ?? null,
    lastFullAtMs: previous?.lastFullAtMs ?? null,
    fullEverySeconds: profile.schedule.fullEverySeconds,
    nowMs: startedAt,
  });
  const cursorBefore = previous?.cursor ?? null;
  let cursorAfter: string | null = cursorBefore;
  let server = profile.connection.urls[0] ?? '';
  let complete = true;
  let incompleteReason: string | null = null;
  let status: RunStatus = 'succeeded';
  let reason: string | null = null;
  let wouldDisable: string[] = [];
  let batchNo = 0;
  let position: string | null = null;
  const allowMassDisable = options.allowMassDisable === true || profile.policies.allowMassDisable;
  const progress = createProgress(logger, {
    intervalMs: deps.progressIntervalMs ?? 10_000,
    tty: process.stderr.isTTY === true && !deps.dryRun,
    label: profile.name,
  });
  const changedAtOf = new Map<string, number | null>();
  /** Set when this run changed what a member DN or login resolves to: no member list is skipped then. */
  let resolutionChanged = false;
  // A disabling change waits for the safety decision before it reaches the state, but a group
  // read in the same pass may already list the user under its new DN or login: those held-back
  // identities answer member resolution too (only renamed/moved ones, so this stays small).
  const heldByDn = new Map<string, ResolvedMember>();
  const heldByLogin = new Map<string, ResolvedMember>();
  const phases: Record<string, number> = {};
  let phaseStarted = now();
  const phaseDone = (name: string) => {
    const t = now();
    phases[name] = t - phaseStarted;
    phaseStarted = t;
  };

  const source = (): EventSource => ({
    profileId: profile.id,
    directoryType: profile.directory,
    server,
    position,
    runId,
    mode,
  });

  /**
   * Produces a batch, then (once `stored`, the previous batch's checkpoint, settled) checkpoints
   * it: a batch is acknowledged before it is stored, and batches are stored in order.
   * `onAcked` is called once the batch is acknowledged and the previous one stored, before this
   * checkpoint (on failure the caller calls it).
   */
  async function emit(
    users: readonly UserChange[],
    groups: readonly GroupChange[],
    edges: readonly EdgeChange[],
    membersHashes: readonly { groupId: string; hash: string | null }[] = [],
    stored: Promise<void> = Promise.resolve(),
    onAcked: () => void = () => undefined,
  ): Promise<void> {
    if (users.length === 0 && groups.length === 0 && edges.length === 0) {
      onAcked();
      await stored;
      if (membersHashes.length > 0 && !deps.dryRun) await store.checkpoint({ membersHashes });
      return;
    }
    for (const c of users) if (c.op === 'created' || c.op === 'enabled' || c.rename !== null || c.changed.includes('loginName')) resolutionChanged = true;
    for (const c of groups) if (c.op === 'created' || c.rename !== null) resolutionChanged = true;
    const t = now();
    const ctx: EventContext = { source: source(), observedAt: t, emittedAt: t };
    const userEvents: UserEvent[] = users.map((c) => userEvent(c, changedAtOf.get(c.externalId) ?? null, ctx));
    const groupEvents: GroupEvent[] = groups.map((c) => groupEvent(c, changedAtOf.get(c.externalId) ?? null, ctx));
    const membershipEvents: MembershipEvent[] = edges.map((c) => membershipEvent(c, ctx));
    const sent = await sink.send({ users: userEvents, groups: groupEvents, memberships: membershipEvents });
    await stored;
    batchNo++;
    await deps.hooks?.afterProduce?.({ batch: batchNo });
    // The next batch is produced while this one is checkpointed (not earlier: a crash right after
    // this acknowledgement leaves only this batch acknowledged and not stored).
    onAcked();
    // An event above the size limit was not produced, so it is not stored either: the entry
    // stays as it was and is read and tried again on the next pass.
    const rejected = sent.rejected;
    for (const r of rejected) {
      recordError({ dn: r.dn, code: 'ENTRY_TOO_LARGE', message: `the ${r.kind} event is ${r.bytes} bytes, above the limit of ${r.limit} (kafka.maxEventBytes)` });
    }
    const tooLarge = new Set(rejected.map((r) => `${r.kind}:${r.externalId}`));
    const storedUsers = tooLarge.size === 0 ? users : users.filter((c) => !tooLarge.has(`user:${c.externalId}`));
    const storedGroups = tooLarge.size === 0 ? groups : groups.filter((c) => !tooLarge.has(`group:${c.externalId}`));
    if (!deps.dryRun) await store.checkpoint({ users: storedUsers, groups: storedGroups, edges, membersHashes });
    for (const c of storedUsers) {
      if (c.op === 'created') counts.created++;
      else if (c.op === 'updated') counts.updated++;
      else if (c.op === 'renamed') counts.renamed++;
      else if (c.op === 'moved') counts.moved++;
      else if (c.op === 'disabled') counts.disabled++;
      else if (c.op === 'enabled') counts.enabled++;
    }
    for (const c of storedGroups) {
      if (c.op === 'created') counts.groupsCreated++;
      else if (c.op === 'removed') counts.groupsRemoved++;
      else counts.groupsUpdated++;
    }
    for (const c of edges) {
      if (c.op === 'added') counts.membershipsAdded++;
      else counts.membershipsRemoved++;
    }
    for (const c of users) changedAtOf.delete(c.externalId);
    for (const c of groups) changedAtOf.delete(c.externalId);
  }

  // Page N is checkpointed while page N+1 is produced and page N+2 is read and diffed; produces
  // and checkpoints each stay in order (each waits for the previous one), a checkpoint follows its
  // own acknowledgement, a produce follows the checkpoint before the previous batch, and a phase
  // ends only when its emits are all stored.
  let inFlight: Promise<void> = Promise.resolve();
  let producing: Promise<void> = Promise.resolve();
  let emitFailure: unknown = null;
  async function queueEmit(
    users: readonly UserChange[],
    groups: readonly GroupChange[],
    edges: readonly EdgeChange[],
    membersHashes: readonly { groupId: string; hash: string | null }[] = [],
  ): Promise<void> {
    // Back-pressure: one batch producing and one checkpointing, never a backlog.
    await producing;
    if (emitFailure !== null) throw emitFailure;
    const { promise: acked, resolve: onAcked } = Promise.withResolvers<void>();
    producing = acked;
    inFlight = emit(users, groups, edges, membersHashes, inFlight, onAcked);
    inFlight.catch((cause: unknown) => {
      emitFailure ??= cause;
      onAcked();
    });
  }
  async function flushEmits(): Promise<void> {
    await inFlight;
  }

  let directory: DirectoryConnection | null = null;
  let scratchOpen = false;
  try {
    await scratch.open();
    scratchOpen = true;
    directory = await connectDirectory(profile.connection, logger);
    server = directory.url;
    const conn = directory;
    // The mechanism the server offers (probed): a change of mechanism makes this pass full.
    const fitted = await fitDelta(profile, conn);
    logger.info({ delta: fitted.kind, why: fitted.why, cannotSee: fitted.cannotSee }, `delta mechanism: ${fitted.kind}`);
    if (fitted.fallback) deltaNote = `delta ${fitted.kind} (${fitted.why}); until the next full pass it cannot see ${fitted.cannotSee}`;
    if (fitted.kind !== deltaKind) {
      deltaKind = fitted.kind as DeltaKind;
      delta = createDelta(deltaKind);
      mode = chooseMode({
        forceFull: options.full === true || (previous !== null && previous.cursorKind !== deltaKind),
        hasDelta: delta !== null,
        cursor: previous?.cursor ?? null,
        lastFullAtMs: previous?.lastFullAtMs ?? null,
        fullEverySeconds: profile.schedule.fullEverySeconds,
        nowMs: startedAt,
      });
    }

    let changes: DeltaChanges | null = null;
    if (mode === 'delta' && delta && cursorBefore !== null) {
      try {
        changes = await delta.changesSince(conn, cursorBefore, profile.schedule.overlapSeconds, DELTA_LIMIT);
        position = changes.nextCursor;
      } catch (cause) {
        const code = errorCode(cause);
        // DELTA_CURSOR_INVALID: the cursor belongs to another server (AD: another or restored DC).
        if (code !== 'DELTA_TOO_LARGE' && code !== 'DELTA_CURSOR_INVALID') throw cause;
        logger.info({ err: cause }, code === 'DELTA_TOO_LARGE' ? 'delta too large, running a full pass' : 'delta cursor not valid here, running a full pass');
        mode = 'full';
      }
    }
    const fullCursor = mode === 'full' && delta ? await delta.startCursor(conn, startedAt, profile.schedule.overlapSeconds) : null;
    logger.info({ mode, delta: deltaKind, cursor: cursorBefore, server, dryRun: deps.dryRun }, 'sync run started');

    const clauses: readonly (string | null)[] = mode === 'full' ? [null] : (changes?.clauses ?? []);
    const found = new Set<string>();
    /** Users that entered the scope in a delta: groups already listing them are re-read too. */
    const entered: { dn: string; login: string }[] = [];
    let usersRead = 0;
    let idless = 0;

    // ---- users ----
    const disabledRule = dialect.disabledFilter(profile.users.disabledFilter);
    const userFilter = userMapping.filter ?? dialect.defaultUserFilter;
    const userAttributes = [...new Set([...userMappingAttributes(userMapping), ...dialect.extraUserAttributes])];
    const variants: { filter: (clause: string | null) => string; disabled: boolean }[] = disabledRule
      ? [
          { filter: (c) => and(userFilter, c, `(!${disabledRule.startsWith('(') ? disabledRule : `(${disabledRule})`})`), disabled: false },
          { filter: (c) => and(userFilter, c, disabledRule), disabled: true },
        ]
      : [{ filter: (c) => and(userFilter, c), disabled: false }];

    async function processUserPage(page: readonly LdapEntry[], disabled: boolean): Promise<void> {
      usersRead += page.length;
      counts.entriesRead += page.length;
      const mapped = page.map((entry) => mapUser(entry, userMapping, dialect, disabled));
      const ids: string[] = [];
      for (const m of mapped) {
        if (m.externalId !== null) ids.push(m.externalId);
        if (!m.ok) {
          if (m.externalId === null) idless++;
          recordError(m.error);
        }
      }
      for (const id of ids) if (mode === 'delta') found.add(id);
      const ok = mapped.filter((m) => m.ok);
      // Compare hashes first: the stored state is read only for entries that changed.
      const [heads] = await Promise.all([
        store.loadUserHeads(ok.map((m) => m.externalId)),
        mode === 'full' ? scratch.markSeen('user', ids) : undefined,
      ]);
      const candidates: { m: (typeof ok)[number]; state: UserState; hash: string }[] = [];
      for (const m of ok) {
        let state = m.state;
        const head = heads.get(m.externalId);
        // "Synchronize only groups" decides after the groups were read: keep its verdict until then.
        if (profile.policies.onlyGroupMembers && state.enabled && head?.disabledReason === 'not-in-synced-group') {
          state = { ...state, enabled: false, disabledReason: 'not-in-synced-group' };
        }
        const hash = stateHash(state);
        if (head?.present && head.hash === hash) continue;
        candidates.push({ m, state, hash });
      }
      const prev = await store.loadUsers(candidates.filter((c) => heads.has(c.m.externalId)).map((c) => c.m.externalId));
      const direct: UserChange[] = [];
      const held: UserChange[] = [];
      const t = now();
      for (const { m, state } of candidates) {
        const before = prev.get(m.externalId) ?? null;
        const change = diffUser(before, state, t);
        if (!change) continue;
        if (mode === 'delta' && (before === null || !before.present)) entered.push({ dn: state.dn, login: state.loginName });
        changedAtOf.set(change.externalId, m.changedAt);
        // Disabling changes wait for the safety decision at the end of the run.
        if (change.disables) {
          held.push(change);
          if (change.rename !== null || change.changed.includes('loginName')) {
            const member: ResolvedMember = { memberId: change.externalId, memberType: 'user' };
            heldByDn.set(normaliseDn(change.state.dn), member);
            heldByLogin.set(change.state.loginName.toLowerCase(), member);
            resolutionChanged = true;
          }
        } else direct.push(change);
      }
      await scratch.holdBack(held);
      await queueEmit(direct, [], []);
      progress.add(page.length, 'users');
    }

    /** The entries with these IDs below `base` (whatever the filter): ID → normalised DN. */
    async function findByIds(
      connection: DirectoryConnection,
      lookup: { ids: readonly string[]; base: string; scope: 'base' | 'one' | 'sub'; attribute: string },
    ): Promise<Map<string, string>> {
      const out = new Map<string, string>();
      for (const clause of chunkedIdClauses([...new Set(lookup.ids)], (id) => dialect.idFilter(lookup.attribute, id))) {
        const entries = await connection.searchAll({
          baseDn: lookup.base,
          scope: lookup.scope,
          filter: clause,
          attributes: [lookup.attribute],
          binary: dialect.binaryAttributes,
          ignoreReferrals: dialect.ignoreReferrals,
        });
        for (const entry of entries) {
          const id = readExternalId(entry, lookup.attribute, dialect);
          if (id !== null) out.set(id, normaliseDn(entry.dn));
        }
      }
      return out;
    }

    /** Which of these user IDs still exist below the users base, whatever the filter. */
    async function existingIds(connection: DirectoryConnection, ids: readonly string[]): Promise<Set<string>> {
      if (usersBaseMissing) return new Set();
      const found = await findByIds(connection, { ids, base: profile.users.baseDn, scope: profile.users.scope, attribute: userMapping.externalId });
      return new Set(found.keys());
    }

    /** The normalised DNs the directory holds now for these members (users base, groups base). */
    async function currentDns(connection: DirectoryConnection, members: readonly EdgeChange[]): Promise<Map<string, string>> {
      const idsOf = (type: EdgeChange['memberType']) => members.filter((m) => m.memberType === type).map((m) => m.memberId);
      const users = await findByIds(connection, { ids: idsOf('user'), base: profile.users.baseDn, scope: profile.users.scope, attribute: userMapping.externalId });
      if (!profile.groups || !groupMapping) return users;
      const groups = await findByIds(connection, { ids: idsOf('group'), base: profile.groups.baseDn, scope: profile.groups.scope, attribute: groupMapping.externalId });
      return new Map([...users, ...groups]);
    }

    let usersBaseMissing = false;
    for (const clause of clauses) {
      for (const variant of variants) {
        const pages = lookahead(conn.searchPages(
          {
            baseDn: profile.users.baseDn,
            scope: profile.users.scope,
            filter: variant.filter(clause),
            attributes: userAttributes,
            binary: dialect.binaryAttributes,
            ignoreReferrals: dialect.ignoreReferrals,
            pageSize: pageSizeFor(profile, dialect),
          },
          signal,
        ));
        try {
          for await (const page of pages) await processUserPage(page, variant.disabled);
        } catch (cause) {
          // A base DN that does not exist reads as "no users": the zero-entries rule decides below.
          if (errorCode(cause) !== 'LDAP_NO_SUCH_OBJECT' || usersRead > 0) throw cause;
          usersBaseMissing = true;
        }
      }
    }
    if (usersBaseMissing && (mode === 'delta' || usersBefore.present === 0)) {
      throw createError('LDAP_NO_SUCH_OBJECT', `users base DN ${profile.users.baseDn} does not exist`, { retriable: false });
    }

    await flushEmits();
    phaseDone('users');
    // ---- groups: entities first (so group→group members resolve), then the edges ----
    if (profile.groups && groupMapping) {
      const groups = profile.groups;
      const groupFilter = groupMapping.filter ?? dialect.defaultGroupFilter;
      // A group may list a user before the user entered the scope (created, back in the filter):
      // no change of the group marks it, so a delta re-reads the groups naming these users.
      // 50 users a clause: one part per member attribute each.
      const memberClauses = chunkedIdClauses(
        entered.flatMap((u) =>
          groupMapping.memberAttributes.map((attribute) =>
            attribute === 'memberUid' ? `(memberUid=${escapeFilterValue(u.login)})` : `(${attribute}=${escapeFilterValue(u.dn)})`,
          ),
        ),
        (part) => part,
        50 * groupMapping.memberAttributes.length,
      );
      // Groups still naming a member by a DN it left in an earlier pass (no refint, or refint not
      // covering the group) hold a dangling reference now: a delta re-reads them too.
      const formerClauses = mode === 'full' ? [] : await formerDnClauses(store, (id) => dialect.idFilter(groupMapping.externalId, id));
      const groupClauses: readonly (string | null)[] = mode === 'full' ? clauses : [...clauses, ...memberClauses, ...formerClauses];
      for (const clause of groupClauses) {
        for await (const page of lookahead(conn.searchPages(
          {
            baseDn: groups.baseDn,
            scope: groups.scope,
            filter: and(groupFilter, clause),
            attributes: [...groupAttributeList(groupMapping, false), ...dialect.extraGroupAttributes],
            binary: dialect.binaryAttributes,
            ignoreReferrals: dialect.ignoreReferrals,
            pageSize: pageSizeFor(profile, dialect),
          },
          signal,
        ))) {
          counts.entriesRead += page.length;
          const mapped = page.map((entry) => mapGroup(entry, groupMapping, dialect));
          const ids: string[] = [];
          for (const m of mapped) {
            if (m.externalId !== null) ids.push(m.externalId);
            if (!m.ok) {
              if (m.externalId === null) idless++;
              recordError(m.error);
            }
          }
          for (const id of ids) if (mode === 'delta') found.add(id);
          if (mode === 'full') await scratch.markSeen('group', ids);
          const ok = mapped.filter((m) => m.ok);
          const prev = await store.loadGroups(ok.map((m) => m.externalId));
          const t = now();
          const out: GroupChange[] = [];
          for (const m of ok) {
            const change = diffGroup(prev.get(m.externalId) ?? null, m.state, t);
            if (change) {
              changedAtOf.set(change.externalId, m.changedAt);
              out.push(change);
            }
          }
          await queueEmit([], out, []);
          progress.add(page.length, 'groups');
        }
        await flushEmits();
      }
      await flushEmits();
      phaseDone('groups');
      let unresolved = 0;
      for (const clause of groupClauses) {
        for await (const page of lookahead(conn.searchPages(
          {
            baseDn: groups.baseDn,
            scope: groups.scope,
            filter: and(groupFilter, clause),
            attributes: [groupMapping.externalId, ...groupMapping.memberAttributes],
            binary: dialect.binaryAttributes,
            ignoreReferrals: dialect.ignoreReferrals,
            pageSize: GROUP_MEMBER_PAGE,
          },
          signal,
        ))) {
          const listed: { groupId: string; groupDn: string; dns: string[]; logins: string[] }[] = [];
          for (const entry of page) {
            const groupId = readExternalId(entry, groupMapping.externalId, dialect);
            if (groupId === null) continue;
            const members = await dialect.readMembers(entry, groupMapping, conn);
            listed.push({
              groupId,
              groupDn: entry.dn,
              dns: members.dns.map(normaliseDn),
              logins: members.loginNames.map((l) => l.toLowerCase()),
            });
          }
          // A group whose member list is unchanged since its edges were last stored (and which had
          // no unresolved member) is skipped, unless this run changed what DNs resolve to.
          const known = await store.loadGroups(listed.map((g) => g.groupId));
          const present = listed.filter((g) => known.get(g.groupId)?.state.present === true);
          const hashes = new Map(present.map((g) => [g.groupId, membersHash(g.dns, g.logins, groupMapping.memberAttributes, groups.nested)]));
          const unchanged = resolutionChanged ? [] : present.filter((g) => known.get(g.groupId)?.membersHash === hashes.get(g.groupId));
          const dangling = await store.earlierFormerDns(unchanged.flatMap((g) => g.dns));
          const work = resolutionChanged
            ? present
            : present.filter((g) => known.get(g.groupId)?.membersHash !== hashes.get(g.groupId) || g.dns.some((dn) => dangling.has(dn)));
          const [resolved, previousEdges] = await Promise.all([
            store.resolveMembers(
              work.flatMap((g) => g.dns),
              work.flatMap((g) => g.logins),
            ),
            store.loadEdges(work.map((g) => g.groupId)),
          ]);
          const t = now();
          const edges: EdgeChange[] = [];
          const stored: { groupId: string; hash: string | null }[] = [];
          const diffs: { groupId: string; missingDns: Set<string>; missing: number; viaFormerDn: boolean; added: EdgeChange[]; removed: EdgeChange[] }[] = [];
          for (const g of work) {
            const current: CurrentMember[] = [];
            const missingDns = new Set<string>();
            let missing = 0;
            const viaFormerDn = g.dns.some((dn) => resolved.formerDns.has(dn));
            for (const dn of g.dns) {
              const member = resolved.byDn.get(dn) ?? heldByDn.get(dn);
              if (!member) {
                missing++;
                missingDns.add(dn);
              } else if (member.memberType === 'user' || groups.nested) current.push(member);
            }
            for (const login of g.logins) {
              const member = resolved.byLogin.get(login) ?? heldByLogin.get(login);
              if (member) current.push(member);
              else missing++;
            }
            unresolved += missing;
            // Members outside the synced users and groups (another OU, computers, a dangling DN
            // the server kept) are normal in real directories: reported per group, not errors.
            if (missing > 0) {
              const example = missingDns.values().next().value ?? g.logins.find((l) => !resolved.byLogin.has(l));
              logger.info({ dn: g.groupDn, unresolved: missing, example }, 'group members outside the synced users and groups were skipped');
            }
            diffs.push({ groupId: g.groupId, missingDns, missing, viaFormerDn, ...diffEdges(g.groupId, previousEdges.get(g.groupId) ?? new Map(), current, t) });
          }
          // A member renamed after this run read the users (or refint already rewrote the group
          // for a rename the state has not seen yet) is listed under a DN the state does not know:
          // before an edge is removed, the member's current DN is asked from the directory.
          const doubtful = diffs.filter((d) => d.removed.length > 0 && d.missingDns.size > 0);
          if (doubtful.length > 0) {
            const dnOf = await currentDns(conn, doubtful.flatMap((d) => d.removed));
            for (const d of doubtful) {
              d.removed = d.removed.filter((e) => {
                const dn = dnOf.get(e.memberId);
                return dn === undefined || !d.missingDns.has(dn) || (e.memberType === 'group' && !groups.nested);
              });
            }
          }
          for (const d of diffs) {
            for (const edge of d.added) edges.push(edge);
            for (const edge of d.removed) edges.push(edge);
            // A member found through its former DN counts for this pass only: the group is read again next time.
            const hash = d.missing === 0 && !d.viaFormerDn ? (hashes.get(d.groupId) ?? null) : null;
            if (hash !== known.get(d.groupId)?.membersHash) stored.push({ groupId: d.groupId, hash });
          }
          // A page with very large groups is produced in slices: memory follows the slice, not the
          // page. The member-list hashes go with the last slice, once every edge of the page is stored.
          const slices = Math.max(1, Math.ceil(edges.length / EDGE_SLICE));
          for (let i = 0; i < slices; i++) {
            await queueEmit([], [], edges.slice(i * EDGE_SLICE, (i + 1) * EDGE_SLICE), i === slices - 1 ? stored : []);
          }
        }
        // A group matching several delta clauses must see the edges its first reading stored.
        await flushEmits();
      }
      await flushEmits();
      phaseDone('memberships');
      if (unresolved > 0) logger.info({ unresolved }, 'member values outside the synced users and groups were skipped in total');
    }

    // ---- removals: decided only on a complete read ----
    const removedGroups: StoredGroup[] = [];
    const goneMembers: string[] = [];
    if (idless > 0) {
      complete = false;
      incompleteReason = `${idless} entries had no ${userMapping.externalId}: absence cannot be decided`;
    }
    // Timestamp deltas cannot list deletions or entries leaving the filter: the removal check reads
    // the IDs only and lets the full pass's absence logic decide (docs/delta-mechanisms.md).
    let removalChecked = false;
    let idsRead = 0;
    if (complete && mode === 'delta' && deltaKind === 'timestamp' && profile.schedule.removalCheck !== false) {
      const page = pageSizeFor(profile, dialect);
      idsRead = await markPresentIds(
        conn,
        scratch,
        { kind: 'user', baseDn: profile.users.baseDn, scope: profile.users.scope, filter: userFilter, idAttribute: userMapping.externalId, dialect, pageSize: page },
        signal,
      );
      if (profile.groups && groupMapping) {
        await markPresentIds(
          conn,
          scratch,
          {
            kind: 'group',
            baseDn: profile.groups.baseDn,
            scope: profile.groups.scope,
            filter: groupMapping.filter ?? dialect.defaultGroupFilter,
            idAttribute: groupMapping.externalId,
            dialect,
            pageSize: page,
          },
          signal,
        );
      }
      removalChecked = true;
      phaseDone('removal check');
    }
    // "Synchronize only groups" is decided on every pass: a delta that changed memberships (or
    // created a user) must not leave a user outside every synced group enabled until the full pass.
    if (complete && profile.policies.onlyGroupMembers && profile.groups) {
      for (let after = ''; ; ) {
        const page = await store.usersWithoutGroup(after, REMOVAL_PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1]?.externalId as string;
        const t = now();
        await scratch.holdBack(page.filter((u) => u.state.enabled).map((u) => removeUser(u, 'not-in-synced-group', 'disable', t)).filter((c): c is UserChange => c !== null));
      }
      for (let after = ''; ; ) {
        const page = await store.usersBackInGroup(after, REMOVAL_PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1]?.externalId as string;
        const t = now();
        await emit(page.map((u) => restoreUser(u, t)).filter((c): c is UserChange => c !== null), [], []);
      }
    }
    if (complete && (mode === 'full' || removalChecked)) {
      for (let after = ''; ; ) {
        const rows = await scratch.unseen('user', after, REMOVAL_PAGE);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]?.external_id as string;
        // Still below the users base but no longer matching the filter → outside-filter.
        const stillThere = await existingIds(conn, rows.map((r) => r.external_id));
        const t = now();
        const changesOut = rows
          .map((r) =>
            removeUser(
              toStoredUser(r),
              stillThere.has(r.external_id) ? 'outside-filter' : 'removed-from-directory',
              profile.policies.removedUsers,
              t,
            ),
          )
          .filter((c): c is UserChange => c !== null);
        await scratch.holdBack(changesOut);
        // A user that left the profile's scope keeps no direct edges (without refint a group may still list it).
        for (const c of changesOut) if (!c.present) goneMembers.push(c.externalId);
      }
      for (let after = ''; ; ) {
        const rows = await scratch.unseen('group', after, REMOVAL_PAGE);
        if (rows.length === 0) break;
        after = rows[rows.length - 1]?.external_id as string;
        for (const row of rows) removedGroups.push(toStoredGroup(row));
        // Bounded by the group count of a profile (thousands), not by users.
      }
    }
    if (complete && mode === 'delta' && changes) {
      const deletedUsers = await store.loadUsers(changes.deletedIds);
      const deletedGroups = await store.loadGroups(changes.deletedIds);
      const left = (changes.requestedIds ?? []).filter((id) => !found.has(id));
      const leftUsers = await store.loadUsers(left);
      const leftGroups = await store.loadGroups(left);
      const t = now();
      const held: UserChange[] = [];
      for (const u of deletedUsers.values()) {
        if (!u.present) continue;
        const c = removeUser(u, 'removed-from-directory', profile.policies.removedUsers, t);
        if (c) held.push(c);
      }
      for (const u of leftUsers.values()) {
        if (!u.present) continue;
        const c = removeUser(u, 'outside-filter', profile.policies.removedUsers, t);
        if (c) held.push(c);
      }
      await scratch.holdBack(held);
      for (const g of [...deletedGroups.values(), ...leftGroups.values()]) if (g.present) removedGroups.push(g);
      // Refint rewrites `member` when a member is deleted without touching the group's
      // modifyTimestamp or entryCSN: derive those edge removals from the state.
      // Applied with the removals, after the safety decision.
      for (const id of deletedUsers.keys()) goneMembers.push(id);
      for (const id of leftUsers.keys()) goneMembers.push(id);
    }

    if (complete) {
      const disables = await scratch.heldBackDisables();
      const decision = decideRun({
        // The removal check is an enumeration: zero IDs where many were known halts, as in a full pass.
        mode: removalChecked ? 'full' : mode,
        complete,
        incompleteReason,
        usersRead: removalChecked ? idsRead : usersRead,
        usersKnown: usersBefore.present,
        enabledBefore: usersBefore.enabled,
        disables,
        maxDisableCount: profile.policies.maxDisableCount,
        maxDisablePercent: profile.policies.maxDisablePercent,
        allowMassDisable,
      });
      if (decision.action === 'apply') {
        for (let after = ''; ; ) {
          const page = await scratch.heldBack(after, REMOVAL_PAGE);
          if (page.length === 0) break;
          after = page[page.length - 1]?.externalId as string;
          await emit(page, [], []);
        }
        for (let i = 0; i < goneMembers.length; i += REMOVAL_PAGE) {
          const stale = await store.edgesTouching(goneMembers.slice(i, i + REMOVAL_PAGE));
          const t = now();
          await emit([], [], stale.map((e) => removeEdge(e, t)));
        }
        // removedGroups: keep ("do not remove"): the group stays present with its last edges.
        if (profile.policies.removedGroups === 'keep' && removedGroups.length > 0) {
          logger.info({ groups: removedGroups.length }, 'groups gone from the directory kept (policies.removedGroups: keep)');
          removedGroups.length = 0;
        }
        for (let i = 0; i < removedGroups.length; i += REMOVAL_PAGE) {
          const chunk = removedGroups.slice(i, i + REMOVAL_PAGE);
          const t = now();
          const edges = await store.edgesTouching(chunk.map((g) => g.externalId));
          await emit(
            [],
            chunk.map((g) => removeGroup(g, t)).filter((c): c is GroupChange => c !== null),
            edges.map((e) => removeEdge(e, t)),
          );
        }
        cursorAfter = mode === 'full' ? fullCursor : (changes?.nextCursor ?? cursorBefore);
      } else {
        status = decision.action === 'halt' ? 'halted' : 'failed';
        reason = decision.reason;
        wouldDisable = (await scratch.heldBack('', 200)).filter((c) => c.disables).slice(0, 20).map((c) => `${c.state.loginName} (${c.state.dn}) ${c.state.disabledReason}`);
        logger.warn({ disables, removedGroups: removedGroups.length, examples: wouldDisable }, `run halted: ${decision.reason}`);
        // The report: every user the run held back from disabling, not only the examples.
        for (let after = ''; deps.details; ) {
          const page = await scratch.heldBack(after, REMOVAL_PAGE);
          if (page.length === 0) break;
          after = page[page.length - 1]?.externalId as string;
          await deps.details.wouldDisable(page.filter((c) => c.disables));
        }
      }
    } else {
      status = 'failed';
      reason = `incomplete read: ${incompleteReason}; nothing removed or disabled`;
    }
  } catch (cause) {
    // Let an emit still in flight settle: the summary must not overtake it.
    await inFlight.catch(() => undefined);
    const err = toError(cause);
    status = 'failed';
    complete = false;
    const code = errorCode(err) ?? 'RUN_FAILED';
    reason =
      code === 'RUN_ABORTED'
        ? 'aborted: shutting down'
        : code.startsWith('LDAP_')
          ? `incomplete read: ${err.message}; nothing removed or disabled`
          : `${code}: ${err.message}; the state was not advanced past what Kafka acknowledged`;
    // A failure to deliver or to store is not an entry error; record it with its code.
    recordError({ dn: null, code, message: err.message });
    logger.error({ err }, 'sync run failed');
  } finally {
    phaseDone('removals');
    progress.done();
    if (directory) await directory.close();
    if (scratchOpen) await scratch.close();
  }

  if (status === 'succeeded' && reason === null) reason = deltaNote;
  const finishedAt = now();
  const summary: SyncRunEvent = {
    eventId: eventIdFor('sync-run', profile.id, runId),
    runId,
    profileId: profile.id,
    directoryType: profile.directory,
    mode,
    status,
    reason,
    startedAt,
    finishedAt,
    counts: { ...counts },
    errors,
    cursorBefore,
    cursorAfter: status === 'succeeded' ? cursorAfter : cursorBefore,
    phasesMs: phases,
  };
  if (!deps.dryRun) {
    if (status === 'succeeded') await store.forgetEarlierFormerDns();
    await store.analyzeIfWritten().catch((cause: unknown) => logger.warn({ err: toError(cause) }, 'analyze of the state tables failed'));
    await sink.sendRun(summary);
    await store.checkpoint({
      profile: {
        cursorKind: status === 'succeeded' ? deltaKind : (previous?.cursorKind ?? null),
        cursor: summary.cursorAfter,
        lastFullAtMs: status === 'succeeded' && mode === 'full' ? startedAt : null,
        runId,
        status,
      },
    });
  }
  logger.info(
    { mode, status, reason, counts, durationMs: finishedAt - startedAt, phasesMs: phases, cursorAfter: summary.cursorAfter },
    `sync run ${status}`,
  );
  return { runId, mode, status, reason, summary, wouldDisable };
}
