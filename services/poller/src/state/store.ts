import type { GroupState, MemberType, UserState } from '@dirstream/events';
import type { EdgeChange, GroupChange, StoredEdge, StoredGroup, StoredUser, UserChange } from '../core/types.ts';
import { normaliseDn } from '../directory/dn.ts';
import { type Database, quoteIdent, type Session, type Sql } from '@dirstream/db';

/**
 * The poller's last-emitted state of one profile: per entity hash/version/DN/login/enabled, per
 * direct edge the version, and the profile's cursor. Reads are by key sets (one page at a time);
 * nothing loads a whole profile into memory.
 */
export type ProfileState = {
  readonly cursorKind: string | null;
  readonly cursor: string | null;
  readonly lastFullAtMs: number | null;
  readonly lastRunId: string | null;
  readonly lastStatus: string | null;
};

export type Checkpoint = {
  readonly users?: readonly UserChange[];
  readonly groups?: readonly GroupChange[];
  readonly edges?: readonly EdgeChange[];
  /** Member-list hashes of groups whose edges this checkpoint completes. */
  readonly membersHashes?: readonly { readonly groupId: string; readonly hash: string | null }[];
  readonly profile?: {
    readonly cursorKind: string | null;
    readonly cursor: string | null;
    readonly lastFullAtMs: number | null;
    readonly runId: string;
    readonly status: string;
  };
};

export type ResolvedMember = { readonly memberId: string; readonly memberType: MemberType };

export type StateStore = ReturnType<typeof createStateStore>;

type EntityRow = { external_id: string; hash: string; version: string; present: boolean; state: unknown; members_hash?: string | null };

function parseState<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function toStoredUser(row: EntityRow): StoredUser {
  return {
    externalId: row.external_id,
    hash: row.hash,
    version: Number(row.version),
    present: row.present,
    state: parseState<UserState>(row.state),
  };
}

export function toStoredGroup(row: EntityRow): StoredGroup {
  return {
    externalId: row.external_id,
    hash: row.hash,
    version: Number(row.version),
    present: row.present,
    state: parseState<GroupState>(row.state),
    membersHash: row.members_hash ?? null,
  };
}

/** Rows written before the first ANALYZE of the state tables in a run. */
const ANALYZE_EVERY_ROWS = 20_000;
/**
 * Rows a run must have written for its closing ANALYZE: a delta of a few changes leaves the
 * statistics as they were (an ANALYZE reads more pages of a larger table: a delta's cost would
 * grow with the directory).
 */
const ANALYZE_AT_END_ROWS = 1_000;

