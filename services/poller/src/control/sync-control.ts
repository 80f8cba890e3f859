import type { DatabaseConfig } from '@dirstream/config';
import { createError, sleep } from '@dirstream/errors';
import { type LockHolder, type ProfileActivity, readProfileActivity, type RunSummary } from '../state/activity.ts';
import { quoteIdent } from '@dirstream/db';
import { openPollerDatabase } from '../state/database.ts';
import {
  insertSyncRequest,
  readPendingRequests,
  readRequestedRun,
  type RequestedRun,
  type RequestedRunState,
  type SyncRequest,
} from '../state/sync-requests.ts';

/**
 * The pollers as other processes see and steer them (`dirstream serve`'s admin API, the
 * `dirstream sync` / `status` commands, sign-in): ask the active poller of a profile for a run,
 * follow that run, and read which process holds each profile's lock and where each profile stands.
 * Only the active poller produces a profile's events (invariant 8); this module never runs a pass.
 */
export type SyncControl = {
  /**
   * Asks the profile's active poller for a run (it starts within a second) and returns its run ID
   * at once. Joins a run already pending for the profile (`coalesced`); a request while a run is in
   * progress queues one run after it. Nobody polling the profile: the request stays pending until
   * a poller (`dirstream poller`, or `--once`) takes the profile's lock. The profile ID is not
   * checked against the configuration: the caller does that.
   */
  requestSync(request: SyncRequest): Promise<RequestedRun>;
  /** A requested run (pending, running, finished with its status), or null for an unknown run ID. */
  runState(runId: string): Promise<RequestedRunState | null>;
  /** Resolves once the run finished; throws SYNC_WAIT_TIMEOUT / SYNC_RUN_UNKNOWN / RUN_ABORTED. */
  waitForRun(
    runId: string,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number; readonly pollMs?: number },
  ): Promise<RequestedRunState>;
  /** The process holding each profile's lock now (profiles nobody holds are absent). */
  lockHolders(): Promise<ReadonlyMap<string, LockHolder>>;
  /** Every profile a poller has state or activity for (join with the configuration's profiles). */
  profileStates(): Promise<readonly ProfileStatus[]>;
  close(): Promise<void>;
};

export type ProfileStatus = {
  readonly profileId: string;
  /** The delta mechanism the cursor belongs to (`accesslog`, `usn`, `timestamp`, …); null before a first successful run. */
  readonly cursorKind: string | null;
  readonly cursor: string | null;
  /** When the cursor was last stored (the end of the last run). */
  readonly cursorStoredAt: Date | null;
  readonly lastFullAt: Date | null;
  /** The last finished run, as the poller that ran it recorded it. */
  readonly lastRun: RunSummary | null;
  readonly holder: LockHolder | null;
  /** The next scheduled run of the active poller; null when no scheduled poller holds the lock. */
  readonly nextRunAt: Date | null;
  readonly currentRun: { readonly runId: string; readonly startedAt: Date } | null;
  readonly pendingRun: { readonly runId: string; readonly full: boolean; readonly requestedAt: Date } | null;
};

type StateRow = {
  profile_id: string;
  cursor_kind: string | null;
  cursor: string | null;
  last_full_at: string | null;
  last_run_id: string | null;
  last_status: string | null;
  updated_at: Date | string;
};

export async function createSyncControl(config: DatabaseConfig): Promise<SyncControl> {
  // Creates the poller's tables when no poller ran yet, so a request can wait for one.
  const db = await openPollerDatabase({ ...config, poolSize: Math.min(config.poolSize, 3) });
  const s = quoteIdent(db.schema);

  const control: SyncControl = {
    requestSync: (request) => insertSyncRequest(db, request),
    runState: (runId) => readRequestedRun(db, runId),
    async waitForRun(runId, options = {}) {
      const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
      for (;;) {
        const state = await readRequestedRun(db, runId);
        if (state === null) throw createError('SYNC_RUN_UNKNOWN', `no requested run ${runId}`, { retriable: false });
        if (state.phase === 'finished') return state;
        if (options.signal?.aborted) throw createError('RUN_ABORTED', `stopped waiting for run ${runId}`, { retriable: false });
        if (Date.now() >= deadline) {
          throw createError('SYNC_WAIT_TIMEOUT', `run ${runId} is still ${state.phase} after ${options.timeoutMs} ms`, { retriable: true });
        }
        await sleep(options.pollMs ?? 250, options.signal);
      }
    },
    async lockHolders() {
      const activity = await readProfileActivity(db);
      return new Map(activity.flatMap((a) => (a.holder ? [[a.profileId, a.holder] as const] : [])));
    },
    async profileStates() {
      const [states, activity, pending] = await Promise.all([
        db.query<StateRow>(
          `select profile_id, cursor_kind, cursor, last_full_at, last_run_id, last_status, updated_at from ${s}.profile_state`,
        ),
        readProfileActivity(db),
        readPendingRequests(db),
      ]);
      const byId = new Map<string, { state?: StateRow; activity?: ProfileActivity }>();
      for (const row of states) byId.set(row.profile_id, { state: row });
      for (const a of activity) byId.set(a.profileId, { ...byId.get(a.profileId), activity: a });
      for (const id of pending.keys()) if (!byId.has(id)) byId.set(id, {});
      return [...byId.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([profileId, { state, activity: a }]): ProfileStatus => {
          const request = pending.get(profileId);
          return {
            profileId,
            cursorKind: state?.cursor_kind ?? null,
            cursor: state?.cursor ?? null,
            cursorStoredAt: state ? new Date(state.updated_at) : null,
            lastFullAt: state?.last_full_at ? new Date(Number(state.last_full_at)) : null,
            lastRun: a?.lastRun ?? null,
            holder: a?.holder ?? null,
            nextRunAt: a?.nextRunAt ?? null,
            currentRun: a?.currentRun ?? null,
            pendingRun: request ? { runId: request.runId, full: request.full, requestedAt: request.requestedAt } : null,
          };
        });
    },
    close: () => db.close(),
  };
  return control;
}
