import type { RunStatus } from '@dirstream/events';
import { removeEdge, removeGroup, removeUser, restoreUser } from '../../core/diff.ts';
import { decideRun } from '../../core/safety.ts';
import type { GroupChange, StoredGroup, UserChange } from '../../core/types.ts';
import type { DeltaChanges, DeltaKind } from '../../directory/dialect.ts';
import { toStoredGroup, toStoredUser } from '../../state/store.ts';
import type { RunContext } from '../context.ts';
import { existingUserIds } from '../directory-lookup.ts';
import { keysetPages } from '../keyset-pages.ts';
import { markPresentIds } from '../removal-check.ts';
import type { RunDetailsSink } from '../run-details.ts';
import { groupFilter } from './groups.ts';
import { userFilter } from './users.ts';

const REMOVAL_PAGE = 500;

/** What a complete read leaves to remove; the disabling user changes wait in the run's scratch. */
export type Removals = {
  readonly removedGroups: StoredGroup[];
  /** Members that left the scope: their edges go with the removals. */
  readonly goneMembers: string[];
  /** The removal check of a timestamp delta ran (an enumeration, decided as a full pass). */
  readonly removalChecked: boolean;
  readonly idsRead: number;
};

export type Incomplete = { readonly incomplete: string };

/** The removal check of timestamp deltas: IDs only, marked seen, so the full pass's absence logic decides. */
async function removalCheck(ctx: RunContext): Promise<number> {
  const { profile, conn, scratch, dialect, groupMapping, signal } = ctx;
  const read = await markPresentIds(
    conn,
    scratch,
    {
      kind: 'user',
      baseDn: profile.users.baseDn,
      scope: profile.users.scope,
      filter: userFilter(ctx),
      idAttribute: ctx.userMapping.externalId,
      dialect,
      pageSize: ctx.pageSize,
    },
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
        filter: groupFilter(ctx, groupMapping),
        idAttribute: groupMapping.externalId,
        dialect,
        pageSize: ctx.pageSize,
      },
      signal,
    );
  }
  return read;
}

/**
 * "Synchronize only groups", decided on every pass: a delta that changed memberships (or created
 * a user) must not leave a user outside every synced group enabled until the full pass.
 */
async function onlyGroupMembers(ctx: RunContext): Promise<void> {
  const { store, scratch } = ctx;
  for await (const page of keysetPages(
    (after, limit) => store.usersWithoutGroup(after, limit),
    (u) => u.externalId,
    REMOVAL_PAGE,
  )) {
    const t = ctx.now();
    await scratch.holdBack(
      page
        .filter((u) => u.state.enabled)
        .map((u) => removeUser(u, 'not-in-synced-group', 'disable', t))
        .filter((c): c is UserChange => c !== null),
    );
  }
  for await (const page of keysetPages(
    (after, limit) => store.usersBackInGroup(after, limit),
    (u) => u.externalId,
    REMOVAL_PAGE,
  )) {
    const t = ctx.now();
    await ctx.delivery.emit({ users: page.map((u) => restoreUser(u, t)).filter((c): c is UserChange => c !== null) });
  }
}

/** Present entities the enumeration did not see: users held back as removals, groups collected. */
async function unseenEntities(ctx: RunContext, removedGroups: StoredGroup[], goneMembers: string[]): Promise<void> {
  const { scratch, profile } = ctx;
  for await (const rows of keysetPages(
    (after, limit) => scratch.unseen('user', after, limit),
    (r) => r.external_id,
    REMOVAL_PAGE,
  )) {
    // Still below the users base but no longer matching the filter → outside-filter.
    const stillThere = await existingUserIds(
      ctx,
      rows.map((r) => r.external_id),
    );
    const t = ctx.now();
    const changes = rows
      .map((r) =>
        removeUser(
          toStoredUser(r),
          stillThere.has(r.external_id) ? 'outside-filter' : 'removed-from-directory',
          profile.policies.removedUsers,
          t,
        ),
      )
      .filter((c): c is UserChange => c !== null);
    await scratch.holdBack(changes);
    // A user that left the profile's scope keeps no direct edges (without refint a group may still list it).
    for (const c of changes) if (!c.present) goneMembers.push(c.externalId);
  }
  // Bounded by the group count of a profile (thousands), not by users.
  for await (const rows of keysetPages(
    (after, limit) => scratch.unseen('group', after, limit),
    (r) => r.external_id,
    REMOVAL_PAGE,
  )) {
    for (const row of rows) removedGroups.push(toStoredGroup(row));
  }
}

/** What a delta reported deleted, or asked for by ID and did not find (left the filter). */
async function deltaRemovals(ctx: RunContext, changes: DeltaChanges, removedGroups: StoredGroup[], goneMembers: string[]): Promise<void> {
  const { store, profile } = ctx;
  const deletedUsers = await store.loadUsers(changes.deletedIds);
  const deletedGroups = await store.loadGroups(changes.deletedIds);
  const left = (changes.requestedIds ?? []).filter((id) => !ctx.tally.found.has(id));
  const leftUsers = await store.loadUsers(left);
  const leftGroups = await store.loadGroups(left);
  const t = ctx.now();
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
  await ctx.scratch.holdBack(held);
  for (const g of [...deletedGroups.values(), ...leftGroups.values()]) if (g.present) removedGroups.push(g);
  // Refint rewrites `member` when a member is deleted without touching the group's
  // modifyTimestamp or entryCSN: derive those edge removals from the state.
  // Applied with the removals, after the safety decision.
  for (const id of deletedUsers.keys()) goneMembers.push(id);
  for (const id of leftUsers.keys()) goneMembers.push(id);
}

