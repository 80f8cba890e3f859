import type { RunCounts, RunStatus, SyncMode } from '@dirstream/events';
import { quoteIdent, type Session, type Sql } from '@dirstream/db';
import { holdsLockSql } from './lock.ts';

/**
 * What operators see of the pollers, in `<pollerSchema>.profile_activity`: which process is the
 * active poller of a profile (written when it takes the lock, cleared when it lets go; the
 * advisory lock stays the truth, so a row left by a crashed process is recognised as stale by
 * looking at pg_locks), when it runs next, and what its last run did.
 */

/** `scheduled`: `dirstream poller` on its interval; `once`: `dirstream poller --once`. */
export type HolderMode = 'scheduled' | 'once';

export type LockHolder = {
  readonly host: string;
  readonly pid: number;
  readonly since: Date;
  readonly mode: HolderMode;
};

export type RunSummary = {
  readonly runId: string;
  readonly mode: SyncMode;
  readonly status: RunStatus;
  readonly reason: string | null;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly counts: RunCounts;
};

export type ProfileActivity = {
  readonly profileId: string;
  /** Null when no process holds the profile's lock now. */
  readonly holder: LockHolder | null;
  /** When the active poller runs next on its schedule (null without a scheduled active poller). */
  readonly nextRunAt: Date | null;
  readonly currentRun: { readonly runId: string; readonly startedAt: Date } | null;
  readonly lastRun: RunSummary | null;
};

type Row = {
  profile_id: string;
  holder_host: string | null;
  holder_pid: number | null;
  holder_mode: HolderMode | null;
  holder_since: Date | string | null;
  holder_live: boolean;
  next_run_at: Date | string | null;
  current_run_id: string | null;
  current_run_started_at: Date | string | null;
  last_run: unknown;
};

const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

type WithSchema = Sql & { readonly schema: string };

/** Must run on the session that holds the lock: it records that session's backend. */
export async function markActive(
  session: Session,
  schema: string,
  profileId: string,
  holder: { readonly host: string; readonly pid: number; readonly mode: HolderMode },
): Promise<void> {
  const s = quoteIdent(schema);
  await session.query(
    `insert into ${s}.profile_activity (profile_id, holder_host, holder_pid, holder_backend_pid, holder_mode, holder_since, next_run_at,
       current_run_id, current_run_started_at, updated_at)
     values ($1, $2, $3, pg_backend_pid(), $4, now(), null, null, null, now())
     on conflict (profile_id) do update set holder_host = excluded.holder_host, holder_pid = excluded.holder_pid,
       holder_backend_pid = excluded.holder_backend_pid, holder_mode = excluded.holder_mode, holder_since = excluded.holder_since,
       next_run_at = null, current_run_id = null, current_run_started_at = null, updated_at = now()`,
    [profileId, holder.host, holder.pid, holder.mode],
  );
}

/** Before the lock is released, on the same session (only this holder's row is cleared). */
export async function clearActive(session: Session, schema: string, profileId: string): Promise<void> {
  const s = quoteIdent(schema);
  await session.query(
    `update ${s}.profile_activity set holder_host = null, holder_pid = null, holder_backend_pid = null, holder_mode = null,
       holder_since = null, next_run_at = null, current_run_id = null, current_run_started_at = null, updated_at = now()
      where profile_id = $1 and holder_backend_pid = pg_backend_pid()`,
    [profileId],
  );
}

export async function recordNextRun(db: WithSchema, profileId: string, at: Date | null): Promise<void> {
  const s = quoteIdent(db.schema);
  await db.query(`update ${s}.profile_activity set next_run_at = $2, updated_at = now() where profile_id = $1`, [profileId, at]);
}

export async function recordRunStarted(db: WithSchema, profileId: string, runId: string): Promise<void> {
  const s = quoteIdent(db.schema);
  await db.query(
    `update ${s}.profile_activity set current_run_id = $2, current_run_started_at = now(), next_run_at = null, updated_at = now()
      where profile_id = $1`,
    [profileId, runId],
  );
}

export async function recordRunFinished(db: WithSchema, profileId: string, summary: RunSummary): Promise<void> {
  const s = quoteIdent(db.schema);
  await db.query(
    `update ${s}.profile_activity set current_run_id = null, current_run_started_at = null, last_run = $2::jsonb, updated_at = now()
      where profile_id = $1`,
    [profileId, JSON.stringify(summary)],
  );
}

function toActivity(row: Row): ProfileActivity {
  const holder =
    row.holder_live && row.holder_host !== null && row.holder_pid !== null && row.holder_since !== null
      ? { host: row.holder_host, pid: Number(row.holder_pid), since: toDate(row.holder_since), mode: row.holder_mode ?? 'scheduled' }
      : null;
  const lastRun = (typeof row.last_run === 'string' ? JSON.parse(row.last_run) : row.last_run) as RunSummary | null;
  return {
    profileId: row.profile_id,
    holder,
    // A stale row (its process died) says nothing about the future.
    nextRunAt: holder && row.next_run_at !== null ? toDate(row.next_run_at) : null,
    currentRun:
      holder && row.current_run_id !== null && row.current_run_started_at !== null
        ? { runId: row.current_run_id, startedAt: toDate(row.current_run_started_at) }
        : null,
    lastRun: lastRun ?? null,
  };
}

/** Every profile a poller was ever active for, with a holder only where the lock is held now. */
export async function readProfileActivity(db: WithSchema): Promise<ProfileActivity[]> {
  const s = quoteIdent(db.schema);
  const rows = await db.query<Row>(
    `select a.*, (a.holder_backend_pid is not null and ${holdsLockSql('a.profile_id', 'a.holder_backend_pid')}) as holder_live
       from ${s}.profile_activity a order by a.profile_id`,
  );
  return rows.map(toActivity);
}
