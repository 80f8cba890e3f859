import { randomUUID } from 'node:crypto';
import type { RunStatus } from '@dirstream/events';
import { type Database, quoteIdent, type Sql } from '@dirstream/db';

/**
 * "Sync now": a request is a row in `<pollerSchema>.sync_requests` plus a NOTIFY on
 * SYNC_REQUEST_CHANNEL (payload: the profile ID). The row is the truth (a missed notification
 * only delays a run until the active poller looks at the table again); the notification makes
 * the active poller start within a second. The run ID is chosen here, so the caller has it at once.
 */
export const SYNC_REQUEST_CHANNEL = 'dirstream_sync_requests';

/** Why a run was asked for: an operator (API, `dirstream sync`), a first sign-in, `poller --once`. */
export type SyncRequestReason = 'operator' | 'first-sign-in' | 'poller-once';

export type SyncRequest = {
  readonly profileId: string;
  /** A full pass; a full request upgrades a pending delta request it joins. */
  readonly full?: boolean;
  readonly reason: SyncRequestReason;
  /** Who asked (an operator's token name, a login name); shown, never trusted. */
  readonly requestedBy?: string | null;
};

export type RequestedRun = {
  readonly runId: string;
  /** True when the request joined a run already pending for the profile instead of queueing one. */
  readonly coalesced: boolean;
};

export type RunPhase = 'pending' | 'running' | 'finished';

/** A requested run as the requests table knows it. */
export type RequestedRunState = {
  readonly runId: string;
  readonly profileId: string;
  readonly full: boolean;
  readonly requestReason: SyncRequestReason;
  readonly requestedBy: string | null;
  readonly requestedAt: Date;
  /** How many later requests joined this one. */
  readonly coalesced: number;
  readonly phase: RunPhase;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** The run's outcome once finished. */
  readonly status: RunStatus | null;
  readonly statusReason: string | null;
  /** The poller process that ran it. */
  readonly host: string | null;
  readonly pid: number | null;
};

type Row = {
  run_id: string;
  profile_id: string;
  full_pass: boolean;
  reason: SyncRequestReason;
  requested_by: string | null;
  requested_at: Date | string;
  coalesced: number;
  state: RunPhase;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  run_status: RunStatus | null;
  run_reason: string | null;
  run_host: string | null;
  run_pid: number | null;
};

const toDate = (value: Date | string | null): Date | null => (value === null ? null : value instanceof Date ? value : new Date(value));

function toState(row: Row): RequestedRunState {
  return {
    runId: row.run_id,
    profileId: row.profile_id,
    full: row.full_pass,
    requestReason: row.reason,
    requestedBy: row.requested_by,
    requestedAt: toDate(row.requested_at) as Date,
    coalesced: Number(row.coalesced),
    phase: row.state,
    startedAt: toDate(row.started_at),
    finishedAt: toDate(row.finished_at),
    status: row.run_status,
    statusReason: row.run_reason,
    host: row.run_host,
    pid: row.run_pid === null ? null : Number(row.run_pid),
  };
}

/**
 * Queues a run for the profile, or joins the one already pending (a full request upgrades it).
 * A request while a run is in progress queues one run after it: the running pass may already
 * have read past the change the caller wants to see.
 */
export async function insertSyncRequest(db: Database, request: SyncRequest): Promise<RequestedRun> {
  const s = quoteIdent(db.schema);
  return db.transaction(async (tx) => {
    // Serialises requests of one profile (the partial unique index would also refuse a second
    // pending row, but as an error instead of a join).
    await tx.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`dirstream-sync-request:${request.profileId}`]);
    // The active poller may claim the pending row meanwhile: `state = 'pending'` is re-checked
    // after the row lock, and then a new row is queued instead.
    const joined = await tx.query<{ run_id: string }>(
      `update ${s}.sync_requests set full_pass = full_pass or $2, coalesced = coalesced + 1
        where profile_id = $1 and state = 'pending' returning run_id`,
      [request.profileId, request.full === true],
    );
    const existing = joined[0];
    if (existing) return { runId: existing.run_id, coalesced: true };
    const runId = randomUUID();
    await tx.query(
      `insert into ${s}.sync_requests (run_id, profile_id, full_pass, reason, requested_by, state) values ($1, $2, $3, $4, $5, 'pending')`,
      [runId, request.profileId, request.full === true, request.reason, request.requestedBy ?? null],
    );
    // Delivered when the transaction commits, so the poller finds the row.
    await tx.query('select pg_notify($1, $2)', [SYNC_REQUEST_CHANNEL, request.profileId]);
    return { runId, coalesced: false };
  });
}

