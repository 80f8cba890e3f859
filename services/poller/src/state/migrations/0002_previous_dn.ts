import { Migration, type MigrationClass, quoteIdent } from '@dirstream/db';

/**
 * The DN an entity had before its last rename, and the run that saw that rename: slapo-refint
 * rewrites group `member` values asynchronously, so a group read just after a rename may still
 * list the old DN; the former DN names the entity during that pass only (DESIGN invariant 9).
 */
export function previousDnMigration(schema: string): MigrationClass {
  const s = quoteIdent(schema);
  return class extends Migration {
    override up(): void {
      this.addSql(`alter table ${s}.entity add column if not exists previous_dn_norm text`);
      this.addSql(`alter table ${s}.entity add column if not exists previous_dn_run text`);
      this.addSql(
        `create index if not exists entity_previous_dn_idx on ${s}.entity (profile_id, previous_dn_norm) where present and previous_dn_norm is not null`,
      );
    }
  };
}
