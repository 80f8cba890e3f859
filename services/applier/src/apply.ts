import type { GroupEvent, MembershipEvent, RunDetailEvent, SyncRunEvent, UserEvent } from '@dirstream/events';
import { userKey } from '@dirstream/events';
import type { Sql } from './database.ts';
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
 * what to write, and writes it with set-based statements. Every statement takes its rows as one
 * JSON parameter (`jsonb_to_recordset`), so a batch is a handful of round trips whatever its size.
 */

export type ApplyInput = {
  readonly users: readonly UserEvent[];
  readonly groups: readonly GroupEvent[];
  readonly memberships: readonly MembershipEvent[];
  readonly syncRuns: readonly SyncRunEvent[];
  /** Pages of `<prefix>.run-details`: every entry error and halt report of a run. */
  readonly runDetails?: readonly RunDetailEvent[];
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
    usersWritten = await upsertUsers(
      sql,
      plan.upserts.map((u) => u.event),
    );
    outboxRows = await insertOutbox(sql, plan.outbox);
    announced = plan.outbox.filter((o) => !o.published).length;
    logRows += await insertLog(sql, plan.log);
  }

  if (input.groups.length > 0) {
    const current = await readGroupVersions(sql, input.groups);
    const plan = planGroups(input.groups, current);
    groupsWritten = await upsertGroups(sql, plan.upserts);
    logRows += await insertLog(sql, plan.log);
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
  const identities = JSON.stringify(events.map((e) => ({ profile_id: e.profileId, external_id: e.externalId })));
  // Locks the stored rows of this batch: a concurrent apply of the same user (a rebalance overlap)
  // waits and then sees the committed version, so a transition is announced once.
  const rows = await sql.query<UserDbRow>(
    `select u.id, u.profile_id, u.external_id, u.version, u.enabled, u.login_name, u.sid
     from users u
     where (u.profile_id, u.external_id) in (
       select k.profile_id, k.external_id from jsonb_to_recordset($1::jsonb) as k(profile_id uuid, external_id text))
     order by u.id
     for update`,
    [identities],
  );
  const current = new Map<string, CurrentUser>();
  for (const row of rows) {
    if (row.profile_id !== null && row.external_id !== null) {
      current.set(userKey(row.profile_id, row.external_id), toCurrentUser(row));
    }
  }

  const fresh = events.filter((e) => !current.has(userKey(e.profileId, e.externalId)));
  const localByLogin = new Map<string, CurrentUser>();
  let sameIdentity: OtherIdentity[] = [];
  let sameLogin: LoginHolder[] = [];
  if (fresh.length > 0) {
    const locals = await sql.query<UserDbRow>(
      `select id, profile_id, external_id, version, enabled, login_name, sid from users
       where profile_id is null
         and lower(login_name) in (select lower(x) from jsonb_array_elements_text($1::jsonb) as x)
       order by id
       for update`,
      [JSON.stringify(fresh.map((e) => e.state.loginName))],
    );
    for (const row of locals) {
      const key = row.login_name.toLowerCase();
      if (!localByLogin.has(key)) localByLogin.set(key, toCurrentUser(row));
    }
    const sids = fresh.map((e) => e.state.sid).filter((s): s is string => s !== null);
    const others = await sql.query<{ profile_id: string; external_id: string; sid: string | null }>(
      `select profile_id, external_id, sid from users
       where profile_id is not null
         and (external_id in (select jsonb_array_elements_text($1::jsonb))
              or sid in (select jsonb_array_elements_text($2::jsonb)))`,
      [JSON.stringify(fresh.map((e) => e.externalId)), JSON.stringify(sids)],
    );
    sameIdentity = others.map((o) => ({ profileId: o.profile_id, externalId: o.external_id, sid: o.sid }));
    const logins = JSON.stringify(fresh.map((e) => ({ profile_id: e.profileId, login: e.state.loginName })));
    // Two new users with one login may sit on different partitions, applied by concurrent
    // transactions that cannot see each other's rows: a transaction lock per (profile, login),
    // taken in one sorted order, makes the later one wait and then see the earlier one.
    await sql.query(
      `select pg_advisory_xact_lock(k) from (
         select distinct hashtextextended(k.profile_id || '/' || lower(k.login), 0) as k
         from jsonb_to_recordset($1::jsonb) as k(profile_id text, login text) order by 1) as locks`,
      [logins],
    );
    const namesakes = await sql.query<{ profile_id: string; external_id: string; sid: string | null; login_name: string }>(
      `select u.profile_id, u.external_id, u.sid, u.login_name from users u
       join jsonb_to_recordset($1::jsonb) as k(profile_id uuid, login text)
         on u.profile_id = k.profile_id and lower(u.login_name) = lower(k.login)`,
      [logins],
    );
    sameLogin = namesakes.map((o) => ({ profileId: o.profile_id, externalId: o.external_id, sid: o.sid, loginName: o.login_name }));
  }
  return { current, localByLogin, sameIdentity, sameLogin };
}

