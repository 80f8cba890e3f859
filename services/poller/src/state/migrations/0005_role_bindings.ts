import { Migration, type MigrationClass, quoteIdent } from '@dirstream/db';

/**
 * Which group each `policies.groupRoles` name is bound to (DESIGN invariant 9: grants follow the
 * group's identity). The poller decides bindings once per pass from this one ordered view of the
 * directory and sends them with the group events; the applier stores what it is told, so every
 * apply order and a replay of the topics end with the same bindings. `name` is the configured
 * name lower-cased (PostgreSQL `lower`); a name is bound to at most one group.
 */
export function roleBindingsMigration(schema: string): MigrationClass {
  const s = quoteIdent(schema);
  return class extends Migration {
    override up(): void {
      this.addSql(`create table if not exists ${s}.role_binding (
        profile_id text not null,
        name text not null,
        group_id text not null,
        bound_run text,
        primary key (profile_id, name)
      )`);
      // The groups carrying a name, for the names not bound yet (a pass looks them up by name).
      this.addSql(
        `create index if not exists entity_group_name_idx on ${s}.entity (profile_id, lower(state->>'name')) where kind = 'group' and present`,
      );
    }
  };
}
