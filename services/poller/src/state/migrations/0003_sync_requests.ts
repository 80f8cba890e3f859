import { Migration, type MigrationClass, quoteIdent } from '@dirstream/db';

/**
 * Sync now (state/sync-requests.ts): a row per requested run; the run ID is chosen at request
 * time. At most one pending request per profile: later requests join it (coalesced).
 */
export function syncRequestsMigration(schema: string): MigrationClass {
  const s = quoteIdent(schema);
  return class extends Migration {
    override up(): void {
      this.addSql(`create table if not exists ${s}.sync_requests (
        run_id text primary key,
        profile_id text not null,
        full_pass boolean not null,
        reason text not null,
        requested_by text,
        requested_at timestamptz not null default now(),
        coalesced integer not null default 0,
        state text not null check (state in ('pending', 'running', 'finished')),
        started_at timestamptz,
        finished_at timestamptz,
        run_status text,
        run_reason text,
        run_host text,
        run_pid integer
      )`);
      this.addSql(`create unique index if not exists sync_requests_pending_idx on ${s}.sync_requests (profile_id) where state = 'pending'`);
      this.addSql(`create index if not exists sync_requests_profile_idx on ${s}.sync_requests (profile_id, requested_at)`);
    }
  };
}
