import { randomUUID } from 'node:crypto';
import { type ProfileConfig, resolveUserMapping } from '@dirstream/config';
import { errorCode, toError } from '@dirstream/errors';
import { eventIdFor, type RunError, type RunStatus, type SyncMode, type SyncRunEvent } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import type { EventSink } from '../delivery/sink.ts';
import { connectDirectory, type DirectoryConnection } from '../directory/client.ts';
import type { Dialect } from '../directory/dialect.ts';
import { resolveGroupReadMapping } from '../directory/mapping.ts';
import type { Database, Session } from '@dirstream/db';
import { createRoleBindingStore } from '../state/role-bindings.ts';
import { createRunScratch, createStateStore } from '../state/store.ts';
import { pageSizeFor, type RunContext, zeroCounts } from './context.ts';
import { groupClauses, membershipClauses, readGroups } from './phases/groups.ts';
import { readMemberships } from './phases/memberships.ts';
import { configuredPlan, fitPlan, type PassPlan, readChanges } from './phases/plan.ts';
import { findRemovals, settleRemovals } from './phases/removals.ts';
import { createRunRoleBindings } from './phases/role-bindings.ts';
import { readUsers } from './phases/users.ts';
import { createProgress } from './progress.ts';
import { createRunDelivery } from './run-delivery.ts';
import type { RunDetailsSink } from './run-details.ts';

export type RunHooks = {
  /** Called after Kafka acknowledged a batch and before its checkpoint (crash tests). */
  readonly afterProduce?: (info: { readonly batch: number }) => void | Promise<void>;
};

export type SyncDeps = {
  readonly profile: ProfileConfig;
  readonly dialect: Dialect;
  readonly db: Database;
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

const MAX_ERRORS_KEPT = 50;

/**
 * One sync run of one profile: read (users, groups, memberships), diff, produce, checkpoint; the
 * removals on a complete read after the safety decision; then the summary on sync-runs.
 */
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
  const phases: Record<string, number> = {};
  let phaseStarted = now();
  const phaseDone = (name: string) => {
    const t = now();
    phases[name] = t - phaseStarted;
    phaseStarted = t;
  };

  const previous = await store.profileState();
  const usersBefore = await store.userCounts();
  const roleBindings = createRunRoleBindings(createRoleBindingStore(db, profile.id), deps.dryRun);
  await roleBindings.load();
  const planInput = { profile, dialect, previous, full: options.full === true, startedAt };
  let plan: PassPlan = configuredPlan(planInput);
  const cursorBefore = previous?.cursor ?? null;
  let cursorAfter: string | null = cursorBefore;
  let server = profile.connection.urls[0] ?? '';
  let status: RunStatus = 'succeeded';
  let reason: string | null = null;
  let wouldDisable: readonly string[] = [];
  const progress = createProgress(logger, {
    intervalMs: deps.progressIntervalMs ?? 10_000,
    tty: process.stderr.isTTY === true && !deps.dryRun,
    label: profile.name,
  });
  const changedAt = new Map<string, number | null>();
  const resolution = { changed: false, heldByDn: new Map(), heldByLogin: new Map() };
  const source = () => ({
    profileId: profile.id,
    directoryType: profile.directory,
    server,
    position: plan.changes?.nextCursor ?? null,
    runId,
    mode: plan.mode,
  });
  const delivery = createRunDelivery({
    sink,
    store,
    dryRun: deps.dryRun,
    now,
    source,
    changedAt,
    resolution,
    counts,
    recordError,
    afterProduce: deps.hooks?.afterProduce,
    roleBindingsOf: roleBindings.namesOf,
  });

  let directory: DirectoryConnection | null = null;
  let scratchOpen = false;
  try {
    await scratch.open();
    scratchOpen = true;
    directory = await connectDirectory(profile.connection, logger);
    server = directory.url;
    plan = await fitPlan(planInput, directory, logger);
    plan = await readChanges(planInput, plan, directory, logger);
    logger.info({ mode: plan.mode, delta: plan.deltaKind, cursor: cursorBefore, server, dryRun: deps.dryRun }, 'sync run started');

    const ctx: RunContext = {
      runId,
      profile,
      dialect,
      conn: directory,
      store,
      scratch,
      logger,
      signal,
      now,
      mode: plan.mode,
      userMapping: resolveUserMapping(profile),
      groupMapping: resolveGroupReadMapping(profile),
      pageSize: pageSizeFor(profile, dialect),
      clauses: plan.mode === 'full' ? [null] : (plan.changes?.clauses ?? []),
      delivery,
      changedAt,
      resolution,
      tally: { found: new Set(), idless: 0, usersRead: 0, usersBaseMissing: false },
      counts,
      recordError,
      progress,
      source,
      phaseDone,
    };

    const entered = await readUsers(ctx, usersBefore);
    phaseDone('users');
    // Groups as entities first (so group→group members resolve), then the edges.
    if (profile.groups && ctx.groupMapping) {
      const clauses = await groupClauses(ctx, ctx.groupMapping, entered);
      const arrived = await readGroups(ctx, ctx.groupMapping, clauses);
      phaseDone('groups');
      await readMemberships(ctx, ctx.groupMapping, membershipClauses(ctx, ctx.groupMapping, clauses, arrived));
      phaseDone('memberships');
    }

    const removals = await findRemovals(ctx, { kind: plan.deltaKind, changes: plan.changes });
    if ('incomplete' in removals) {
      status = 'failed';
      reason = `incomplete read: ${removals.incomplete}; nothing removed or disabled`;
    } else {
      const settled = await settleRemovals(ctx, removals, {
        usersKnown: usersBefore.present,
        enabledBefore: usersBefore.enabled,
        allowMassDisable: options.allowMassDisable === true || profile.policies.allowMassDisable,
        details: deps.details,
      });
      status = settled.status;
      reason = settled.reason;
      wouldDisable = settled.wouldDisable;
      // Decided on the state a complete pass leaves, once, whatever order the applier applies it in.
      if (status === 'succeeded') await roleBindings.decide(ctx);
      if (status === 'succeeded') cursorAfter = plan.mode === 'full' ? plan.fullCursor : (plan.changes?.nextCursor ?? cursorBefore);
    }
  } catch (cause) {
    // Let an emit still in flight settle: the summary must not overtake it.
    await delivery.settle();
    const err = toError(cause);
    status = 'failed';
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

  const mode = plan.mode;
  if (status === 'succeeded' && reason === null) reason = plan.note;
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
        cursorKind: status === 'succeeded' ? plan.deltaKind : (previous?.cursorKind ?? null),
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
