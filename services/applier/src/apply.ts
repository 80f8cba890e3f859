import type { GroupEvent, MembershipEvent, RunDetailEvent, SyncRunEvent, UserEvent } from '@dirstream/events';
import { userKey } from '@dirstream/events';
import { type Sql, toPgArray } from './database.ts';
import {
  type CurrentUser,
  type LoginHolder,
  type LogRow,
  type OtherIdentity,
  type OutboxRow,
  logMembershipChanges,
  type MembershipUpsert,
  type PlanContext,
  planGroups,
  planMemberships,
  planRunDetails,
  planSyncRuns,
  planUsers,
} from './plan.ts';

/**
 * The SQL adapter of the apply plan: reads the rows a batch touches (locked), asks the pure plan
 * what to write, and writes it with set-based statements, so a batch is a handful of round trips
 * whatever its size. Every statement takes its rows as bound parameters: the hot ones (users,
 * memberships, the sync log, the lookups) one array per column (`unnest`), the others one JSON
 * document (`jsonb_to_recordset`).
 */

export type ApplyInput = {
  readonly users: readonly UserEvent[];
  readonly groups: readonly GroupEvent[];
  readonly memberships: readonly MembershipEvent[];
  readonly syncRuns: readonly SyncRunEvent[];
  /** Pages of `<prefix>.run-details`: every entry error and halt report of a run. */
  readonly runDetails?: readonly RunDetailEvent[];
  /**
   * Trace context headers (`traceparent`, `tracestate`) by record key, stored with the outbox rows
   * written for that key so the relay passes them on; absent when tracing is off.
   */
  readonly traceContexts?: ReadonlyMap<string, Readonly<Record<string, string>>>;
};

export type ApplyResult = {
  readonly usersWritten: number;
  readonly groupsWritten: number;
  readonly membershipsWritten: number;
  readonly syncRunsWritten: number;
  readonly outboxRows: number;
  readonly announced: number;
  readonly logRows: number;
};

export async function applyBatch(sql: Sql, input: ApplyInput, ctx: PlanContext): Promise<ApplyResult> {
  let logRows = 0;
  let outboxRows = 0;
  let announced = 0;
  let usersWritten = 0;
  let groupsWritten = 0;
  let membershipsWritten = 0;
  let syncRunsWritten = 0;

  if (input.users.length > 0) {
    const plan = planUsers(input.users, await readUserLookup(sql, input.users), ctx);
    if (plan.links.length > 0) {
      await sql.query(
        `update users set profile_id = r.profile_id, external_id = r.external_id, linked_at = now(), updated_at = now()
         from jsonb_to_recordset($1::jsonb) as r(local_id bigint, profile_id uuid, external_id text)
         where users.id = r.local_id and users.profile_id is null`,
        [JSON.stringify(plan.links.map((l) => ({ local_id: l.localId, profile_id: l.profileId, external_id: l.externalId })))],
      );
    }
    const written = await upsertUsers(
      sql,
      plan.upserts.map((u) => u.event),
    );
    usersWritten = written.size;
    outboxRows = await insertOutbox(sql, plan.outbox, input.traceContexts);
    announced = plan.outbox.filter((o) => !o.published).length;
    logRows += await insertLog(sql, loggedIfWritten(plan.log, written));
  }

  if (input.groups.length > 0) {
    const current = await readGroupVersions(sql, input.groups);
    const plan = planGroups(input.groups, current);
    const written = await upsertGroups(sql, plan.upserts);
    groupsWritten = written.size;
    logRows += await insertLog(sql, loggedIfWritten(plan.log, written));
  }

  if (input.memberships.length > 0) {
    const written = await upsertMemberships(sql, input.memberships);
    membershipsWritten = written.length;
    logRows += await insertLog(sql, logMembershipChanges(written));
  }

  if (input.syncRuns.length > 0) {
    syncRunsWritten = await upsertSyncRuns(sql, planSyncRuns(input.syncRuns));
  }

  if (input.runDetails !== undefined && input.runDetails.length > 0) {
    await insertRunDetails(sql, input.runDetails);
  }

  return { usersWritten, groupsWritten, membershipsWritten, syncRunsWritten, outboxRows, announced, logRows };
}

