import type { DirstreamConfig } from '@dirstream/config';
import { type Database, openDatabase as openDb, runMigrations } from '@dirstream/db';
import { createError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { ENTITIES } from './entities.ts';
import { Migration20261122000000Initial } from './migrations/Migration20261122000000_initial.ts';
import { Migration20261126100000RunDetails } from './migrations/Migration20261126100000_run_details.ts';
import { Migration20261126110000ObjectTimeline } from './migrations/Migration20261126110000_object_timeline.ts';
import { Migration20261126120000RoleBindings } from './migrations/Migration20261126120000_role_bindings.ts';
import { Migration20261126140000OutboxTraceContext } from './migrations/Migration20261126140000_outbox_trace_context.ts';
import { Migration20261126153000RoleBindingsFromEvents } from './migrations/Migration20261126153000_role_bindings_from_events.ts';
import { Migration20261126160000SyncLogIndexes } from './migrations/Migration20261126160000_sync_log_indexes.ts';
import { Migration20261126170000AccessChangedNotify } from './migrations/Migration20261126170000_access_changed_notify.ts';

/** The application database, spoken to the one way (@dirstream/db: `$1` bind parameters). */
export type { Database, Sql } from '@dirstream/db';

const MIGRATIONS = [
  { name: 'Migration20261122000000_initial', class: Migration20261122000000Initial },
  { name: 'Migration20261126100000_run_details', class: Migration20261126100000RunDetails },
  { name: 'Migration20261126110000_object_timeline', class: Migration20261126110000ObjectTimeline },
  { name: 'Migration20261126120000_role_bindings', class: Migration20261126120000RoleBindings },
  { name: 'Migration20261126140000_outbox_trace_context', class: Migration20261126140000OutboxTraceContext },
  { name: 'Migration20261126153000_role_bindings_from_events', class: Migration20261126153000RoleBindingsFromEvents },
  { name: 'Migration20261126160000_sync_log_indexes', class: Migration20261126160000SyncLogIndexes },
  { name: 'Migration20261126170000_access_changed_notify', class: Migration20261126170000AccessChangedNotify },
];

/** Serialises `migrate` across processes that start at the same time. */
const MIGRATION_LOCK_KEY = 7_340_001;

export type DatabaseOptions = {
  /** Pool size; defaults to config.database.poolSize. */
  readonly poolSize?: number;
};

/** A pool on the configured application database. */
export async function openDatabase(config: Pick<DirstreamConfig, 'database'>, options: DatabaseOptions = {}): Promise<Database> {
  return openDb(config.database, options.poolSize === undefined ? {} : { poolSize: options.poolSize });
}

export async function closeDatabase(db: Database): Promise<void> {
  await db.close();
}

/** Runs the applier's migrations (idempotent; concurrent callers wait for each other). */
export async function migrate(deps: { config: Pick<DirstreamConfig, 'database'>; logger?: Logger }): Promise<void> {
  try {
    const applied = await runMigrations(deps.config.database, {
      migrations: MIGRATIONS,
      tableName: 'dirstream_applier_migrations',
      lockKey: MIGRATION_LOCK_KEY,
      // The entities describe the tables (MikroORM's schema diff when a migration is written).
      orm: { entities: [...ENTITIES] },
    });
    if (applied.length > 0) deps.logger?.info({ migrations: applied }, 'applier migrations applied');
  } catch (err) {
    throw createError('APPLIER_MIGRATION_FAILED', 'applier migrations failed', { cause: err, retriable: true });
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

type UserDbRow = {
  id: string;
  profile_id: string | null;
  external_id: string | null;
  source: string;
  login_name: string;
  user_principal_name: string | null;
  display_name: string;
  given_name: string | null;
  surname: string | null;
  emails: string[] | string;
  phone: string | null;
  title: string | null;
  company: string | null;
  dn: string | null;
  sid: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  version: string;
  attributes: Record<string, readonly string[]>;
  linked_at: Date | null;
};

const USER_COLUMNS = `id, profile_id, external_id, source, login_name, user_principal_name, display_name, given_name, surname,
  emails, phone, title, company, dn, sid, enabled, disabled_reason, version, attributes, linked_at`;

function toUserRow(row: UserDbRow): UserRow {
  return {
    id: Number(row.id),
    profileId: row.profile_id,
    externalId: row.external_id,
    source: row.source,
    loginName: row.login_name,
    userPrincipalName: row.user_principal_name,
    displayName: row.display_name,
    givenName: row.given_name,
    surname: row.surname,
    emails: parsePgArray(row.emails),
    phone: row.phone,
    title: row.title,
    company: row.company,
    dn: row.dn,
    sid: row.sid,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    version: Number(row.version),
    attributes: row.attributes,
    linkedAt: row.linked_at,
  };
}

/** The user with this directory identity, or null. */
export async function findUser(db: Database, profileId: string, externalId: string): Promise<UserRow | null> {
  const rows = await db.query<UserDbRow>(`select ${USER_COLUMNS} from users where profile_id = $1 and external_id = $2`, [
    profileId,
    externalId,
  ]);
  const [row] = rows;
  return row === undefined ? null : toUserRow(row);
}

/** Users (local or directory) with this login name, case-insensitively. */
export async function findUsersByLoginName(db: Database, loginName: string): Promise<UserRow[]> {
  const rows = await db.query<UserDbRow>(`select ${USER_COLUMNS} from users where lower(login_name) = lower($1) order by id`, [loginName]);
  return rows.map(toUserRow);
}

/** Creates a local (application-owned) account; returns its id. */
export async function createLocalUser(
  db: Database,
  user: { loginName: string; displayName?: string; emails?: readonly string[] },
): Promise<number> {
  const rows = await db.query<{ id: string }>(
    `insert into users (source, login_name, display_name, emails) values ('local', $1, $2, $3::text[]) returning id`,
    [user.loginName, user.displayName ?? user.loginName, [...(user.emails ?? [])]],
  );
  return Number(rows[0]?.id);
}

/** Effective roles of a directory user (through nested groups and config.groupRoles). */
export async function findUserRoles(db: Database, profileId: string, externalId: string): Promise<string[]> {
  const rows = await db.query<{ role: string }>(
    'select role from user_effective_roles where profile_id = $1 and external_id = $2 order by role',
    [profileId, externalId],
  );
  return rows.map((r) => r.role);
}

/** Effective (transitive) groups of a directory member. */
export async function findEffectiveGroups(db: Database, profileId: string, memberId: string): Promise<string[]> {
  const rows = await db.query<{ group_id: string }>(
    'select group_id from effective_memberships where profile_id = $1 and member_id = $2 order by group_id',
    [profileId, memberId],
  );
  return rows.map((r) => r.group_id);
}

/** A text[] value as the driver hands it: an array, or the `{a,"b c"}` text form. */
export function parsePgArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.replace(/^\{|\}$/g, '');
  if (inner === '') return [];
  return [...inner.matchAll(/"((?:[^"\\]|\\.)*)"|([^,]+)/g)].map((m) => (m[1] ?? m[2] ?? '').replace(/\\(.)/g, '$1'));
}

/**
 * An array literal (`{"a",NULL,3,t}`) for a parameter cast to an array type (`$1::text[]`,
 * `$1::uuid[]`, `$1::jsonb[]`, …). A bound JS array gives the same value, but the driver escapes
 * every element with two regular expressions: on the applier's per-column arrays that was ~8 % of
 * its CPU. Here an element is escaped only when it holds a quote or a backslash.
 */
export function toPgArray(values: readonly (string | number | boolean | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    else if (typeof v === 'boolean') out += v ? 't' : 'f';
    else if (v.includes('"') || v.includes('\\')) out += `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    else out += `"${v}"`;
  }
  return `${out}}`;
}
