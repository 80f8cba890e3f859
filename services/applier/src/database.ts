import type { DirstreamConfig } from '@dirstream/config';
import { createError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { ENTITIES, User } from './entities.ts';
import { Migration20261122000000Initial } from './migrations/Migration20261122000000_initial.ts';
import { Migration20261126100000RunDetails } from './migrations/Migration20261126100000_run_details.ts';
import { Migration20261126110000ObjectTimeline } from './migrations/Migration20261126110000_object_timeline.ts';
import { Migration20261126120000RoleBindings } from './migrations/Migration20261126120000_role_bindings.ts';

export type Database = MikroORM;

/** One SQL statement inside a transaction: `?` placeholders, rows back. */
export type Sql = <T = Record<string, unknown>>(query: string, params?: readonly unknown[]) => Promise<T[]>;

const MIGRATIONS = [
  { name: 'Migration20261122000000_initial', class: Migration20261122000000Initial },
  { name: 'Migration20261126100000_run_details', class: Migration20261126100000RunDetails },
  { name: 'Migration20261126110000_object_timeline', class: Migration20261126110000ObjectTimeline },
  { name: 'Migration20261126120000_role_bindings', class: Migration20261126120000RoleBindings },
];

/** Serialises `migrate` across processes that start at the same time. */
const MIGRATION_LOCK_KEY = 7_340_001;

export type DatabaseOptions = {
  /** Pool size; defaults to config.database.poolSize. */
  readonly poolSize?: number;
};

/** A MikroORM instance on the configured database (the applier's entities and migrations). */
export async function openDatabase(config: Pick<DirstreamConfig, 'database'>, options: DatabaseOptions = {}): Promise<Database> {
  return MikroORM.init({
    clientUrl: config.database.url,
    ...(config.database.password === undefined ? {} : { password: config.database.password }),
    entities: [...ENTITIES],
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: 'dirstream_applier_migrations',
      transactional: true,
      allOrNothing: true,
      silent: true,
    },
    pool: { min: 0, max: options.poolSize ?? config.database.poolSize },
    debug: false,
    allowGlobalContext: false,
  });
}

export async function closeDatabase(db: Database): Promise<void> {
  await db.close(true);
}

/** Runs one callback in one database transaction. */
export async function withTransaction<T>(db: Database, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const connection = db.em.getConnection();
  return connection.transactional(async (trx) => {
    const sql: Sql = async <R>(query: string, params: readonly unknown[] = []) =>
      (await connection.execute(query, params, 'all', trx)) as R[];
    return fn(sql);
  });
}

/** Runs one statement outside an explicit transaction. */
export async function query<T = Record<string, unknown>>(
  db: Database,
  statement: string,
  params: readonly unknown[] = [],
): Promise<T[]> {
  return (await db.em.getConnection().execute(statement, params, 'all')) as T[];
}

/** Runs the applier's migrations (idempotent; concurrent callers wait for each other). */
export async function migrate(deps: { config: Pick<DirstreamConfig, 'database'>; logger?: Logger }): Promise<void> {
  const db = await openDatabase(deps.config, { poolSize: 3 });
  try {
    // A session-level advisory lock on a connection of its own, held while the migrator works on
    // others: appliers starting together migrate one after the other.
    const pool = await db.em.getConnection().getNativeClient();
    const lock = await pool.connect();
    try {
      await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const applied = await db.migrator.up();
      if (applied.length > 0) deps.logger?.info({ migrations: applied.map((m) => m.name) }, 'applier migrations applied');
    } finally {
      await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      lock.release();
    }
  } catch (err) {
    throw createError('APPLIER_MIGRATION_FAILED', 'applier migrations failed', { cause: err, retriable: true });
  } finally {
    await closeDatabase(db);
  }
}

export type UserRow = {
  readonly id: number;
  readonly profileId: string | null;
  readonly externalId: string | null;
  readonly source: string;
  readonly loginName: string;
  readonly userPrincipalName: string | null;
  readonly displayName: string;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly emails: readonly string[];
  readonly phone: string | null;
  readonly title: string | null;
  readonly company: string | null;
  readonly dn: string | null;
  readonly sid: string | null;
  readonly enabled: boolean;
  readonly disabledReason: string | null;
  readonly version: number;
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  readonly linkedAt: Date | null;
};

type UserEntity = InstanceType<typeof User.class>;

function toUserRow(row: UserEntity): UserRow {
  return {
    id: Number(row.id),
    profileId: row.profileId ?? null,
    externalId: row.externalId ?? null,
    source: row.source,
    loginName: row.loginName,
    userPrincipalName: row.userPrincipalName ?? null,
    displayName: row.displayName,
    givenName: row.givenName ?? null,
    surname: row.surname ?? null,
    emails: row.emails,
    phone: row.phone ?? null,
    title: row.title ?? null,
    company: row.company ?? null,
    dn: row.dn ?? null,
    sid: row.sid ?? null,
    enabled: row.enabled,
    disabledReason: row.disabledReason ?? null,
    version: Number(row.version),
    attributes: row.attributes,
    linkedAt: row.linkedAt ?? null,
  };
}

