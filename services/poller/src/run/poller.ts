import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DirstreamConfig, ProfileConfig } from '@dirstream/config';
import { createError, retry, sleep, toError } from '@dirstream/errors';
import { createCodec, topicNames } from '@dirstream/events';
import { createIdempotentProducer, createKafkaClient, ensureTopics, type TrackedProducer } from '@dirstream/kafka';
import type { Tracing } from '@dirstream/tracing';
import type { Logger } from '@dirstream/logging';
import { type MetricsServer, startMetricsServer } from '@dirstream/metrics';
import { createKafkaSink, createPlanSink, type EventSink } from '../delivery/sink.ts';
import { dialectFor } from '../dialects/index.ts';
import {
  clearActive,
  type HolderMode,
  markActive,
  readProfileActivity,
  recordNextRun,
  recordRunFinished,
  recordRunStarted,
} from '../state/activity.ts';
import type { Database, Session } from '@dirstream/db';
import { openPollerDatabase } from '../state/database.ts';
import { tryLockProfile, unlockProfile } from '../state/lock.ts';
import {
  abandonRunningRequests,
  claimSyncRequest,
  finishSyncRequest,
  hasPendingRequest,
  insertSyncRequest,
  pruneFinishedRequests,
  readRequestedRun,
  type RequestedRunState,
} from '../state/sync-requests.ts';
import { createPollerMetrics, type PollerMetrics } from './metrics.ts';
import { createRunDetails } from './run-details.ts';
import { type RunHooks, type SyncResult, syncProfile } from './sync-run.ts';
import { startSyncWakeups, type SyncWakeups, type Wakeup } from './sync-wakeup.ts';

export type PollerDeps = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Spans and `traceparent` headers on every produced record; off when absent. */
  readonly tracing?: Tracing;
};

export type PollerOptions = {
  readonly once: boolean;
  readonly profileId?: string;
  readonly full?: boolean;
  readonly allowMassDisable?: boolean;
};

/** Internal knobs for tests (crash between produce and checkpoint, short waits). */
export type PollerInternals = {
  readonly hooks?: RunHooks;
  /** How long `once` waits for another poller's lock before giving up. */
  readonly lockWaitMs?: number;
  readonly lockRetryMs?: number;
  readonly onRun?: (result: SyncResult) => void;
  /** How often a waiting `once` looks at the run it handed to the active poller. */
  readonly handOverPollMs?: number;
  /** Without a LISTEN connection, how often the active poller looks for sync requests. */
  readonly requestFallbackMs?: number;
  /** Called once the metrics listener (scheduled mode only) listens: where it is. */
  readonly onMetricsListening?: (address: { readonly host: string; readonly port: number }) => void;
};

/** `includeDisabled`: a dry-run plan may preview a profile that is not enabled yet; a run may not. */
function selectProfiles(config: DirstreamConfig, profileId: string | undefined, includeDisabled = false): ProfileConfig[] {
  if (profileId !== undefined) {
    const profile = config.profiles.find((p) => p.id === profileId || p.name === profileId);
    if (!profile) throw createError('PROFILE_NOT_FOUND', `no profile ${profileId} in the configuration`, { retriable: false });
    if (!profile.enabled && !includeDisabled) {
      throw createError(
        'PROFILE_DISABLED',
        `profile ${profile.name} (${profile.id}) has enabled: false: set enabled: true to poll it (dirstream plan previews it)`,
        {
          retriable: false,
        },
      );
    }
    return [profile];
  }
  return config.profiles.filter((p) => p.enabled);
}

/**
 * Waits for the profile's lock (standby) until acquired, the deadline, shutdown, or (after an
 * attempt that found the lock held) `stopWaiting` says so.
 */
async function acquireLock(
  db: Database,
  profileId: string,
  logger: Logger,
  signal: AbortSignal,
  deadline: number,
  retryMs: number,
  stopWaiting?: () => Promise<boolean>,
): Promise<Session | null> {
  let announced = false;
  while (!signal.aborted) {
    let session: Session;
    try {
      session = await db.session();
    } catch (cause) {
      // The state database is down: wait and retry, like a standby.
      logger.warn({ err: toError(cause) }, 'state database unreachable; retrying');
      if (Date.now() >= deadline) return null;
      await sleep(retryMs, signal);
      continue;
    }
    const locked = await tryLockProfile(session, profileId).catch((cause: unknown) => {
      logger.warn({ err: toError(cause) }, 'profile lock query failed; retrying');
      return false;
    });
    if (locked) return session;
    await session.release();
    if (stopWaiting && (await stopWaiting())) return null;
    if (!announced) {
      logger.info('another poller is active for this profile: standing by');
      announced = true;
    }
    if (Date.now() >= deadline) return null;
    await sleep(retryMs, signal);
  }
  return null;
}

