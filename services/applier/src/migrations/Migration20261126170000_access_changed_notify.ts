import { Migration } from '@mikro-orm/migrations';

/** The channel the application tables notify when what a sign-in answers may have changed. */
export const ACCESS_CHANGED_CHANNEL = 'dirstream_access_changed';

/** The tables a sign-in's answer is read from (user, effective groups, roles). */
const TABLES = ['users', 'groups', 'memberships', 'group_roles'] as const;

/** The triggers that send it (a database without all of them cannot keep that cache correct). */
export const ACCESS_CHANGED_TRIGGERS: readonly string[] = TABLES.map((table) => `${table}_access_changed`);

/**
 * `dirstream serve` keeps each login's user, groups and roles in memory (docs/authentication.md,
 * "Lookup cache"). It learns of every change from here: a statement-level trigger on each table a
 * sign-in reads sends NOTIFY on ACCESS_CHANGED_CHANNEL (payload: the table), whoever wrote — the
 * applier, the start-up's role mapping, an operator's SQL. PostgreSQL delivers it when the
 * transaction commits, once per transaction and payload; a statement-level trigger costs the
 * applier one call per statement, not per row.
 */
export class Migration20261126170000AccessChangedNotify extends Migration {
  override name = 'Migration20261126170000_access_changed_notify';

  override up(): void {
    this.addSql(`
create function dirstream_access_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('${ACCESS_CHANGED_CHANNEL}', tg_table_name);
  return null;
end
$$`);
    for (const table of TABLES) {
      this.addSql(
        `create trigger ${table}_access_changed after insert or update or delete or truncate on ${table}
           for each statement execute function dirstream_access_changed()`,
      );
    }
  }

  override down(): void {
    for (const table of TABLES) this.addSql(`drop trigger if exists ${table}_access_changed on ${table}`);
    this.addSql('drop function if exists dirstream_access_changed()');
  }
}