/** The user with this directory identity, or null. */
export async function findUser(db: Database, profileId: string, externalId: string): Promise<UserRow | null> {
  const row = await db.em.fork().findOne(User, { profileId, externalId });
  return row === null ? null : toUserRow(row);
}

/** Users (local or directory) with this login name, case-insensitively. */
export async function findUsersByLoginName(db: Database, loginName: string): Promise<UserRow[]> {
  const rows = await query<{ id: string }>(db, 'select id from users where lower(login_name) = lower(?) order by id', [
    loginName,
  ]);
  const users = await db.em
    .fork()
    .find(User, { id: { $in: rows.map((r) => Number(r.id)) } }, { orderBy: { id: 'asc' } });
  return users.map(toUserRow);
}

/** Creates a local (application-owned) account; returns its id. */
export async function createLocalUser(
  db: Database,
  user: { loginName: string; displayName?: string; emails?: readonly string[] },
): Promise<number> {
  const rows = await query<{ id: string }>(
    db,
    `insert into users (source, login_name, display_name, emails) values ('local', ?, ?, ?::text[]) returning id`,
    [user.loginName, user.displayName ?? user.loginName, toPgArray(user.emails ?? [])],
  );
  return Number(rows[0]?.id);
}

/** Effective roles of a directory user (through nested groups and config.groupRoles). */
export async function findUserRoles(db: Database, profileId: string, externalId: string): Promise<string[]> {
  const rows = await query<{ role: string }>(
    db,
    'select role from user_effective_roles where profile_id = ? and external_id = ? order by role',
    [profileId, externalId],
  );
  return rows.map((r) => r.role);
}

/** Effective (transitive) groups of a directory member. */
export async function findEffectiveGroups(db: Database, profileId: string, memberId: string): Promise<string[]> {
  const rows = await query<{ group_id: string }>(
    db,
    'select group_id from effective_memberships where profile_id = ? and member_id = ? order by group_id',
    [profileId, memberId],
  );
  return rows.map((r) => r.group_id);
}

/**
 * One user's effective groups (present, with names) and the roles they grant, in one statement.
 * The same rules as the `effective_memberships` and `user_effective_roles` views (direct edges
 * that are present, nested through groups, cycle-safe by the path array; roles by group name,
 * enabled users only), but the recursion starts at this member: the views build the closure of
 * every member before filtering, which a sign-in cannot afford on a large directory.
 */
export async function findMemberAccess(
  db: Database,
  profileId: string,
  externalId: string,
): Promise<{ groups: { id: string; name: string }[]; roles: string[] }> {
  const rows = await query<{ external_id: string; name: string; roles: string[] | string }>(
    db,
    `with recursive closure (group_id, path) as (
       select m.group_id, array[m.member_id, m.group_id]
         from memberships m
        where m.profile_id = ?::uuid and m.member_id = ? and m.member_type = 'user' and m.present
       union all
       select m.group_id, c.path || m.group_id
         from closure c
         join memberships m on m.profile_id = ?::uuid and m.member_id = c.group_id and m.member_type = 'group' and m.present
        where not (m.group_id = any (c.path))
     )
     select g.external_id, g.name,
            coalesce(array_agg(distinct gr.role) filter (where gr.role is not null and u.enabled), '{}') as roles
       from (select distinct group_id from closure) e
       join groups g on g.profile_id = ?::uuid and g.external_id = e.group_id and g.present
       left join users u on u.profile_id = g.profile_id and u.external_id = ?
       -- Grants follow the group's identity (migration 20261126120000, view user_effective_roles).
       left join group_role_bindings b on b.profile_id = g.profile_id and b.group_id = g.external_id
             and not (lower(g.name) = lower(b.group_name) and exists (
               select 1 from groups other where other.profile_id = b.profile_id and other.present
                  and other.external_id <> b.group_id and lower(other.name) = lower(b.group_name)))
       left join group_roles gr on gr.profile_id = b.profile_id and gr.group_name = b.group_name
      group by g.external_id, g.name
      order by lower(g.name), g.external_id`,
    [profileId, externalId, profileId, profileId, externalId],
  );
  const roles = new Set<string>();
  for (const row of rows) for (const role of parsePgArray(row.roles)) roles.add(role);
  return { groups: rows.map((r) => ({ id: r.external_id, name: r.name })), roles: [...roles].sort() };
}

/** A text[] value as the driver hands it: an array, or the `{a,"b c"}` text form. */
export function parsePgArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.replace(/^\{|\}$/g, '');
  if (inner === '') return [];
  return [...inner.matchAll(/"((?:[^"\\]|\\.)*)"|([^,]+)/g)].map((m) => (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
}

/** A text[] literal for `?::text[]` (the parameters are inlined by the driver layer). */
export function toPgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}
