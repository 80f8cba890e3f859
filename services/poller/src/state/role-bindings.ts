import { type Database, quoteIdent } from '@dirstream/db';

/**
 * The role bindings of one profile in the poller's state (migration 0005): at most one group per
 * configured name, so as many rows as the profile configures names (a handful), never a
 * directory's worth. Written only after Kafka acknowledged the group events that announce them.
 */
export function createRoleBindingStore(db: Database, profileId: string) {
  const s = quoteIdent(db.schema);
  return {
    /** The configured names as the bindings key them (PostgreSQL `lower`, as the carriers are matched). */
    async keysOf(names: readonly string[]): Promise<string[]> {
      if (names.length === 0) return [];
      const rows = await db.query<{ name: string }>('select distinct lower(n) as name from unnest($1::text[]) as n order by 1', [names]);
      return rows.map((r) => r.name);
    },
    /** name → bound group ID. */
    async load(): Promise<Map<string, string>> {
      const rows = await db.query<{ name: string; group_id: string }>(
        `select name, group_id from ${s}.role_binding where profile_id = $1 order by name`,
        [profileId],
      );
      return new Map(rows.map((r) => [r.name, r.group_id]));
    },
    /** Which of these groups are present in the state. */
    async presentGroups(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db.query<{ external_id: string }>(
        `select external_id from ${s}.entity where profile_id = $1 and kind = 'group' and present and external_id = any($2::text[])`,
        [profileId, [...new Set(ids)]],
      );
      return new Set(rows.map((r) => r.external_id));
    },
    /** name → the present groups whose name is that name (case-insensitive). */
    async carriers(names: readonly string[]): Promise<Map<string, string[]>> {
      const out = new Map<string, string[]>();
      if (names.length === 0) return out;
      const rows = await db.query<{ name: string; external_id: string }>(
        `select lower(state->>'name') as name, external_id from ${s}.entity
          where profile_id = $1 and kind = 'group' and present and lower(state->>'name') = any($2::text[])
          order by 1, 2`,
        [profileId, names],
      );
      for (const r of rows) out.set(r.name, [...(out.get(r.name) ?? []), r.external_id]);
      return out;
    },
    /** Replaces the profile's bindings (after the events announcing them were acknowledged). */
    async save(bound: ReadonlyMap<string, string>, runId: string): Promise<void> {
      const names = [...bound.keys()];
      await db.transaction(async (tx) => {
        await tx.query(`delete from ${s}.role_binding where profile_id = $1 and not (name = any($2::text[]))`, [profileId, names]);
        await tx.query(
          `insert into ${s}.role_binding (profile_id, name, group_id, bound_run)
           select $1, r.name, r.group_id, $4 from unnest($2::text[], $3::text[]) as r(name, group_id)
           on conflict (profile_id, name) do update set group_id = excluded.group_id,
             bound_run = case when ${s}.role_binding.group_id = excluded.group_id then ${s}.role_binding.bound_run else excluded.bound_run end`,
          [profileId, names, [...bound.values()], runId],
        );
      });
    },
  };
}

export type RoleBindingStore = ReturnType<typeof createRoleBindingStore>;
