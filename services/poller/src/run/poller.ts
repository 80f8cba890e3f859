import { setTimeout as sleep } from 'node:timers/promises';
import type { DirstreamConfig, ProfileConfig } from '@dirstream/config';
import { createError, isRetriable, toError } from '@dirstream/errors';
import { createCodec, ensureTopics, topicNames } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import type { Producer } from 'kafkajs';
import { createIdempotentProducer, createKafkaClient, createKafkaSink, createPlanSink, type EventSink } from '../delivery/sink.ts';
import { dialectFor } from '../dialects/index.ts';
import { openPollerDatabase, type PollerDatabase, type Session } from '../state/database.ts';
import { tryLockProfile, unlockProfile } from '../state/lock.ts';
import { type RunHooks, type SyncResult, syncProfile } from './sync-run.ts';

export type PollerDeps = { readonly config: DirstreamConfig; readonly logger: Logger; readonly signal: AbortSignal };

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
};

function selectProfiles(config: DirstreamConfig, profileId: string | undefined): ProfileConfig[] {
  if (profileId !== undefined) {
    const profile = config.profiles.find((p) => p.id === profileId || p.name === profileId);
    if (!profile) throw createError('PROFILE_NOT_FOUND', `no profile ${profileId} in the configuration`, { retriable: false });
    return [profile];
  }
  return config.profiles.filter((p) => p.enabled);
}

async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/** Waits for the profile's lock (standby) until acquired, the deadline, or shutdown. */
async function acquireLock(
  db: PollerDatabase,
  profileId: string,
  logger: Logger,
  signal: AbortSignal,
  deadline: number,
  retryMs: number,
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
      await abortableSleep(retryMs, signal);
      continue;
    }
    const locked = await tryLockProfile(session, profileId).catch((cause: unknown) => {
      logger.warn({ err: toError(cause) }, 'profile lock query failed; retrying');
      return false;
    });
    if (locked) return session;
    await session.release();
    if (!announced) {
      logger.info('another poller is active for this profile: standing by');
      announced = true;
    }
    if (Date.now() >= deadline) return null;
    await abortableSleep(retryMs, signal);
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
  for (let attempt = 1; ; attempt++) {
    try {
      await setup();
      return;
    } catch (cause) {
      if (!isRetriable(cause) || attempt >= TOPIC_SETUP_ATTEMPTS || signal.aborted) throw cause;
      const waitMs = Math.min(4_000, 250 * 2 ** (attempt - 1));
      logger.warn({ err: toError(cause), attempt, waitMs }, 'topic set-up failed; retrying');
      await abortableSleep(waitMs, signal);
    }
  }
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
  let producer: Producer | null = null;
  try {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopicsPatiently(
        () =>
          ensureTopics(admin, {
            prefix: config.kafka.topicPrefix,
            partitions: config.kafka.partitions,
            replicationFactor: config.kafka.replicationFactor,
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
    });

    const results = await Promise.all(
      profiles.map((profile) =>
        options.once
          ? runProfileOnce({ ...deps, db, sink }, profile, options, internals)
          : runProfileForever({ ...deps, db, sink }, profile, options, internals),
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
    await producer?.disconnect().catch(() => undefined);
    await db.close().catch(() => undefined);
  }
}

type Runtime = PollerDeps & { readonly db: PollerDatabase; readonly sink: EventSink };

async function runProfileOnce(
  rt: Runtime,
  profile: ProfileConfig,
  options: PollerOptions,
  internals: PollerInternals,
): Promise<{ ok: boolean; reason?: string }> {
  const logger = rt.logger.child({ profileId: profile.id });
  const session = await acquireLock(
    rt.db,
    profile.id,
    logger,
    rt.signal,
    Date.now() + (internals.lockWaitMs ?? 5 * 60_000),
    internals.lockRetryMs ?? 2_000,
  );
  if (!session) return { ok: false, reason: `profile ${profile.name}: another poller holds its lock` };
  try {
    const result = await syncProfile(
      { profile, dialect: dialectFor(profile.directory), db: rt.db, session, sink: rt.sink, logger, signal: rt.signal, dryRun: false, hooks: internals.hooks },
      { full: options.full, allowMassDisable: options.allowMassDisable },
    );
    internals.onRun?.(result);
    return result.status === 'succeeded' ? { ok: true } : { ok: false, reason: `profile ${profile.name}: run ${result.status}: ${result.reason}` };
  } catch (cause) {
    const err = toError(cause);
    logger.error({ err }, 'sync run could not complete');
    return { ok: false, reason: `profile ${profile.name}: ${err.message}` };
  } finally {
    await releaseLock(session, profile.id, logger);
  }
}

async function runProfileForever(
  rt: Runtime,
  profile: ProfileConfig,
  options: PollerOptions,
  internals: PollerInternals,
): Promise<{ ok: boolean; reason?: string }> {
  const logger = rt.logger.child({ profileId: profile.id });
  let forceFull = options.full === true;
  while (!rt.signal.aborted) {
    // Standby: retry the lock until this process becomes the active poller of the profile.
    const session = await acquireLock(rt.db, profile.id, logger, rt.signal, Number.POSITIVE_INFINITY, internals.lockRetryMs ?? 5_000);
    if (!session) break;
    logger.info('active poller for this profile');
    try {
      while (!rt.signal.aborted) {
        const started = Date.now();
        // The lock lives as long as this connection: if it died, another poller may be active
        // by now, so go back to standby instead of running (the catch below).
        await session.query('select 1');
        try {
          const result = await syncProfile(
            { profile, dialect: dialectFor(profile.directory), db: rt.db, session, sink: rt.sink, logger, signal: rt.signal, dryRun: false, hooks: internals.hooks },
            { full: forceFull, allowMassDisable: options.allowMassDisable },
          );
          internals.onRun?.(result);
          forceFull = false;
        } catch (cause) {
          logger.error({ err: toError(cause) }, 'sync run could not complete; retrying at the next interval');
        }
        const wait = Math.max(0, profile.schedule.intervalSeconds * 1000 - (Date.now() - started));
        await abortableSleep(wait, rt.signal);
      }
    } catch (cause) {
      // A lost state connection drops the lock too: go back to standby and retry.
      logger.error({ err: toError(cause) }, 'active poller lost its session; standing by again');
    } finally {
      await releaseLock(session, profile.id, logger);
    }
  }
  return { ok: true };
}

/** `dirstream plan`: a dry run of one profile; changes nothing (no produce, no state write). */
export async function planProfile(
  deps: PollerDeps,
  options: { readonly profileId: string; readonly full?: boolean },
): Promise<string> {
  const { config, logger, signal } = deps;
  const [profile] = selectProfiles(config, options.profileId);
  if (!profile) throw createError('PROFILE_NOT_FOUND', `no profile ${options.profileId}`, { retriable: false });
  const db = await openPollerDatabase(config.database);
  try {
    const session = await db.session();
    try {
      const plan = createPlanSink();
      const result = await syncProfile(
        { profile, dialect: dialectFor(profile.directory), db, session, sink: plan.sink, logger: logger.child({ profileId: profile.id }), signal, dryRun: true },
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
