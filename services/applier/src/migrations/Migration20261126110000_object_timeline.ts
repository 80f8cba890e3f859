import { Migration } from '@mikro-orm/migrations';

/**
 * The per-object timeline of the operator console: membership changes are logged per edge
 * (`related_id` holds the group of a membership row, '' on every other row, so the once-only key
 * can tell two edges of one member apart that share a clock-seeded version), `detail` keeps what
 * the changed-field list cannot say (old and new DN of a rename, the reason of a disable), and
 * indexes serve the object timeline and the run list.
 */
export class Migration20261126110000ObjectTimeline extends Migration {
  override name = 'Migration20261126110000_object_timeline';

  override up(): void {
    this.addSql(`alter table sync_log add column related_id text not null default ''`);
    this.addSql('alter table sync_log add column detail jsonb');
    this.addSql('alter table sync_log drop constraint sync_log_once');
    this.addSql('alter table sync_log add constraint sync_log_once unique (entity, profile_id, external_id, version, op, related_id)');
    this.addSql('create index sync_log_object on sync_log (profile_id, external_id, id)');
    this.addSql(`create index sync_log_related on sync_log (profile_id, related_id, id) where related_id <> ''`);
    this.addSql('create index sync_runs_started on sync_runs (started_at desc, run_id desc)');
    // The page's "changes applied per minute" chart reads the last hours of the log.
    this.addSql('create index sync_log_logged on sync_log (logged_at)');
  }

  override down(): void {
    this.addSql('drop index if exists sync_log_logged');
    this.addSql('drop index if exists sync_runs_started');
    this.addSql('drop index if exists sync_log_related');
    this.addSql('drop index if exists sync_log_object');
    this.addSql(`delete from sync_log where related_id <> ''`);
    this.addSql('alter table sync_log drop constraint sync_log_once');
    this.addSql('alter table sync_log add constraint sync_log_once unique (entity, profile_id, external_id, version, op)');
    this.addSql('alter table sync_log drop column detail');
    this.addSql('alter table sync_log drop column related_id');
  }
}
