import { Migration, type MigrationClass, quoteIdent } from '@dirstream/db';

/**
 * Who is the active poller of a profile (the advisory lock is the truth: a row whose backend no
 * longer holds the lock is stale), when it runs next, and what its last run did.
 */
export function profileActivityMigration(schema: string): MigrationClass {
  const s = quoteIdent(schema);
  return class extends Migration {
    override up(): void {
      this.addSql(`create table if not exists ${s}.profile_activity (
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
    }
  };
}