async function releaseLock(session: Session, profileId: string, logger: Logger): Promise<void> {
  try {
    await unlockProfile(session, profileId);
  } catch (cause) {
    logger.warn({ err: toError(cause) }, 'profile lock release failed (the connection close releases it)');
  }
  await session.release();
}

const TOPIC_SETUP_ATTEMPTS = 6;

/**
 * Topic set-up at start: a retriable failure (EVENT_TOPIC_SETUP_FAILED: a busy broker timing out,
 * topics another poller just created and the broker not describing them yet) is tried again with
 * backoff before the poller gives up; a misconfigured topic fails at once.
 */
async function ensureTopicsPatiently(setup: () => Promise<unknown>, logger: Logger, signal: AbortSignal): Promise<void> {
  await retry(setup, {
    signal,
    attempts: TOPIC_SETUP_ATTEMPTS,
    baseMs: 500,
    maxMs: 4_000,
    onRetry: (err, attempt, waitMs) => logger.warn({ err, attempt, waitMs }, 'topic set-up failed; retrying'),
  });
}

/**
 * `dirstream poller`: with `once`, one pass per selected profile, ok only when every event was
 * acknowledged and every run succeeded; otherwise every enabled profile on its schedule (a sync
 * on boot, then every `intervalSeconds`) until the signal aborts.
 */