/** The identity key of a row as PostgreSQL returns it (a uuid comes back lower-cased). */
const writtenKey = (profileId: string, externalId: string) => userKey(profileId.toLowerCase(), externalId);

/**
 * A change is logged only when its upsert wrote the row: a redelivery that the version guard stops
 * (a rebalance overlap applying the same new entity twice) logs nothing, so the sync log needs no
 * once-only index for changes (migration 20261126160000). Error and policy rows are logged
 * whatever was written; their once-only index drops a repeat.
 */
function loggedIfWritten(rows: readonly LogRow[], written: ReadonlySet<string>): LogRow[] {
  return rows.filter((l) => l.errorCode !== null || (l.profileId !== null && written.has(writtenKey(l.profileId, l.externalId))));
}

type UserDbRow = {
  id: string | number;
  profile_id: string | null;
  external_id: string | null;
  version: string | number;
  enabled: boolean;
  login_name: string;
  sid: string | null;
};

function toCurrentUser(row: UserDbRow): CurrentUser {
  return {
    id: Number(row.id),
    profileId: row.profile_id,
    externalId: row.external_id,
    version: Number(row.version),
    enabled: row.enabled,
    loginName: row.login_name,
    sid: row.sid,
  };
}

async function readUserLookup(sql: Sql, events: readonly UserEvent[]) {
  // Locks the stored rows of this batch: a concurrent apply of the same user (a rebalance overlap)
  // waits and then sees the committed version, so a transition is announced once.
  const rows = await sql.query<UserDbRow>(
    `select u.id, u.profile_id, u.external_id, u.version, u.enabled, u.login_name, u.sid
     from users u
     where (u.profile_id, u.external_id) in (select * from unnest($1::uuid[], $2::text[]))
     order by u.id
     for update`,
    [toPgArray(events.map((e) => e.profileId)), toPgArray(events.map((e) => e.externalId))],
  );
  const current = new Map<string, CurrentUser>();
  for (const row of rows) {
    if (row.profile_id !== null && row.external_id !== null) {
      current.set(userKey(row.profile_id, row.external_id), toCurrentUser(row));
    }
  }

  const fresh = events.filter((e) => !current.has(userKey(e.profileId, e.externalId)));
  const localByLogin = new Map<string, CurrentUser>();
  const sameIdentity: OtherIdentity[] = [];
  const sameLogin: LoginHolder[] = [];
  if (fresh.length > 0) {
    const profiles = toPgArray(fresh.map((e) => e.profileId));
    const logins = toPgArray(fresh.map((e) => e.state.loginName));
    // Two new users with one login may sit on different partitions, applied by concurrent
    // transactions that cannot see each other's rows: a transaction lock per (profile, login),
    // taken in one sorted order, makes the later one wait and then see the earlier one.
    await sql.query(
      `select pg_advisory_xact_lock(k) from (
         select distinct hashtextextended(k.profile_id || '/' || lower(k.login), 0) as k
         from unnest($1::text[], $2::text[]) as k(profile_id, login) order by 1) as locks`,
      [profiles, logins],
    );
    // One statement for what a new identity is checked against (a batch of new users is the full
    // sync's common case): the local accounts with its login (locked, in id order, as they may be
    // linked), directory users of any profile with its external ID or SID, and those of its
    // profile with its login. `= any (array(select …))` rather than `in (subquery)` or a bound
    // array constant: the planner keeps the indexes (login, external ID, SID) whatever the
    // batch's size, where the others made it scan all of users (84 ms per batch at 60k users).
    const found = await sql.query<UserDbRow & { kind: 'local' | 'identity' | 'login' }>(
      `with locals as (
         select id, profile_id, external_id, version, enabled, login_name, sid from users
          where profile_id is null and lower(login_name) = any (array(select lower(x) from unnest($3::text[]) as x))
          order by id
          for update)
       select 'local' as kind, id, profile_id, external_id, version, enabled, login_name, sid from locals
       union all
       select 'identity', id, profile_id, external_id, version, enabled, login_name, sid from users
        where profile_id is not null
          and (external_id = any (array(select unnest($1::text[]))) or sid = any (array(select unnest($2::text[]))))
       union all
       select 'login', u.id, u.profile_id, u.external_id, u.version, u.enabled, u.login_name, u.sid from users u
        where lower(u.login_name) = any (array(select lower(x) from unnest($3::text[]) as x))
          and (u.profile_id, lower(u.login_name)) in (
            select k.profile_id, lower(k.login) from unnest($4::uuid[], $3::text[]) as k(profile_id, login))`,
      [
        toPgArray(fresh.map((e) => e.externalId)),
        toPgArray(fresh.map((e) => e.state.sid).filter((s): s is string => s !== null)),
        logins,
        profiles,
      ],
    );
    for (const row of found) {
      if (row.kind === 'local') {
        const key = row.login_name.toLowerCase();
        if (!localByLogin.has(key)) localByLogin.set(key, toCurrentUser(row));
      } else if (row.profile_id !== null && row.external_id !== null) {
        const other = { profileId: row.profile_id, externalId: row.external_id, sid: row.sid };
        if (row.kind === 'identity') sameIdentity.push(other);
        else sameLogin.push({ ...other, loginName: row.login_name });
      }
    }
  }
  return { current, localByLogin, sameIdentity, sameLogin };
}

