import { Migration } from '@mikro-orm/migrations';

/**
 * The applier's schema. Written by hand (not generated) because most of what matters here is not
 * expressible as entity metadata: the version-guard indexes, the recursive effective-membership
 * view and the role view.
 */
export class Migration20261122000000Initial extends Migration {
  override name = 'Migration20261122000000_initial';

  override up(): void {
    this.addSql(`
create table sync_profiles (
  id uuid primary key,
  name text not null,
  directory_type text not null,
  conflict_policy text not null,
  updated_at timestamptz not null default now()
)`);

    // Local accounts (profile_id null, source 'local') and directory users share one table so a
    // login name means one thing to the application. A linked local account keeps source 'local'
    // and gains the directory identity.
    this.addSql(`
create table users (
  id bigserial primary key,
  profile_id uuid,
  external_id text,
  source text not null default 'directory' check (source in ('local', 'directory')),
  login_name text not null,
  user_principal_name text,
  display_name text not null default '',
  given_name text,
  surname text,
  emails text[] not null default '{}',
  phone text,
  title text,
  company text,
  dn text,
  sid text,
  enabled boolean not null default true,
  disabled_reason text,
  version bigint not null default 0,
  last_event_id text,
  attributes jsonb not null default '{}',
  linked_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_identity unique (profile_id, external_id),
  check ((profile_id is null) = (external_id is null))
)`);
    this.addSql('create index users_login_name on users (lower(login_name))');
    this.addSql('create index users_emails on users using gin (emails)');
    this.addSql('create index users_primary_email on users (lower(emails[1]))');
    this.addSql('create index users_sid on users (sid) where sid is not null');
    this.addSql('create index users_external_id on users (external_id) where external_id is not null');
    this.addSql('create index users_enabled_directory on users (profile_id) where enabled and profile_id is not null');

    this.addSql(`
create table groups (
  profile_id uuid not null,
  external_id text not null,
  name text not null,
  description text,
  dn text not null,
  sid text,
  present boolean not null default true,
  version bigint not null,
  last_event_id text,
  attributes jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (profile_id, external_id)
)`);
    this.addSql('create index groups_name on groups (profile_id, lower(name))');

    // Direct edges by external IDs, no foreign keys: an edge may arrive before its user or group.
    // A removal keeps its row (present = false) with the removal's version, so an older `added`
    // delivered later cannot resurrect the edge.
    this.addSql(`
create table memberships (
  profile_id uuid not null,
  group_id text not null,
  member_id text not null,
  member_type text not null check (member_type in ('user', 'group')),
  present boolean not null,
  version bigint not null,
  updated_at timestamptz not null default now(),
  primary key (profile_id, group_id, member_id)
)`);
    this.addSql('create index memberships_member on memberships (profile_id, member_id) where present');
    this.addSql('create index memberships_group on memberships (profile_id, group_id) where present');

    // Effective memberships: the transitive closure of the direct edges, computed on read. The
    // path array makes it cycle-safe (a group that contains itself through others stops there).
    this.addSql(`
create view effective_memberships as
with recursive closure (profile_id, member_id, member_type, group_id, path) as (
  select m.profile_id, m.member_id, m.member_type, m.group_id, array[m.member_id, m.group_id]
  from memberships m where m.present
  union all
  select c.profile_id, c.member_id, c.member_type, m.group_id, c.path || m.group_id
  from closure c
  join memberships m
    on m.profile_id = c.profile_id and m.member_id = c.group_id and m.member_type = 'group' and m.present
  where not (m.group_id = any (c.path))
)
select distinct profile_id, member_id, member_type, group_id from closure`);

    this.addSql('create table app_roles (name text primary key)');
    this.addSql(`
create table group_roles (
  profile_id uuid not null,
  group_name text not null,
  role text not null references app_roles (name) on delete cascade,
  primary key (profile_id, group_name, role)
)`);
    // Roles go to enabled users only: a disabled account keeps its memberships (history) but grants
    // nothing.
    this.addSql(`
create view user_effective_roles as
select distinct u.id as user_id, u.profile_id, u.external_id, u.login_name, gr.role
from users u
join effective_memberships em
  on em.profile_id = u.profile_id and em.member_id = u.external_id and em.member_type = 'user'
join groups g on g.profile_id = em.profile_id and g.external_id = em.group_id and g.present
join group_roles gr on gr.profile_id = g.profile_id and lower(gr.group_name) = lower(g.name)
where u.enabled`);

    this.addSql(`
create table sync_runs (
  run_id text primary key,
  profile_id uuid not null,
  directory_type text not null,
  mode text not null,
  status text not null,
  reason text,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  counts jsonb not null,
  errors jsonb not null,
  cursor_before text,
  cursor_after text,
  event_id text not null
)`);
    this.addSql('create index sync_runs_profile on sync_runs (profile_id, started_at desc)');

    // One row per applied object change, policy decision or error. The unique key makes a
    // redelivered event log nothing twice.
    this.addSql(`
create table sync_log (
  id bigserial primary key,
  run_id text,
  profile_id uuid,
  entity text not null,
  external_id text not null,
  op text not null,
  version bigint not null,
  changed jsonb,
  error_code text,
  error_message text,
  logged_at timestamptz not null default now(),
  constraint sync_log_once unique (entity, profile_id, external_id, version, op)
)`);
    this.addSql('create index sync_log_run on sync_log (run_id)');
    this.addSql('create index sync_log_errors on sync_log (profile_id, logged_at) where error_code is not null');

    this.addSql(`
create table outbox (
  id bigserial primary key,
  event_id text not null unique,
  type text not null,
  profile_id uuid not null,
  external_id text not null,
  record_key text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  published_at timestamptz
)`);
    this.addSql('create index outbox_pending on outbox (record_key, id) where published_at is null');

    // The version each entity / edge was last applied at, in one place for operators.
    this.addSql(`
create view applied_versions as
select 'user'::text as entity, profile_id, external_id as key, version from users where profile_id is not null
union all
select 'group', profile_id, external_id, version from groups
union all
select 'membership', profile_id, group_id || '/' || member_id, version from memberships`);
  }

  override down(): void {
    for (const view of ['applied_versions', 'user_effective_roles', 'effective_memberships']) {
      this.addSql(`drop view if exists ${view}`);
    }
    for (const table of [
      'outbox',
      'sync_log',
      'sync_runs',
      'group_roles',
      'app_roles',
      'memberships',
      'groups',
      'users',
      'sync_profiles',
    ]) {
      this.addSql(`drop table if exists ${table}`);
    }
  }
}