export type ClaimedRequest = {
  readonly runId: string;
  readonly full: boolean;
  readonly reason: SyncRequestReason;
  /** From the request to now (database clock). */
  readonly waitedMs: number;
};

/** The active poller takes the profile's pending request (if any) and runs it now. */
export async function claimSyncRequest(
  db: Sql & { readonly schema: string },
  profileId: string,
  runner: { readonly host: string; readonly pid: number },
): Promise<ClaimedRequest | null> {
  const s = quoteIdent(db.schema);
  const rows = await db.query<{ run_id: string; full_pass: boolean; reason: SyncRequestReason; waited_ms: string | number }>(
    `update ${s}.sync_requests set state = 'running', started_at = now(), run_host = $2, run_pid = $3
      where profile_id = $1 and state = 'pending'
      returning run_id, full_pass, reason, extract(epoch from (now() - requested_at)) * 1000 as waited_ms`,
    [profileId, runner.host, runner.pid],
  );
  const row = rows[0];
  return row ? { runId: row.run_id, full: row.full_pass, reason: row.reason, waitedMs: Number(row.waited_ms) } : null;
}

export async function hasPendingRequest(db: Sql & { readonly schema: string }, profileId: string): Promise<boolean> {
  const rows = await db.query(`select 1 from ${quoteIdent(db.schema)}.sync_requests where profile_id = $1 and state = 'pending' limit 1`, [
    profileId,
  ]);
  return rows.length > 0;
}

export async function finishSyncRequest(
  db: Sql & { readonly schema: string },
  runId: string,
  outcome: { readonly status: RunStatus; readonly reason: string | null },
): Promise<void> {
  const s = quoteIdent(db.schema);
  await db.query(
    `update ${s}.sync_requests set state = 'finished', finished_at = now(), run_status = $2, run_reason = $3 where run_id = $1`,
    [runId, outcome.status, outcome.reason],
  );
}

/**
 * Requests a previous active poller took and never finished (it crashed or lost its lock):
 * called by the new active poller before it runs anything, so a waiting caller gets an answer.
 */
export async function abandonRunningRequests(db: Sql & { readonly schema: string }, profileId: string): Promise<number> {
  const s = quoteIdent(db.schema);
  const rows = await db.query(
    `update ${s}.sync_requests set state = 'finished', finished_at = now(), run_status = 'failed',
       run_reason = 'the poller running it stopped before the run finished'
      where profile_id = $1 and state = 'running' returning 1`,
    [profileId],
  );
  return rows.length;
}

/** Finished requests are history for the console and `--wait`; after this long they go. */
export const REQUEST_RETENTION_DAYS = 30;

export async function pruneFinishedRequests(db: Sql & { readonly schema: string }, profileId: string): Promise<void> {
  const s = quoteIdent(db.schema);
  await db.query(
    `delete from ${s}.sync_requests where profile_id = $1 and state = 'finished' and requested_at < now() - make_interval(days => $2)`,
    [profileId, REQUEST_RETENTION_DAYS],
  );
}

export async function readRequestedRun(db: Sql & { readonly schema: string }, runId: string): Promise<RequestedRunState | null> {
  const s = quoteIdent(db.schema);
  const rows = await db.query<Row>(`select * from ${s}.sync_requests where run_id = $1`, [runId]);
  const row = rows[0];
  return row ? toState(row) : null;
}

/** The pending request of each profile that has one. */
export async function readPendingRequests(db: Sql & { readonly schema: string }): Promise<Map<string, RequestedRunState>> {
  const s = quoteIdent(db.schema);
  const rows = await db.query<Row>(`select * from ${s}.sync_requests where state = 'pending'`);
  return new Map(rows.map((r) => [r.profile_id, toState(r)]));
}