/**
 * Finds what the pass removes, decided only on a complete read (DESIGN invariant 4): nothing is
 * produced here except users back in a synced group; disabling changes are held back.
 */
export async function findRemovals(
  ctx: RunContext,
  delta: { readonly kind: DeltaKind; readonly changes: DeltaChanges | null },
): Promise<Removals | Incomplete> {
  const { profile, mode } = ctx;
  if (ctx.tally.idless > 0)
    return { incomplete: `${ctx.tally.idless} entries had no ${ctx.userMapping.externalId}: absence cannot be decided` };
  const removedGroups: StoredGroup[] = [];
  const goneMembers: string[] = [];
  // Timestamp deltas cannot list deletions or entries leaving the filter: the removal check reads
  // the IDs only and lets the full pass's absence logic decide (docs/delta-mechanisms.md).
  let idsRead = 0;
  const removalChecked = mode === 'delta' && delta.kind === 'timestamp' && profile.schedule.removalCheck !== false;
  if (removalChecked) {
    idsRead = await removalCheck(ctx);
    ctx.phaseDone('removal check');
  }
  if (profile.policies.onlyGroupMembers && profile.groups) await onlyGroupMembers(ctx);
  if (mode === 'full' || removalChecked) await unseenEntities(ctx, removedGroups, goneMembers);
  if (mode === 'delta' && delta.changes) await deltaRemovals(ctx, delta.changes, removedGroups, goneMembers);
  return { removedGroups, goneMembers, removalChecked, idsRead };
}

export type Settled = {
  readonly status: RunStatus;
  readonly reason: string | null;
  /** What a halted run would have disabled (first entries), for the report. */
  readonly wouldDisable: readonly string[];
};

/** The safety decision on the held-back disables; then the removals are produced, or reported. */
export async function settleRemovals(
  ctx: RunContext,
  removals: Removals,
  decide: {
    readonly usersKnown: number;
    readonly enabledBefore: number;
    readonly allowMassDisable: boolean;
    readonly details: RunDetailsSink | undefined;
  },
): Promise<Settled> {
  const { profile, scratch, store, delivery, logger } = ctx;
  const disables = await scratch.heldBackDisables();
  const decision = decideRun({
    // The removal check is an enumeration: zero IDs where many were known halts, as in a full pass.
    mode: removals.removalChecked ? 'full' : ctx.mode,
    complete: true,
    incompleteReason: null,
    usersRead: removals.removalChecked ? removals.idsRead : ctx.tally.usersRead,
    usersKnown: decide.usersKnown,
    enabledBefore: decide.enabledBefore,
    disables,
    maxDisableCount: profile.policies.maxDisableCount,
    maxDisablePercent: profile.policies.maxDisablePercent,
    allowMassDisable: decide.allowMassDisable,
  });
  if (decision.action !== 'apply') {
    const wouldDisable = (await scratch.heldBack('', 200))
      .filter((c) => c.disables)
      .slice(0, 20)
      .map((c) => `${c.state.loginName} (${c.state.dn}) ${c.state.disabledReason}`);
    logger.warn({ disables, removedGroups: removals.removedGroups.length, examples: wouldDisable }, `run halted: ${decision.reason}`);
    // The report: every user the run held back from disabling, not only the examples.
    if (decide.details) {
      for await (const page of keysetPages(
        (after, limit) => scratch.heldBack(after, limit),
        (c) => c.externalId,
        REMOVAL_PAGE,
      )) {
        await decide.details.wouldDisable(page.filter((c) => c.disables));
      }
    }
    return { status: decision.action === 'halt' ? 'halted' : 'failed', reason: decision.reason, wouldDisable };
  }
  for await (const page of keysetPages(
    (after, limit) => scratch.heldBack(after, limit),
    (c) => c.externalId,
    REMOVAL_PAGE,
  )) {
    await delivery.emit({ users: page });
  }
  const { goneMembers } = removals;
  for (let i = 0; i < goneMembers.length; i += REMOVAL_PAGE) {
    const stale = await store.edgesTouching(goneMembers.slice(i, i + REMOVAL_PAGE));
    const t = ctx.now();
    await delivery.emit({ edges: stale.map((e) => removeEdge(e, t)) });
  }
  // removedGroups: keep ("do not remove"): the group stays present with its last edges.
  let removedGroups: readonly StoredGroup[] = removals.removedGroups;
  if (profile.policies.removedGroups === 'keep' && removedGroups.length > 0) {
    logger.info({ groups: removedGroups.length }, 'groups gone from the directory kept (policies.removedGroups: keep)');
    removedGroups = [];
  }
  for (let i = 0; i < removedGroups.length; i += REMOVAL_PAGE) {
    const chunk = removedGroups.slice(i, i + REMOVAL_PAGE);
    const t = ctx.now();
    const edges = await store.edgesTouching(chunk.map((g) => g.externalId));
    await delivery.emit({
      groups: chunk.map((g) => removeGroup(g, t)).filter((c): c is GroupChange => c !== null),
      edges: edges.map((e) => removeEdge(e, t)),
    });
  }
  return { status: 'succeeded', reason: null, wouldDisable: [] };
}