async function upsertUsers(sql: Sql, events: readonly UserEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const rows = events.map((e) => ({
    profile_id: e.profileId,
    external_id: e.externalId,
    login_name: e.state.loginName,
    user_principal_name: e.state.userPrincipalName,
    display_name: e.state.displayName,
    given_name: e.state.givenName,
    surname: e.state.surname,
    emails: e.state.emails,
    phone: e.state.phone,
    title: e.state.title,
    company: e.state.company,
    dn: e.state.dn,
    sid: e.state.sid,
    enabled: e.state.enabled,
    disabled_reason: e.state.disabledReason,
    version: e.version,
    last_event_id: e.eventId,
    attributes: e.state.attributes,
  }));
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into users as u (profile_id, external_id, source, login_name, user_principal_name, display_name,
         given_name, surname, emails, phone, title, company, dn, sid, enabled, disabled_reason, version,
         last_event_id, attributes, created_at, updated_at)
       select r.profile_id, r.external_id, 'directory', r.login_name, r.user_principal_name, r.display_name,
         r.given_name, r.surname, coalesce(r.emails, '{}'), r.phone, r.title, r.company, r.dn, r.sid, r.enabled,
         r.disabled_reason, r.version, r.last_event_id, coalesce(r.attributes, '{}'), now(), now()
       from jsonb_to_recordset($1::jsonb) as r(profile_id uuid, external_id text, login_name text,
         user_principal_name text, display_name text, given_name text, surname text, emails text[], phone text,
         title text, company text, dn text, sid text, enabled boolean, disabled_reason text, version bigint,
         last_event_id text, attributes jsonb)
       on conflict (profile_id, external_id) do update set
         login_name = excluded.login_name, user_principal_name = excluded.user_principal_name,
         display_name = excluded.display_name, given_name = excluded.given_name, surname = excluded.surname,
         emails = excluded.emails, phone = excluded.phone, title = excluded.title, company = excluded.company,
         dn = excluded.dn, sid = excluded.sid, enabled = excluded.enabled,
         disabled_reason = excluded.disabled_reason, version = excluded.version,
         last_event_id = excluded.last_event_id, attributes = excluded.attributes, updated_at = now()
       where u.version < excluded.version
       returning 1)
     select count(*) as n from written`,
    [JSON.stringify(rows)],
  );
  return Number(result[0]?.n ?? 0);
}

async function readGroupVersions(sql: Sql, events: readonly GroupEvent[]): Promise<Map<string, number>> {
  const rows = await sql.query<{ profile_id: string; external_id: string; version: string }>(
    `select g.profile_id, g.external_id, g.version from groups g
     where (g.profile_id, g.external_id) in (
       select k.profile_id, k.external_id from jsonb_to_recordset($1::jsonb) as k(profile_id uuid, external_id text))
     order by g.profile_id, g.external_id
     for update`,
    [JSON.stringify(events.map((e) => ({ profile_id: e.profileId, external_id: e.externalId })))],
  );
  return new Map(rows.map((r) => [userKey(r.profile_id, r.external_id), Number(r.version)]));
}

async function upsertGroups(sql: Sql, events: readonly GroupEvent[]): Promise<number> {
  if (events.length === 0) return 0;
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
  }));
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into groups as g (profile_id, external_id, name, description, dn, sid, present, version,
         last_event_id, attributes, created_at, updated_at)
       select r.profile_id, r.external_id, r.name, r.description, r.dn, r.sid, r.present, r.version,
         r.last_event_id, coalesce(r.attributes, '{}'), now(), now()
       from jsonb_to_recordset($1::jsonb) as r(profile_id uuid, external_id text, name text, description text,
         dn text, sid text, present boolean, version bigint, last_event_id text, attributes jsonb)
       on conflict (profile_id, external_id) do update set
         name = excluded.name, description = excluded.description, dn = excluded.dn, sid = excluded.sid,
         present = excluded.present, version = excluded.version, last_event_id = excluded.last_event_id,
         attributes = excluded.attributes, updated_at = now()
       where g.version < excluded.version
       returning 1)
     select count(*) as n from written`,
    [JSON.stringify(rows)],
  );
  return Number(result[0]?.n ?? 0);
}