/** Upserts under the version guard; returns the keys (writtenKey) of the rows it wrote. */
async function upsertUsers(sql: Sql, events: readonly UserEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  // One array per column (`unnest`): cheaper to build, send and take apart than a JSON document.
  const column = (f: (e: UserEvent) => string | number | boolean | null) => toPgArray(events.map(f));
  const result = await sql.query<{ profile_id: string; external_id: string }>(
    `insert into users as u (profile_id, external_id, source, login_name, user_principal_name, display_name,
         given_name, surname, emails, phone, title, company, dn, sid, enabled, disabled_reason, version,
         last_event_id, attributes, created_at, updated_at)
       select r.profile_id, r.external_id, 'directory', r.login_name, r.user_principal_name, r.display_name,
         r.given_name, r.surname, coalesce(r.emails::text[], '{}'), r.phone, r.title, r.company, r.dn, r.sid, r.enabled,
         r.disabled_reason, r.version, r.last_event_id, coalesce(r.attributes, '{}'), now(), now()
       from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::boolean[], $15::text[], $16::bigint[],
         $17::text[], $18::jsonb[])
         as r(profile_id, external_id, login_name, user_principal_name, display_name, given_name, surname, emails,
         phone, title, company, dn, sid, enabled, disabled_reason, version, last_event_id, attributes)
       on conflict (profile_id, external_id) do update set
         login_name = excluded.login_name, user_principal_name = excluded.user_principal_name,
         display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname,
         emails = excluded.emails, phone = excluded.phone, title = excluded.title, company = excluded.company,
         dn = excluded.dn, sid = excluded.sid, enabled = excluded.enabled,
         disabled_reason = excluded.disabled_reason, version = excluded.version,
         last_event_id = excluded.last_event_id, attributes = excluded.attributes, updated_at = now()
       where u.version < excluded.version
       returning u.profile_id, u.external_id`,
    [
      column((e) => e.profileId),
      column((e) => e.externalId),
      column((e) => e.state.loginName),
      column((e) => e.state.userPrincipalName),
      column((e) => e.state.displayName),
      column((e) => e.state.givenName),
      column((e) => e.state.surname),
      // Each element is one user's text[] literal (a ragged array cannot be a 2-D parameter).
      column((e) => (e.state.emails == null ? null : toPgArray(e.state.emails))),
      column((e) => e.state.phone),
      column((e) => e.state.title),
      column((e) => e.state.company),
      column((e) => e.state.dn),
      column((e) => e.state.sid),
      column((e) => e.state.enabled),
      column((e) => e.state.disabledReason),
      column((e) => e.version),
      column((e) => e.eventId),
      column((e) => (e.state.attributes == null ? null : JSON.stringify(e.state.attributes))),
    ],
  );
  return new Set(result.map((r) => writtenKey(r.profile_id, r.external_id)));
}

