import { maskConfig } from '@dirstream/config';
import type { LockHolder, SyncControl } from '@dirstream/poller';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../context.ts';
import { httpError } from '../http/errors.ts';
import { parseInput } from '../http/input.ts';
import { callerOf, requireOperator } from './auth.ts';
import { iso } from './paging.ts';
import { lastRuns, lastSuccesses, readRun, type RunSummary } from './runs.ts';

/** What the badge on the page says, worst first. */
export type ProfileBadge = 'running' | 'failed' | 'halted' | 'succeeded' | 'never-run' | 'disabled';

export type ProfileView = {
  readonly id: string;
  readonly name: string;
  readonly directory: string;
  readonly enabled: boolean;
  readonly badge: ProfileBadge;
  /** The profile's configuration with every secret masked. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly lastRun: RunSummary | null;
  readonly lastSuccessAt: string | null;
  readonly nextRunAt: string | null;
  readonly delta: {
    readonly configured: string;
    /** The mechanism the stored cursor belongs to (what `auto` chose), null before a first run. */
    readonly mechanism: string | null;
    readonly cursor: string | null;
    readonly cursorStoredAt: string | null;
    readonly lastFullAt: string | null;
  };
  readonly lock: { readonly host: string; readonly pid: number; readonly since: string | null; readonly mode: string } | null;
  readonly currentRun: { readonly runId: string; readonly startedAt: string | null } | null;
  readonly pendingRun: { readonly runId: string; readonly full: boolean; readonly requestedAt: string | null } | null;
};

const lockView = (holder: LockHolder | null | undefined) =>
  holder === null || holder === undefined ? null : { host: holder.host, pid: holder.pid, since: iso(holder.since), mode: holder.mode };

export async function readProfiles(ctx: ServeContext, control: SyncControl): Promise<ProfileView[]> {
  const masked = maskConfig(ctx.config);
  const [runs, successes, states] = await Promise.all([lastRuns(ctx), lastSuccesses(ctx.db), control.profileStates()]);
  const stateById = new Map(states.map((s) => [s.profileId, s]));
  return masked.profiles.map((profile) => {
    const state = stateById.get(profile.id);
    const lastRun = runs.get(profile.id) ?? null;
    const badge: ProfileBadge = !profile.enabled
      ? 'disabled'
      : state?.currentRun
        ? 'running'
        : lastRun === null
          ? 'never-run'
          : (lastRun.status as ProfileBadge);
    return {
      id: profile.id,
      name: profile.name,
      directory: profile.directory,
      enabled: profile.enabled,
      badge,
      config: profile as unknown as Record<string, unknown>,
      lastRun,
      lastSuccessAt: successes.get(profile.id) ?? null,
      nextRunAt: iso(state?.nextRunAt),
      delta: {
        configured: profile.schedule.delta,
        mechanism: state?.cursorKind ?? null,
        cursor: state?.cursor ?? null,
        cursorStoredAt: iso(state?.cursorStoredAt),
        lastFullAt: iso(state?.lastFullAt),
      },
      lock: lockView(state?.holder),
      currentRun: state?.currentRun ? { runId: state.currentRun.runId, startedAt: iso(state.currentRun.startedAt) } : null,
      pendingRun: state?.pendingRun
        ? { runId: state.pendingRun.runId, full: state.pendingRun.full, requestedAt: iso(state.pendingRun.requestedAt) }
        : null,
    };
  });
}

const profileParams = z.object({ id: z.uuid() }).strict();
export const syncBodySchema = z.object({ full: z.boolean().default(false) }).strict();

/** A requested run the applier has not recorded yet: where the poller has it. */
export async function readRequestedRun(control: SyncControl, runId: string) {
  const state = await control.runState(runId);
  if (state === null) return null;
  return {
    runId: state.runId,
    profileId: state.profileId,
    full: state.full,
    requestedBy: state.requestedBy,
    requestedAt: iso(state.requestedAt),
    phase: state.phase,
    startedAt: iso(state.startedAt),
    finishedAt: iso(state.finishedAt),
    status: state.status,
    statusReason: state.statusReason,
    coalesced: state.coalesced,
  };
}

export function registerProfileRoutes(app: FastifyInstance, ctx: ServeContext, control: SyncControl): void {
  app.get('/v1/profiles', async () => ({ profiles: await readProfiles(ctx, control) }));

  app.get('/v1/profiles/:id', async (request) => {
    const { id } = parseInput(profileParams, request.params, 'params');
    const profile = (await readProfiles(ctx, control)).find((p) => p.id === id);
    if (profile === undefined) throw httpError('PROFILE_NOT_FOUND', `no profile ${id} in the configuration`);
    return { profile };
  });

  // Sync now: the profile's active poller picks the request up (NOTIFY) and starts the run within
  // a second; a request while a run is pending joins it, one during a run queues one run after it.
  app.post('/v1/profiles/:id/sync', { preHandler: requireOperator }, async (request, reply) => {
    const { id } = parseInput(profileParams, request.params, 'params');
    const { full } = parseInput(syncBodySchema, request.body ?? {}, 'body');
    const profile = ctx.config.profiles.find((p) => p.id === id);
    if (profile === undefined) throw httpError('PROFILE_NOT_FOUND', `no profile ${id} in the configuration`);
    // No poller runs a disabled profile: the request would wait forever.
    if (!profile.enabled) throw httpError('HTTP_CONFLICT', `profile ${profile.name} is disabled (enabled: false); no poller runs it`);
    const caller = callerOf(request);
    const requested = await control.requestSync({ profileId: id, full, reason: 'operator', requestedBy: caller.name });
    request.log.info({ profileId: id, runId: requested.runId, full, coalesced: requested.coalesced }, 'sync requested');
    return reply.status(202).send({ profileId: id, runId: requested.runId, full, coalesced: requested.coalesced });
  });

  app.get('/v1/sync-requests/:runId', async (request) => {
    const { runId } = parseInput(z.object({ runId: z.string().min(1).max(200) }).strict(), request.params, 'params');
    const [state, run] = await Promise.all([readRequestedRun(control, runId), readRun(ctx, runId)]);
    if (state === null && run === null) throw httpError('HTTP_NOT_FOUND', `no requested run ${runId}`);
    return { request: state, run };
  });
}