/** Writes the batch's edges; returns those the version guard let through. */
async function upsertMemberships(sql: Sql, events: readonly MembershipEvent[]): Promise<MembershipUpsert[]> {
  const edges = planMemberships(events);
  if (edges.length === 0) return [];
  const rows = edges.map((m) => ({
    profile_id: m.profileId,
    group_id: m.groupId,
    member_id: m.memberId,
    member_type: m.memberType,
    present: m.present,
    version: m.version,
  }));
  const result = await sql.query<{ profile_id: string; group_id: string; member_id: string }>(
    `with written as (
       insert into memberships as m (profile_id, group_id, member_id, member_type, present, version, updated_at)
       select r.profile_id, r.group_id, r.member_id, r.member_type, r.present, r.version, now()
       from jsonb_to_recordset($1::jsonb) as r(profile_id uuid, group_id text, member_id text, member_type text,
         present boolean, version bigint)
       order by r.profile_id, r.group_id, r.member_id
       on conflict (profile_id, group_id, member_id) do update set
         member_type = excluded.member_type, present = excluded.present, version = excluded.version,
         updated_at = now()
       where m.version < excluded.version
       returning m.profile_id, m.group_id, m.member_id)
     select profile_id, group_id, member_id from written`,
    [JSON.stringify(rows)],
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
          errors.map((e) => ({ run_id: e.runId, profile_id: e.profileId, page: e.page, position: e.position, dn: e.dn, code: e.code, message: e.message })),
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

async function insertOutbox(sql: Sql, rows: readonly OutboxRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into outbox (event_id, type, profile_id, external_id, record_key, payload, created_at, published_at)
       select r.event_id, r.type, r.profile_id, r.external_id, r.record_key, r.payload, now(),
         case when r.published then now() end
       from jsonb_to_recordset($1::jsonb) as r(event_id text, type text, profile_id uuid, external_id text,
         record_key text, payload jsonb, published boolean)
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
        })),
      ),
    ],
  );
  return Number(result[0]?.n ?? 0);
}

async function insertLog(sql: Sql, rows: readonly LogRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql.query<{ n: string }>(
    `with written as (
       insert into sync_log (run_id, profile_id, entity, external_id, op, version, changed, error_code, error_message,
         related_id, detail)
       select r.run_id, r.profile_id, r.entity, r.external_id, r.op, r.version, r.changed, r.error_code, r.error_message,
         coalesce(r.related_id, ''), r.detail
       from jsonb_to_recordset($1::jsonb) as r(run_id text, profile_id uuid, entity text, external_id text, op text,
         version bigint, changed jsonb, error_code text, error_message text, related_id text, detail jsonb)
       on conflict on constraint sync_log_once do nothing
       returning 1)
     select count(*) as n from written`,
    [
      JSON.stringify(
        rows.map((l) => ({
          run_id: l.runId,
          profile_id: l.profileId,
          entity: l.entity,
          external_id: l.externalId,
          op: l.op,
          version: l.version,
          changed: l.changed,
          error_code: l.errorCode,
          error_message: l.errorMessage,
          related_id: l.relatedId ?? '',
          detail: l.detail ?? null,
        })),
      ),
    ],
  );
  return Number(result[0]?.n ?? 0);
}