async function readGroupVersions(sql: Sql, events: readonly GroupEvent[]): Promise<Map<string, number>> {
  const rows = await sql.query<{ profile_id: string; external_id: string; version: string }>(
    `select g.profile_id, g.external_id, g.version from groups g
     where (g.profile_id, g.external_id) in (select * from unnest($1::uuid[], $2::text[]))
     order by g.profile_id, g.external_id
     for update`,
    [toPgArray(events.map((e) => e.profileId)), toPgArray(events.map((e) => e.externalId))],
  );
  return new Map(rows.map((r) => [userKey(r.profile_id, r.external_id), Number(r.version)]));
}

/** Upserts under the version guard; returns the keys (writtenKey) of the rows it wrote. */
async function upsertGroups(sql: Sql, events: readonly GroupEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const rows = events.map((e) => ({
    profile_id: e.profileId,
    external_id: e.externalId,
    name: e.state.name,
    description: e.state.description,
    dn: e.state.dn,
    sid: e.state.sid,
    present: e.state.present && e.op !== 'removed',
    version: e.version,
    last_event_id: e.eventId,
    attributes: e.state.attributes,
    // What the poller decided (group-event v2); a v1 event binds nothing.
    role_bindings: e.roleBindings ?? null,
  }));
  const result = await sql.query<{ profile_id: string; external_id: string }>(
    `with written as (
       insert into groups as g (profile_id, external_id, name, description, dn, sid, present, version,
         last_event_id, attributes, role_bindings, created_at, updated_at)
       select r.profile_id, r.external_id, r.name, r.description, r.dn, r.sid, r.present, r.version,
         r.last_event_id, coalesce(r.attributes, '{}'), r.role_bindings, now(), now()
       from jsonb_to_recordset($1::jsonb) as r(profile_id uuid, external_id text, name text, description text,
         dn text, sid text, present boolean, version bigint, last_event_id text, attributes jsonb, role_bindings text[])
       on conflict (profile_id, external_id) do update set
         name = excluded.name, description = excluded.description, dn = excluded.dn, sid = excluded.sid,
         present = excluded.present, version = excluded.version, last_event_id = excluded.last_event_id,
         attributes = excluded.attributes, role_bindings = excluded.role_bindings, updated_at = now()
       where g.version < excluded.version
       returning g.profile_id, g.external_id)
     select profile_id, external_id from written`,
    [JSON.stringify(rows)],
  );
  return new Set(result.map((r) => writtenKey(r.profile_id, r.external_id)));
}

