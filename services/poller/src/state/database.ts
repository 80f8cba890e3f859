import type { DatabaseConfig } from '@dirstream/config';
import { type Database, openDatabase, quoteIdent } from '@dirstream/db';

/**
 * The poller's state database: the one PostgreSQL access of @dirstream/db (MikroORM pool, raw SQL
 * with real `$1` bind parameters), failures as STATE_QUERY_FAILED.
 */
export type PollerDatabase = Database;
// Re-exported for modules written against this file; new code imports them from @dirstream/db.
export { quoteIdent };
export type { Session, Sql } from '@dirstream/db';

export async function openPollerDatabase(config: DatabaseConfig): Promise<PollerDatabase> {
  const database = await openDatabase(config, { queryErrorCode: 'STATE_QUERY_FAILED' });
  await ensureSchema(database);
  return database;
}

/** Creates the schema and tables when missing; safe when several pollers start together. */
export async function ensureSchema(database: PollerDatabase): Promise<void> {
  const s = quoteIdent(database.schema);
  await database.transaction(async (tx) => {
    // Concurrent CREATE … IF NOT EXISTS can still collide in the catalog: serialise them.
    await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`dirstream-poller-schema:${database.schema}`]);
    await tx.query(`create schema if not exists ${s}`);
    await tx.query(`create table if not exists ${s}.profile_state (
      profile_id text primary key,
      cursor_kind text,
      cursor text,
      last_full_at bigint,
      last_run_id text,
      last_status text,
      updated_at timestamptz not null default now()
    )`);
    await tx.query(`create table if not exists ${s}.entity (
      profile_id text not null,
      kind text not null check (kind in ('user', 'group')),
      external_id text not null,
      dn text not null,
      dn_norm text not null,
      login_norm text,
      hash text not null,
      version bigint not null,
      enabled boolean not null,
      present boolean not null,
      state jsonb not null,
      primary key (profile_id, kind, external_id)
    )`);
    await tx.query(`alter table ${s}.entity add column if not exists members_hash text`);
    // The DN an entity had before its last rename: slapo-refint rewrites group `member` values
    // asynchronously, so a group read just after a rename may still list the old DN.
    await tx.query(`alter table ${s}.entity add column if not exists previous_dn_norm text`);
    // The run that saw that rename: the former DN names the entity during that pass only
    // (DESIGN invariant 9); afterwards a group still listing it holds a dangling reference.
    await tx.query(`alter table ${s}.entity add column if not exists previous_dn_run text`);
    await tx.query(`create index if not exists entity_dn_idx on ${s}.entity (profile_id, dn_norm) where present`);
    await tx.query(
      `create index if not exists entity_previous_dn_idx on ${s}.entity (profile_id, previous_dn_norm) where present and previous_dn_norm is not null`,
    );
    await tx.query(`create index if not exists entity_login_idx on ${s}.entity (profile_id, login_norm) where present and kind = 'user'`);
    await tx.query(`create table if not exists ${s}.edge (
      profile_id text not null,
      group_id text not null,
      member_id text not null,
      member_type text not null check (member_type in ('user', 'group')),
      version bigint not null,
      primary key (profile_id, group_id, member_id)
    )`);
    await tx.query(`create index if not exists edge_member_idx on ${s}.edge (profile_id, member_id)`);
    // Sync now (state/sync-requests.ts): a row per requested run; the run ID is chosen at request
    // time. At most one pending request per profile: later requests join it (coalesced).
    await tx.query(`create table if not exists ${s}.sync_requests (
      run_id text primary key,
      profile_id text not null,
      full_pass boolean not null,
      reason text not null,
      requested_by text,
      requested_at timestamptz not null default now(),
      coalesced integer not null default 0,
      state text not null check (state in ('pending', 'running', 'finished')),
      started_at timestamptz,
      finished_at timestamptz,
      run_status text,
      run_reason text,
      run_host text,
      run_pid integer
    )`);
    await tx.query(`create unique index if not exists sync_requests_pending_idx on ${s}.sync_requests (profile_id) where state = 'pending'`);
    await tx.query(`create index if not exists sync_requests_profile_idx on ${s}.sync_requests (profile_id, requested_at)`);
    // Who is the active poller of a profile (the advisory lock is the truth: a row whose backend
    // no longer holds the lock is stale), when it runs next, and what its last run did.
    await tx.query(`create table if not exists ${s}.profile_activity (
      profile_id text primary key,
      holder_host text,
      holder_pid integer,
      holder_backend_pid integer,
      holder_mode text,
      holder_since timestamptz,
      next_run_at timestamptz,
      current_run_id text,
      current_run_started_at timestamptz,
      last_run jsonb,
      updated_at timestamptz not null default now()
    )`);
  });
}