/** `runId`: the run writing through this store; a rename it stores is tolerated during that run only. */
export function createStateStore(db: Database, profileId: string, runId: string | null = null) {
  const s = quoteIdent(db.schema);
  // A first full pass fills the tables faster than autovacuum analyses them; with stale
  // statistics the planner scans the whole profile for every page (quadratic). Analyse as we go,
  // each time the run has written as much again as before (statistics off by at most half keep
  // the index plans; a few ANALYZEs a pass instead of one per 20,000 rows of a growing table).
  let writtenSinceAnalyze = 0;
  let writtenBeforeAnalyze = 0;
  async function analyze(): Promise<void> {
    writtenBeforeAnalyze += writtenSinceAnalyze;
    writtenSinceAnalyze = 0;
    await db.query(`analyze ${s}.entity`);
    await db.query(`analyze ${s}.edge`);
  }

  async function loadEntities(kind: 'user' | 'group', ids: readonly string[]): Promise<EntityRow[]> {
    if (ids.length === 0) return [];
    return db.query<EntityRow>(
      `select external_id, hash, version, present, state, members_hash from ${s}.entity
        where profile_id = $1 and kind = $2 and external_id = any($3::text[])`,
      [profileId, kind, ids],
    );
  }

  async function writeCheckpoint(tx: Sql, checkpoint: Checkpoint): Promise<void> {
    const entities = [
      ...(checkpoint.users ?? []).map((c) => ({
        kind: 'user',
        external_id: c.externalId,
        dn: c.state.dn,
        dn_norm: normaliseDn(c.state.dn),
        previous_dn_norm: c.rename ? normaliseDn(c.rename.previousDn) : null,
        previous_dn_run: c.rename ? runId : null,
        login_norm: c.state.loginName.toLowerCase(),
        hash: c.hash,
        version: c.version,
        enabled: c.state.enabled,
        present: c.present,
        state: c.state,
      })),
      ...(checkpoint.groups ?? []).map((c) => ({
        kind: 'group',
        external_id: c.externalId,
        dn: c.state.dn,
        dn_norm: normaliseDn(c.state.dn),
        previous_dn_norm: c.rename ? normaliseDn(c.rename.previousDn) : null,
        previous_dn_run: c.rename ? runId : null,
        login_norm: null,
        hash: c.hash,
        version: c.version,
        enabled: c.state.present,
        present: c.state.present,
        state: c.state,
      })),
    ];
    if (entities.length > 0) {
      await tx.query(
        `insert into ${s}.entity (profile_id, kind, external_id, dn, dn_norm, previous_dn_norm, previous_dn_run, login_norm, hash, version, enabled, present, state)
         select $1, r.kind, r.external_id, r.dn, r.dn_norm, r.previous_dn_norm, r.previous_dn_run, r.login_norm, r.hash, r.version, r.enabled, r.present, r.state
           from jsonb_to_recordset($2::jsonb) as r(kind text, external_id text, dn text, dn_norm text, previous_dn_norm text,
                previous_dn_run text, login_norm text, hash text, version bigint, enabled boolean, present boolean, state jsonb)
         on conflict (profile_id, kind, external_id) do update set
           dn = excluded.dn, dn_norm = excluded.dn_norm,
           previous_dn_run = case when excluded.previous_dn_norm is null then ${s}.entity.previous_dn_run else excluded.previous_dn_run end,
           previous_dn_norm = coalesce(excluded.previous_dn_norm, ${s}.entity.previous_dn_norm),
           login_norm = excluded.login_norm, hash = excluded.hash,
           version = excluded.version, enabled = excluded.enabled, present = excluded.present, state = excluded.state`,
        [profileId, JSON.stringify(entities)],
      );
    }
    const edges = checkpoint.edges ?? [];
    const added = edges.filter((e) => e.op === 'added');
    const removed = edges.filter((e) => e.op === 'removed');
    if (added.length > 0) {
      await tx.query(
        `insert into ${s}.edge (profile_id, group_id, member_id, member_type, version)
         select $1, r.group_id, r.member_id, r.member_type, r.version
           from jsonb_to_recordset($2::jsonb) as r(group_id text, member_id text, member_type text, version bigint)
         on conflict (profile_id, group_id, member_id) do update set member_type = excluded.member_type, version = excluded.version`,
        [
          profileId,
          JSON.stringify(added.map((e) => ({ group_id: e.groupId, member_id: e.memberId, member_type: e.memberType, version: e.version }))),
        ],
      );
    }
    if (removed.length > 0) {
      await tx.query(
        `delete from ${s}.edge e using jsonb_to_recordset($2::jsonb) as r(group_id text, member_id text)
          where e.profile_id = $1 and e.group_id = r.group_id and e.member_id = r.member_id`,
        [profileId, JSON.stringify(removed.map((e) => ({ group_id: e.groupId, member_id: e.memberId })))],
      );
    }
    const hashes = checkpoint.membersHashes ?? [];
    if (hashes.length > 0) {
      await tx.query(
        `update ${s}.entity e set members_hash = r.hash
           from jsonb_to_recordset($2::jsonb) as r(group_id text, hash text)
          where e.profile_id = $1 and e.kind = 'group' and e.external_id = r.group_id`,
        [profileId, JSON.stringify(hashes.map((h) => ({ group_id: h.groupId, hash: h.hash })))],
      );
    }
    const p = checkpoint.profile;
    if (p) {
      await tx.query(
        `insert into ${s}.profile_state (profile_id, cursor_kind, cursor, last_full_at, last_run_id, last_status, updated_at)
         values ($1, $2, $3, $4, $5, $6, now())
         on conflict (profile_id) do update set cursor_kind = excluded.cursor_kind, cursor = excluded.cursor,
           last_full_at = coalesce(excluded.last_full_at, ${s}.profile_state.last_full_at),
           last_run_id = excluded.last_run_id, last_status = excluded.last_status, updated_at = now()`,
        [profileId, p.cursorKind, p.cursor, p.lastFullAtMs, p.runId, p.status],
      );
    }
  }

  return {
    async loadUsers(ids: readonly string[]): Promise<Map<string, StoredUser>> {
      const rows = await loadEntities('user', ids);
      return new Map(rows.map((r) => [r.external_id, toStoredUser(r)]));
    },
    /** Hash, presence and disabled reason only: enough to skip unchanged users without their state. */
    async loadUserHeads(ids: readonly string[]): Promise<Map<string, { hash: string; present: boolean; disabledReason: string | null }>> {
      if (ids.length === 0) return new Map();
      const rows = await db.query<{ external_id: string; hash: string; present: boolean; reason: string | null }>(
        `select external_id, hash, present, state->>'disabledReason' as reason from ${s}.entity
          where profile_id = $1 and kind = 'user' and external_id = any($2::text[])`,
        [profileId, ids],
      );
      return new Map(rows.map((r) => [r.external_id, { hash: r.hash, present: r.present, disabledReason: r.reason }]));
    },
    async loadGroups(ids: readonly string[]): Promise<Map<string, StoredGroup>> {
      const rows = await loadEntities('group', ids);
      return new Map(rows.map((r) => [r.external_id, toStoredGroup(r)]));
    },
    /** Member DNs / login names → present entities of this profile (through the state, not the directory). */
    async resolveMembers(
      dns: readonly string[],
      loginNames: readonly string[],
    ): Promise<{ byDn: Map<string, ResolvedMember>; byLogin: Map<string, ResolvedMember>; formerDns: Set<string> }> {
      const byDn = new Map<string, ResolvedMember>();
      const formerDns = new Set<string>();
      const byLogin = new Map<string, ResolvedMember>();
      if (dns.length > 0) {
        const uniqueDns = [...new Set(dns)];
        // Two present entities may hold one DN during a pass: one deleted (known to be gone only when
        // the pass's removals run) and one that took its DN in this pass. The later version is the
        // current holder (oracle seed 599961736, 150 operations): read in version order, the last wins.
        const rows = await db.query<{ dn_norm: string; external_id: string; kind: MemberType }>(
          `select dn_norm, external_id, kind from ${s}.entity where profile_id = $1 and present and dn_norm = any($2::text[])
            order by version`,
          [profileId, uniqueDns],
        );
        for (const r of rows) byDn.set(r.dn_norm, { memberId: r.external_id, memberType: r.kind });
        // A DN no entity holds now may be the former DN of an entity renamed in this run that
        // refint has not rewritten in the group yet: during this run it still names that entity
        // (the current holder wins). After this run it names nothing (DESIGN invariant 9).
        const stale = uniqueDns.filter((dn) => !byDn.has(dn));
        if (stale.length > 0 && runId !== null) {
          const former = await db.query<{ previous_dn_norm: string; external_id: string; kind: MemberType }>(
            `select previous_dn_norm, external_id, kind from ${s}.entity
              where profile_id = $1 and present and previous_dn_norm = any($2::text[]) and previous_dn_run = $3 order by version desc`,
            [profileId, stale, runId],
          );
          for (const r of former) {
            if (!byDn.has(r.previous_dn_norm)) {
              byDn.set(r.previous_dn_norm, { memberId: r.external_id, memberType: r.kind });
              formerDns.add(r.previous_dn_norm);
            }
          }
        }
      }
      if (loginNames.length > 0) {
        const rows = await db.query<{ login_norm: string; external_id: string }>(
          `select login_norm, external_id from ${s}.entity
            where profile_id = $1 and kind = 'user' and present and login_norm = any($2::text[]) order by version`,
          [profileId, [...new Set(loginNames)]],
        );
        for (const r of rows) byLogin.set(r.login_norm, { memberId: r.external_id, memberType: 'user' });
      }
      return { byDn, byLogin, formerDns };
    },
    /** Whether any entity keeps a former DN from a rename before this run (the set only shrinks during the run). */
    async hasEarlierFormerDns(): Promise<boolean> {
      const rows = await db.query<{ found: boolean }>(
        `select exists (select 1 from ${s}.entity
          where profile_id = $1 and present and previous_dn_norm is not null and previous_dn_run is distinct from $2) as found`,
        [profileId, runId],
      );
      return rows[0]?.found === true;
    },
    /** Which of these normalised DNs are former DNs of entities renamed before this run. */
    async earlierFormerDns(dns: readonly string[]): Promise<Set<string>> {
      if (dns.length === 0) return new Set();
      const rows = await db.query<{ dn: string }>(
        `select distinct previous_dn_norm as dn from ${s}.entity
          where profile_id = $1 and present and previous_dn_norm = any($2::text[]) and previous_dn_run is distinct from $3`,
        [profileId, [...new Set(dns)], runId],
      );
      return new Set(rows.map((r) => r.dn));
    },
    /**
     * Groups holding an edge to an entity renamed in an earlier pass or in this one, a page at a
     * time: a delta re-reads them, whatever form the member value takes (a `uniqueMember` value
     * with a UID does not match an equality filter on the bare DN). This pass's renames count too:
     * a member renamed again now has lost the record of its earlier rename, and the group may
     * still name the DN before that one (oracle seed 203191225).
     */
    async groupsNamingEarlierRenamed(afterId: string, limit: number): Promise<string[]> {
      const rows = await db.query<{ group_id: string }>(
        `select distinct e.group_id from ${s}.edge e
           join ${s}.entity m on m.profile_id = e.profile_id and m.external_id = e.member_id and m.kind = e.member_type
          where e.profile_id = $1 and m.present and m.previous_dn_norm is not null
            and e.group_id > $2
          order by e.group_id limit $3`,
        [profileId, afterId, limit],
      );
      return rows.map((r) => r.group_id);
    },
    /** After a succeeded pass: renames seen by earlier runs are no longer tolerated anywhere. */
    async forgetEarlierFormerDns(): Promise<void> {
      await db.query(
        `update ${s}.entity set previous_dn_norm = null, previous_dn_run = null
          where profile_id = $1 and previous_dn_norm is not null and previous_dn_run is distinct from $2`,
        [profileId, runId],
      );
    },
    async loadEdges(groupIds: readonly string[]): Promise<Map<string, Map<string, StoredEdge>>> {
      const out = new Map<string, Map<string, StoredEdge>>();
      if (groupIds.length === 0) return out;
      const rows = await db.query<{ group_id: string; member_id: string; member_type: MemberType; version: string }>(
        `select group_id, member_id, member_type, version from ${s}.edge where profile_id = $1 and group_id = any($2::text[])`,
        [profileId, groupIds],
      );
      for (const r of rows) {
        let edges = out.get(r.group_id);
        if (!edges) {
          edges = new Map();
          out.set(r.group_id, edges);
        }
        edges.set(r.member_id, { groupId: r.group_id, memberId: r.member_id, memberType: r.member_type, version: Number(r.version) });
      }
      return out;
    },
    /** Edges where any of the IDs is the group or the member. */
    async edgesTouching(ids: readonly string[]): Promise<StoredEdge[]> {
      if (ids.length === 0) return [];
      const rows = await db.query<{ group_id: string; member_id: string; member_type: MemberType; version: string }>(
        `select group_id, member_id, member_type, version from ${s}.edge
          where profile_id = $1 and (group_id = any($2::text[]) or member_id = any($2::text[]))`,
        [profileId, ids],
      );
      return rows.map((r) => ({ groupId: r.group_id, memberId: r.member_id, memberType: r.member_type, version: Number(r.version) }));
    },
    /** Users (present, enabled or disabled) with no direct edge to a present group. */
    async usersWithoutGroup(afterId: string, limit: number): Promise<StoredUser[]> {
      const rows = await db.query<EntityRow>(
        `select u.external_id, u.hash, u.version, u.present, u.state from ${s}.entity u
          where u.profile_id = $1 and u.kind = 'user' and u.present and u.external_id > $2
            and not exists (select 1 from ${s}.edge e join ${s}.entity g
                              on g.profile_id = e.profile_id and g.kind = 'group' and g.external_id = e.group_id and g.present
                             where e.profile_id = u.profile_id and e.member_id = u.external_id)
          order by u.external_id limit $3`,
        [profileId, afterId, limit],
      );
      return rows.map(toStoredUser);
    },
    /** Users disabled by "synchronize only groups" that are in a synced group again. */
    async usersBackInGroup(afterId: string, limit: number): Promise<StoredUser[]> {
      const rows = await db.query<EntityRow>(
        `select u.external_id, u.hash, u.version, u.present, u.state from ${s}.entity u
          where u.profile_id = $1 and u.kind = 'user' and u.present and u.external_id > $2
            and u.state->>'disabledReason' = 'not-in-synced-group'
            and exists (select 1 from ${s}.edge e where e.profile_id = u.profile_id and e.member_id = u.external_id)
          order by u.external_id limit $3`,
        [profileId, afterId, limit],
      );
      return rows.map(toStoredUser);
    },
    async profileState(): Promise<ProfileState | null> {
      const rows = await db.query<{
        cursor_kind: string | null;
        cursor: string | null;
        last_full_at: string | null;
        last_run_id: string | null;
        last_status: string | null;
      }>(`select cursor_kind, cursor, last_full_at, last_run_id, last_status from ${s}.profile_state where profile_id = $1`, [profileId]);
      const r = rows[0];
      if (!r) return null;
      return {
        cursorKind: r.cursor_kind,
        cursor: r.cursor,
        lastFullAtMs: r.last_full_at === null ? null : Number(r.last_full_at),
        lastRunId: r.last_run_id,
        lastStatus: r.last_status,
      };
    },
    async userCounts(): Promise<{ present: number; enabled: number }> {
      const rows = await db.query<{ present: string; enabled: string }>(
        `select count(*) filter (where present) as present, count(*) filter (where present and enabled) as enabled
           from ${s}.entity where profile_id = $1 and kind = 'user'`,
        [profileId],
      );
      return { present: Number(rows[0]?.present ?? 0), enabled: Number(rows[0]?.enabled ?? 0) };
    },
    /**
     * Stores what Kafka acknowledged, in one transaction. Only the cursor's checkpoint waits for
     * the WAL flush: a lost entity or edge checkpoint only means its events are produced again,
     * which the applier's version guard makes harmless, and the cursor's synchronous commit
     * flushes every earlier commit with it (DESIGN invariant 3: durable before the cursor moves).
     */
    async checkpoint(checkpoint: Checkpoint): Promise<void> {
      await db.transaction(async (tx) => {
        if (!checkpoint.profile) await tx.query('set local synchronous_commit = off');
        await writeCheckpoint(tx, checkpoint);
      });
      writtenSinceAnalyze += (checkpoint.users?.length ?? 0) + (checkpoint.groups?.length ?? 0) + (checkpoint.edges?.length ?? 0);
      if (writtenSinceAnalyze >= Math.max(ANALYZE_EVERY_ROWS, writtenBeforeAnalyze)) await analyze();
    },
    /** Refreshes planner statistics when the run wrote enough rows since the last analysis to change them. */
    async analyzeIfWritten(): Promise<void> {
      if (writtenSinceAnalyze >= ANALYZE_AT_END_ROWS) await analyze();
    },
  };
}