/** Writes the batch's edges; returns those the version guard let through. */
async function upsertMemberships(sql: Sql, events: readonly MembershipEvent[]): Promise<MembershipUpsert[]> {
  const edges = planMemberships(events);
  if (edges.length === 0) return [];
  const result = await sql.query<{ profile_id: string; group_id: string; member_id: string }>(
    `with written as (
       insert into memberships as m (profile_id, group_id, member_id, member_type, present, version, updated_at)
       select r.profile_id, r.group_id, r.member_id, r.member_type, r.present, r.version, now()
       from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::bigint[])
         as r(profile_id, group_id, member_id, member_type, present, version)
       order by r.profile_id, r.group_id, r.member_id
       on conflict (profile_id, group_id, member_id) do update set
         member_type = excluded.member_type, present = excluded.present, version = excluded.version,
         updated_at = now()
       where m.version < excluded.version
       returning m.profile_id, m.group_id, m.member_id)
     select profile_id, group_id, member_id from written`,
    [
      toPgArray(edges.map((m) => m.profileId)),
      toPgArray(edges.map((m) => m.groupId)),
      toPgArray(edges.map((m) => m.memberId)),
      toPgArray(edges.map((m) => m.memberType)),
      toPgArray(edges.map((m) => m.present)),
      toPgArray(edges.map((m) => m.version)),
    ],
  );
  const changed = new Set(result.map((r) => `${r.profile_id}/${r.group_id}/${r.member_id}`));
  return edges.filter((e) => changed.has(`${e.profileId.toLowerCase()}/${e.groupId}/${e.memberId}`));
}

async function upsertSyncRuns(sql: Sql, events: readonly SyncRunEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const rows = events.map((e) => ({
    run_id: e.runId,
    profile_id: e.profileId,
    directory_type: e.directoryType,
    mode: e.mode,
    status: e.status,
    reason: e.reason,
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    counts: e.counts,
    errors: e.errors,
    cursor_before: e.cursorBefore,
    cursor_after: e.cursorAfter,
    event_id: e.eventId,
    phases_ms: e.phasesMs ?? null,
  }));
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into sync_runs as s (run_id, profile_id, directory_type, mode, status, reason, started_at,
         finished_at, counts, errors, cursor_before, cursor_after, event_id, phases_ms)
       select r.run_id, r.profile_id, r.directory_type, r.mode, r.status, r.reason,
         to_timestamp(r.started_at / 1000.0), to_timestamp(r.finished_at / 1000.0), r.counts, r.errors,
         r.cursor_before, r.cursor_after, r.event_id, r.phases_ms
       from jsonb_to_recordset($1::jsonb) as r(run_id text, profile_id uuid, directory_type text, mode text,
         status text, reason text, started_at bigint, finished_at bigint, counts jsonb, errors jsonb,
         cursor_before text, cursor_after text, event_id text, phases_ms jsonb)
       on conflict (run_id) do update set
         status = excluded.status, reason = excluded.reason, finished_at = excluded.finished_at,
         counts = excluded.counts, errors = excluded.errors, cursor_after = excluded.cursor_after,
         event_id = excluded.event_id, phases_ms = excluded.phases_ms
       where s.finished_at <= excluded.finished_at
       returning 1)
     select count(*) as n from written`,
    [JSON.stringify(rows)],
  );
  return Number(result[0]?.n ?? 0);
}

/** Idempotent: a page delivered again (a rebalance, a replay) finds its rows and writes nothing. */
async function insertRunDetails(sql: Sql, events: readonly RunDetailEvent[]): Promise<void> {
  const { errors, wouldDisable } = planRunDetails(events);
  if (errors.length > 0) {
    await sql.query(
      `insert into sync_run_errors (run_id, profile_id, page, position, dn, code, message)
       select r.run_id, r.profile_id, r.page, r.position, r.dn, r.code, r.message
       from jsonb_to_recordset($1::jsonb) as r(run_id text, profile_id uuid, page integer, position integer, dn text, code text,
         message text)
       on conflict (run_id, page, position) do nothing`,
      [
        JSON.stringify(
          errors.map((e) => ({
            run_id: e.runId,
            profile_id: e.profileId,
            page: e.page,
            position: e.position,
            dn: e.dn,
            code: e.code,
            message: e.message,
          })),
        ),
      ],
    );
  }
  if (wouldDisable.length > 0) {
    await sql.query(
      `insert into sync_run_would_disable (run_id, profile_id, page, position, external_id, login_name, dn, reason)
       select r.run_id, r.profile_id, r.page, r.position, r.external_id, r.login_name, r.dn, r.reason
       from jsonb_to_recordset($1::jsonb) as r(run_id text, profile_id uuid, page integer, position integer, external_id text,
         login_name text, dn text, reason text)
       on conflict (run_id, page, position) do nothing`,
      [
        JSON.stringify(
          wouldDisable.map((u) => ({
            run_id: u.runId,
            profile_id: u.profileId,
            page: u.page,
            position: u.position,
            external_id: u.externalId,
            login_name: u.loginName,
            dn: u.dn,
            reason: u.reason,
          })),
        ),
      ],
    );
  }
}

async function insertOutbox(sql: Sql, rows: readonly OutboxRow[], traceContexts: ApplyInput['traceContexts']): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into outbox (event_id, type, profile_id, external_id, record_key, payload, created_at, published_at, trace_context)
       select r.event_id, r.type, r.profile_id, r.external_id, r.record_key, r.payload, now(),
         case when r.published then now() end, r.trace_context
       from jsonb_to_recordset($1::jsonb) as r(event_id text, type text, profile_id uuid, external_id text,
         record_key text, payload jsonb, published boolean, trace_context jsonb)
       on conflict (event_id) do nothing
       returning 1)
     select count(*) as n from written`,
    [
      JSON.stringify(
        rows.map((o) => ({
          event_id: o.eventId,
          type: o.type,
          profile_id: o.profileId,
          external_id: o.externalId,
          record_key: o.recordKey,
          payload: o.payload,
          published: o.published,
          trace_context: traceContexts?.get(o.recordKey),
        })),
      ),
    ],
  );
  return Number(result[0]?.n ?? 0);
}