export async function runPoller(
  deps: PollerDeps,
  options: PollerOptions,
  internals: PollerInternals = {},
): Promise<{ ok: boolean; reason?: string }> {
  const { config, logger } = deps;
  const profiles = selectProfiles(config, options.profileId);
  if (profiles.length === 0) return { ok: false, reason: 'no enabled profile to poll' };
  const db = await openPollerDatabase(config.database);
  const kafka = createKafkaClient(config.kafka, logger);
  let producer: TrackedProducer | null = null;
  let wakeups: SyncWakeups | null = null;
  let metricsServer: MetricsServer | null = null;
  // Scheduled mode only: a `--once` process is gone before anyone scrapes it (and would take the
  // port of the scheduled poller on the same host).
  const metrics: PollerMetrics | null = options.once ? null : createPollerMetrics();
  let ready = false;
  try {
    if (metrics) {
      for (const profile of profiles) metrics.addProfile(profile);
      metricsServer = await startMetricsServer({
        registry: metrics.registry,
        host: config.poller.metricsHost,
        port: config.poller.metricsPort,
        // Ready once Kafka and the state database answered; a standby poller is ready too (its
        // job is to stand by): the body says which profiles it is active for.
        readiness: () => ({ ready, details: { profiles: metrics.activeProfiles() } }),
      });
      logger.info({ metricsHost: metricsServer.host, metricsPort: metricsServer.port }, 'poller metrics listening');
      internals.onMetricsListening?.({ host: metricsServer.host, port: metricsServer.port });
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopicsPatiently(
        () =>
          ensureTopics(admin, {
            prefix: config.kafka.topicPrefix,
            partitions: config.kafka.partitions,
            replicationFactor: config.kafka.replicationFactor,
            minInsyncReplicas: config.kafka.minInsyncReplicas,
          }),
        logger,
        deps.signal,
      );
    } finally {
      await admin.disconnect();
    }
    producer = createIdempotentProducer(kafka);
    await producer.connect();
    const sink = createKafkaSink({
      producer,
      topics: topicNames(config.kafka.topicPrefix),
      codec: createCodec(),
      maxEventBytes: config.kafka.maxEventBytes,
      tracing: deps.tracing,
    });

    if (!options.once)
      wakeups = startSyncWakeups(config.database, logger, { signal: deps.signal, fallbackMs: internals.requestFallbackMs });
    const rt: Runtime = { ...deps, db, sink, identity: { host: hostname(), pid: process.pid }, wakeups, metrics };
    ready = true;
    const results = await Promise.all(
      profiles.map((profile) =>
        options.once ? runProfileOnce(rt, profile, options, internals) : runProfileForever(rt, profile, options, internals),
      ),
    );
    const failures = results.filter((r) => !r.ok);
    if (failures.length === 0) return { ok: true };
    return { ok: false, reason: failures.map((f) => f.reason).join('; ') };
  } catch (cause) {
    const err = toError(cause);
    logger.error({ err }, 'poller stopped');
    return { ok: false, reason: err.message };
  } finally {
    await wakeups?.close();
    await metricsServer?.close();
    await producer?.disconnect().catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}

type Runtime = PollerDeps & {
  readonly db: Database;
  readonly sink: EventSink;
  /** This process, as operators see it in the lock holder and request tables. */
  readonly identity: { readonly host: string; readonly pid: number };
  /** Only in scheduled mode: wakes the active poller when a sync is requested. */
  readonly wakeups: SyncWakeups | null;
  readonly metrics: PollerMetrics | null;
};

type RunOutcome = { ok: boolean; reason?: string };

/**
 * One pass while holding the profile's lock: the pending sync request of the profile, if any,
 * is this pass (its run ID, its full flag), so whoever asked for it gets this run's outcome.
 */
async function runWithLock(
  rt: Runtime,
  profile: ProfileConfig,
  session: Session,
  logger: Logger,
  run: { readonly full: boolean; readonly allowMassDisable?: boolean },
  internals: PollerInternals,
): Promise<{ result: SyncResult | null; error: Error | null }> {
  await pruneFinishedRequests(rt.db, profile.id);
  const request = await claimSyncRequest(rt.db, profile.id, rt.identity);
  const runId = request?.runId ?? randomUUID();
  if (request) {
    logger.info({ runId, full: request.full, reason: request.reason, waitedMs: Math.round(request.waitedMs) }, 'running a requested sync');
    rt.metrics?.recordRequestStarted(profile.id, request.reason, request.waitedMs);
  }
  let result: SyncResult | null = null;
  let error: Error | null = null;
  // Every entry error and the halt report go out in pages while the run goes on, all of them
  // before the run's summary (so a reader of the summary finds its details complete).
  const details = createRunDetails({ sink: rt.sink, profileId: profile.id, runId });
  const sink: EventSink = {
    ...rt.sink,
    async sendRun(event) {
      await details.finish();
      await rt.sink.sendRun(event);
    },
  };
  try {
    await recordRunStarted(rt.db, profile.id, runId);
    result = await syncProfile(
      {
        profile,
        dialect: dialectFor(profile.directory),
        db: rt.db,
        session,
        sink,
        details,
        logger,
        signal: rt.signal,
        dryRun: false,
        hooks: internals.hooks,
      },
      { full: run.full || request?.full === true, allowMassDisable: run.allowMassDisable, runId },
    );
    rt.metrics?.recordRun(profile.id, result);
    const { summary } = result;
    await recordRunFinished(rt.db, profile.id, {
      runId,
      mode: summary.mode,
      status: summary.status,
      reason: summary.reason,
      startedAt: summary.startedAt,
      finishedAt: summary.finishedAt,
      counts: summary.counts,
    }).catch((cause: unknown) => logger.warn({ err: toError(cause) }, 'could not record the run for operators'));
    internals.onRun?.(result);
  } catch (cause) {
    error = toError(cause);
  } finally {
    if (request) {
      const outcome = result
        ? { status: result.status, reason: result.reason }
        : { status: 'failed' as const, reason: error?.message ?? 'the run did not finish' };
      await finishSyncRequest(rt.db, runId, outcome).catch((cause: unknown) =>
        logger.warn({ err: toError(cause), runId }, 'could not record the outcome of a requested sync'),
      );
    }
  }
  return { result, error };
}

async function becomeActive(rt: Runtime, session: Session, profile: ProfileConfig, mode: HolderMode, logger: Logger): Promise<void> {
  await markActive(session, rt.db.schema, profile.id, { ...rt.identity, mode });
  rt.metrics?.setLockHeld(profile.id, true);
  const abandoned = await abandonRunningRequests(rt.db, profile.id);
  if (abandoned > 0) logger.warn({ abandoned }, 'requested runs of a previous active poller never finished: marked failed');
}

async function stepDown(rt: Runtime, session: Session, profile: ProfileConfig, logger: Logger): Promise<void> {
  rt.metrics?.setLockHeld(profile.id, false);
  await clearActive(session, rt.db.schema, profile.id).catch((cause: unknown) =>
    logger.warn({ err: toError(cause) }, 'could not clear the lock holder record (it is recognised as stale)'),
  );
  await releaseLock(session, profile.id, logger);
}

async function runProfileOnce(
  rt: Runtime,
  profile: ProfileConfig,
  options: PollerOptions,
  internals: PollerInternals,
): Promise<RunOutcome> {
  const logger = rt.logger.child({ profileId: profile.id });
  const retryMs = internals.lockRetryMs ?? 2_000;
  // A scheduled poller holds the lock: the pass is its to run (invariant 8), so ask it and wait.
  // Another `--once` holds it: wait for the lock, as `--allow-mass-disable` always does (that is
  // not something to hand to another process).
  let scheduledHolder = false;
  const handOverWhenScheduled =
    options.allowMassDisable === true
      ? undefined
      : async () => {
          const activity = await readProfileActivity(rt.db).catch(() => []);
          scheduledHolder = activity.find((a) => a.profileId === profile.id)?.holder?.mode === 'scheduled';
          return scheduledHolder;
        };
  const deadline = Date.now() + (internals.lockWaitMs ?? 5 * 60_000);
  const session = await acquireLock(rt.db, profile.id, logger, rt.signal, deadline, retryMs, handOverWhenScheduled);
  if (session) return runHoldingLock(rt, profile, session, options, internals, logger);
  if (scheduledHolder) return handOver(rt, profile, options, internals, logger);
  return { ok: false, reason: `profile ${profile.name}: another poller holds its lock` };
}

async function runHoldingLock(
  rt: Runtime,
  profile: ProfileConfig,
  session: Session,
  options: PollerOptions,
  internals: PollerInternals,
  logger: Logger,
): Promise<RunOutcome> {
  try {
    await becomeActive(rt, session, profile, 'once', logger);
    const { result, error } = await runWithLock(
      rt,
      profile,
      session,
      logger,
      { full: options.full === true, allowMassDisable: options.allowMassDisable },
      internals,
    );
    if (error || !result) {
      logger.error({ err: error }, 'sync run could not complete');
      return { ok: false, reason: `profile ${profile.name}: ${error?.message ?? 'no result'}` };
    }
    return result.status === 'succeeded'
      ? { ok: true }
      : { ok: false, reason: `profile ${profile.name}: run ${result.status}: ${result.reason}` };
  } catch (cause) {
    const err = toError(cause);
    logger.error({ err }, 'sync run could not complete');
    return { ok: false, reason: `profile ${profile.name}: ${err.message}` };
  } finally {
    await stepDown(rt, session, profile, logger);
  }
}

/**
 * `--once` while a scheduled poller is active: a sync request it starts within a second; this
 * process waits for that run's outcome. Should the active poller go away before it took the
 * request, this process takes the lock and runs the pending request itself.
 */
async function handOver(
  rt: Runtime,
  profile: ProfileConfig,
  options: PollerOptions,
  internals: PollerInternals,
  logger: Logger,
): Promise<RunOutcome> {
  const { runId, coalesced } = await insertSyncRequest(rt.db, {
    profileId: profile.id,
    full: options.full === true,
    reason: 'poller-once',
    requestedBy: `${rt.identity.host}:${rt.identity.pid}`,
  });
  logger.info({ runId, coalesced }, 'a scheduled poller is active for this profile: it runs this pass; waiting for its outcome');
  const pollMs = internals.handOverPollMs ?? 250;
  for (;;) {
    if (rt.signal.aborted) return { ok: false, reason: `profile ${profile.name}: stopped while waiting for run ${runId}` };
    const state: RequestedRunState | null = await readRequestedRun(rt.db, runId);
    if (state?.phase === 'finished') {
      logger.info({ runId, status: state.status }, `run ${runId} ${state.status}`);
      return state.status === 'succeeded'
        ? { ok: true }
        : { ok: false, reason: `profile ${profile.name}: run ${runId} ${state.status}: ${state.statusReason}` };
    }
    if (state?.phase === 'pending') {
      // One attempt, quietly (not "standing by" every poll).
      const session = await acquireLock(rt.db, profile.id, logger, rt.signal, Date.now(), pollMs, async () => true);
      // Nobody took it and the lock is free: this process runs the pending request (our run ID).
      if (session) return runHoldingLock(rt, profile, session, { ...options, full: false }, internals, logger);
    }
    await sleep(pollMs, rt.signal);
  }
}

async function runProfileForever(
  rt: Runtime,
  profile: ProfileConfig,
  options: PollerOptions,
  internals: PollerInternals,
): Promise<RunOutcome> {
  const logger = rt.logger.child({ profileId: profile.id });
  let forceFull = options.full === true;
  const wakeup: Wakeup | null = rt.wakeups?.subscribe(profile.id) ?? null;
  try {
    while (!rt.signal.aborted) {
      // Standby: retry the lock until this process becomes the active poller of the profile.
      const session = await acquireLock(rt.db, profile.id, logger, rt.signal, Number.POSITIVE_INFINITY, internals.lockRetryMs ?? 5_000);
      if (!session) break;
      logger.info('active poller for this profile');
      try {
        await becomeActive(rt, session, profile, 'scheduled', logger);
        // Sync on boot, then every interval from the start of the last run; a sync request
        // (NOTIFY, or found in the table) runs at once and counts as the interval's run.
        let nextScheduledAt = Date.now();
        while (!rt.signal.aborted) {
          // The lock lives as long as this connection: if it died, another poller may be active
          // by now, so go back to standby instead of running (the catch below).
          await session.query('select 1');
          const due = Date.now() >= nextScheduledAt;
          if (!due && !(await hasPendingRequest(rt.db, profile.id))) {
            await recordNextRun(rt.db, profile.id, new Date(nextScheduledAt));
            const waitMs = nextScheduledAt - Date.now();
            if (wakeup) await wakeup.wait(waitMs, rt.signal);
            else await sleep(Math.min(waitMs, internals.requestFallbackMs ?? 5_000), rt.signal);
            continue;
          }
          const started = Date.now();
          const { error } = await runWithLock(
            rt,
            profile,
            session,
            logger,
            { full: forceFull, allowMassDisable: options.allowMassDisable },
            internals,
          );
          if (error) logger.error({ err: error }, 'sync run could not complete; retrying at the next interval');
          else forceFull = false;
          nextScheduledAt = started + profile.schedule.intervalSeconds * 1000;
        }
      } catch (cause) {
        // A lost state connection drops the lock too: go back to standby and retry.
        logger.error({ err: toError(cause) }, 'active poller lost its session; standing by again');
      } finally {
        await stepDown(rt, session, profile, logger);
      }
    }
  } finally {
    wakeup?.close();
  }
  return { ok: true };
}

/** `dirstream plan`: a dry run of one profile; changes nothing (no produce, no state write). */
export async function planProfile(deps: PollerDeps, options: { readonly profileId: string; readonly full?: boolean }): Promise<string> {
  const { config, logger, signal } = deps;
  const [profile] = selectProfiles(config, options.profileId, true);
  if (!profile) throw createError('PROFILE_NOT_FOUND', `no profile ${options.profileId}`, { retriable: false });
  const db = await openPollerDatabase(config.database);
  try {
    const session = await db.session();
    try {
      const plan = createPlanSink();
      const result = await syncProfile(
        {
          profile,
          dialect: dialectFor(profile.directory),
          db,
          session,
          sink: plan.sink,
          logger: logger.child({ profileId: profile.id }),
          signal,
          dryRun: true,
        },
        { full: options.full },
      );
      return formatPlan(profile, result, plan.counts, plan.examples);
    } finally {
      await session.release();
    }
  } finally {
    await db.close();
  }
}

export function formatPlan(
  profile: ProfileConfig,
  result: SyncResult,
  counts: ReadonlyMap<string, number>,
  examples: ReadonlyMap<string, readonly string[]>,
): string {
  const lines = [
    `Plan for profile ${profile.name} (${profile.id}), ${profile.directory}, ${result.mode} pass — dry run, nothing sent or stored`,
    `Status: ${result.status}${result.reason ? ` — ${result.reason}` : ''}`,
    `Entries read: ${result.summary.counts.entriesRead}; entry errors: ${result.summary.counts.errors}`,
  ];
  if (counts.size === 0) lines.push('No change would be emitted.');
  for (const [kind, n] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`  ${kind}: ${n}`);
    for (const example of examples.get(kind) ?? []) lines.push(`    e.g. ${example}`);
  }
  if (result.status === 'halted' && result.wouldDisable.length > 0) {
    lines.push('Held back (would disable):');
    for (const w of result.wouldDisable) lines.push(`  ${w}`);
  }
  for (const error of result.summary.errors.slice(0, 10)) lines.push(`  error ${error.code}: ${error.dn ?? ''} ${error.message}`);
  lines.push('Memberships of users created in this plan are not resolved (nothing is stored in a dry run).');
  return lines.join('\n');
}