/**
 * Per-run scratch space on a dedicated session: the IDs a full pass saw (so absence is computed
 * in the database, not in memory) and the disabling changes held back until the safety decision.
 * Temporary tables: never visible to other sessions, gone when the run ends.
 */
export function createRunScratch(session: Session, db: Database, profileId: string) {
  const s = quoteIdent(db.schema);
  return {
    async open(): Promise<void> {
      await session.query('drop table if exists pg_temp.poller_seen');
      await session.query('drop table if exists pg_temp.poller_pending');
      await session.query(
        'create temporary table poller_seen (kind text not null, external_id text not null, primary key (kind, external_id))',
      );
      await session.query('create temporary table poller_pending (external_id text primary key, change jsonb not null)');
    },
    async markSeen(kind: 'user' | 'group', ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await session.query('insert into pg_temp.poller_seen select $1, unnest($2::text[]) on conflict do nothing', [kind, ids]);
    },
    async holdBack(changes: readonly UserChange[]): Promise<void> {
      if (changes.length === 0) return;
      await session.query(
        `insert into pg_temp.poller_pending select r.external_id, r.change
           from jsonb_to_recordset($1::jsonb) as r(external_id text, change jsonb)
         on conflict (external_id) do update set change = excluded.change`,
        [JSON.stringify(changes.map((c) => ({ external_id: c.externalId, change: c })))],
      );
    },
    /** Held-back changes that turn an enabled user into a disabled one. */
    async heldBackDisables(): Promise<number> {
      const rows = await session.query<{ n: string }>(
        "select count(*) as n from pg_temp.poller_pending where (change->>'disables')::boolean",
      );
      return Number(rows[0]?.n ?? 0);
    },
    async heldBack(afterId: string, limit: number): Promise<UserChange[]> {
      const rows = await session.query<{ change: unknown }>(
        'select change from pg_temp.poller_pending where external_id > $1 order by external_id limit $2',
        [afterId, limit],
      );
      return rows.map((r) => parseState<UserChange>(r.change));
    },
    /** Present entities of the profile that the enumeration did not see. */
    async unseenCount(kind: 'user' | 'group'): Promise<number> {
      const rows = await session.query<{ n: string }>(
        `select count(*) as n from ${s}.entity e where e.profile_id = $1 and e.kind = $2 and e.present
           and not exists (select 1 from pg_temp.poller_seen v where v.kind = e.kind and v.external_id = e.external_id)`,
        [profileId, kind],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async unseen(kind: 'user' | 'group', afterId: string, limit: number): Promise<EntityRow[]> {
      return session.query<EntityRow>(
        `select e.external_id, e.hash, e.version, e.present, e.state from ${s}.entity e
          where e.profile_id = $1 and e.kind = $2 and e.present and e.external_id > $3
            and not exists (select 1 from pg_temp.poller_seen v where v.kind = e.kind and v.external_id = e.external_id)
          order by e.external_id limit $4`,
        [profileId, kind, afterId, limit],
      );
    },
    async close(): Promise<void> {
      await session.query('drop table if exists pg_temp.poller_seen').catch(() => undefined);
      await session.query('drop table if exists pg_temp.poller_pending').catch(() => undefined);
    },
  };
}

export type RunScratch = ReturnType<typeof createRunScratch>;