/**
 * Change rows go in with a plain insert: they come from rows the version guard let through, so a
 * repeat cannot reach here, and an `on conflict` clause would make every row a speculative insertion
 * (an extra WAL record each). Error and policy rows keep the once-only key (migration 20261126160000).
 */
async function insertLog(sql: Sql, rows: readonly LogRow[]): Promise<number> {
  const changes = rows.filter((l) => l.errorCode === null);
  const problems = rows.filter((l) => l.errorCode !== null);
  let written = 0;
  if (changes.length > 0) written += await insertLogRows(sql, changes, '');
  if (problems.length > 0) {
    written += await insertLogRows(
      sql,
      problems,
      'on conflict (entity, profile_id, external_id, version, op, related_id) where error_code is not null do nothing',
    );
  }
  return written;
}

async function insertLogRows(sql: Sql, rows: readonly LogRow[], onConflict: string): Promise<number> {
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into sync_log (run_id, profile_id, entity, external_id, op, version, changed, error_code, error_message,
         related_id, detail)
       select r.run_id, r.profile_id, r.entity, r.external_id, r.op, r.version, r.changed, r.error_code, r.error_message,
         coalesce(r.related_id, ''), r.detail
       from unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[], $8::text[],
         $9::text[], $10::text[], $11::jsonb[])
         as r(run_id, profile_id, entity, external_id, op, version, changed, error_code, error_message, related_id, detail)
       ${onConflict}
       returning 1)
     select count(*) as n from written`,
    [
      toPgArray(rows.map((l) => l.runId)),
      toPgArray(rows.map((l) => l.profileId)),
      toPgArray(rows.map((l) => l.entity)),
      toPgArray(rows.map((l) => l.externalId)),
      toPgArray(rows.map((l) => l.op)),
      toPgArray(rows.map((l) => l.version)),
      toPgArray(rows.map((l) => (l.changed == null ? null : JSON.stringify(l.changed)))),
      toPgArray(rows.map((l) => l.errorCode)),
      toPgArray(rows.map((l) => l.errorMessage)),
      toPgArray(rows.map((l) => l.relatedId ?? '')),
      toPgArray(rows.map((l) => (l.detail == null ? null : JSON.stringify(l.detail)))),
    ],
  );
  return Number(result[0]?.n ?? 0);
}
