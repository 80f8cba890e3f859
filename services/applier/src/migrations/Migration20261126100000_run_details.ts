import { Migration } from '@mikro-orm/migrations';

/**
 * A run's details from `<prefix>.run-details`: every entry error (the sync-runs record keeps
 * only the first 50) and every user a halted run would have disabled, one row per item, keyed by
 * where the item sits in the run's pages so a redelivered page writes nothing twice. And the
 * run's phase timings (sync-run v3).
 */
export class Migration20261126100000RunDetails extends Migration {
  override name = 'Migration20261126100000_run_details';

  override up(): void {
    this.addSql(`
create table sync_run_errors (
  run_id text not null,
  profile_id uuid not null,
  page integer not null,
  position integer not null,
  dn text,
  code text not null,
  message text not null,
  primary key (run_id, page, position)
)`);
    this.addSql('create index sync_run_errors_code on sync_run_errors (run_id, code)');
    this.addSql(`
create table sync_run_would_disable (
  run_id text not null,
  profile_id uuid not null,
  page integer not null,
  position integer not null,
  external_id text not null,
  login_name text not null,
  dn text not null,
  reason text,
  primary key (run_id, page, position)
)`);
    // An object's timeline shows the halted runs that would have disabled it.
    this.addSql('create index sync_run_would_disable_object on sync_run_would_disable (profile_id, external_id)');
    this.addSql('alter table sync_runs add column phases_ms jsonb');
  }

  override down(): void {
    this.addSql('alter table sync_runs drop column phases_ms');
    this.addSql('drop table sync_run_would_disable');
    this.addSql('drop table sync_run_errors');
  }
}
