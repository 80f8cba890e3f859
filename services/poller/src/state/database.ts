import type { DatabaseConfig } from '@dirstream/config';
import { createError, toError } from '@dirstream/errors';
import { MikroORM } from '@mikro-orm/postgresql';
import { CompiledQuery, type Kysely } from 'kysely';

/**
 * The poller's PostgreSQL access: MikroORM owns the pool; set-based work goes through its Kysely
 * instance as raw SQL with real bind parameters (arrays and JSON travel as parameters, not text).
 */
export type Sql = {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
};

export type PollerDatabase = Sql & {
  readonly schema: string;
  /** One transaction: every statement of `work` commits together or not at all. */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  /** A dedicated connection held until `release` (advisory locks, temporary tables). */
  session(): Promise<Session>;
  close(): Promise<void>;
};

export type Session = Sql & { release(): Promise<void> };

// biome-ignore lint/suspicious/noExplicitAny: raw SQL has no table types
type AnyKysely = Kysely<any>;

function sqlOn(executor: AnyKysely): Sql {
  return {
    async query<R>(text: string, params: readonly unknown[] = []) {
      try {
        const result = await executor.executeQuery(CompiledQuery.raw(text, [...params]));
        return result.rows as R[];
      } catch (cause) {
        const err = toError(cause);
        const sqlState = (err as { code?: unknown }).code;
        throw createError('STATE_QUERY_FAILED', `poller state query failed: ${err.message}`, {
          retriable: typeof sqlState === 'string' && /^(08|40|53|57P)/.test(sqlState),
          cause: err,
          details: { sqlState },
        });
      }
    },
  };
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export async function openPollerDatabase(config: DatabaseConfig): Promise<PollerDatabase> {
  let orm: MikroORM;
  try {
    orm = await MikroORM.init({
      clientUrl: config.url,
      password: config.password,
      entities: [],
      discovery: { warnWhenNoEntities: false },
      pool: { min: 0, max: config.poolSize },
      debug: false,
    });
  } catch (cause) {
    throw createError('STATE_CONNECT_FAILED', 'cannot connect to the poller state database', { retriable: true, cause });
  }
  const kysely = orm.em.getKysely() as AnyKysely;
  const base = sqlOn(kysely);
  const database: PollerDatabase = {
    schema: config.pollerSchema,
    query: base.query,
    async transaction(work) {
      return kysely.transaction().execute((trx) => work(sqlOn(trx as AnyKysely)));
    },
    session() {
      return new Promise<Session>((resolve, reject) => {
        let release!: () => void;
        const released = new Promise<void>((r) => {
          release = r;
        });
        let opened = false;
        const finished = kysely
          .connection()
          .execute(async (connection) => {
            opened = true;
            resolve({ ...sqlOn(connection as AnyKysely), release: async () => { release(); await finished; } });
            await released;
          })
          .catch((cause: unknown) => {
            if (!opened) reject(toError(cause));
          });
      });
    },
    async close() {
      await orm.close(true);
    },
  };
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
