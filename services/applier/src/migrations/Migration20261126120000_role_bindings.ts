import { Migration } from '@mikro-orm/migrations';

/**
 * Group → role grants follow the group's identity, not its name (DESIGN invariant 9). A configured
 * group name (policies.groupRoles) is bound to the external ID of the one present group carrying
 * that name (case-insensitive) when it first appears; from then on the grant follows that group
 * through renames and moves. A name carried by several present groups grants nothing (ambiguous:
 * the applier logs it at start) until one remains: unbound, it binds to none; bound (groups of one
 * pass are applied per partition, so the first to arrive may have bound it), the bound group
 * grants nothing while another group also carries the name. A binding is released when its group is gone
 * (removed), so the name may bind again. Bindings are kept in the database: a rename is an
 * UPDATE of `groups.name`, which no longer touches the grant. The trigger is deferred to the end
 * of the applier's batch transaction: two groups with the name arriving in one batch are seen
 * together (ambiguous), not bound first come, first served.
 */
export class Migration20261126120000RoleBindings extends Migration {
  override name = 'Migration20261126120000_role_bindings';

  override up(): void {
    this.addSql(`
create table group_role_bindings (
  profile_id uuid not null,
  group_name text not null,
  group_id text not null,
  bound_at timestamptz not null default now(),
  primary key (profile_id, group_name)
)`);
    this.addSql('create index group_role_bindings_group on group_role_bindings (profile_id, group_id)');
    this.addSql('create index groups_name_lower on groups (profile_id, lower(name)) where present');
    this.addSql(`
create function bind_group_roles(p uuid) returns void language plpgsql as $$
begin
  delete from group_role_bindings b
   where b.profile_id = p
     and not exists (select 1 from group_roles r where r.profile_id = p and r.group_name = b.group_name);
  delete from group_role_bindings b
   where b.profile_id = p
     and not exists (select 1 from groups g where g.profile_id = p and g.external_id = b.group_id and g.present);
  insert into group_role_bindings (profile_id, group_name, group_id)
  select p, n.group_name, min(g.external_id)
    from (select distinct r.group_name from group_roles r where r.profile_id = p) n
    join groups g on g.profile_id = p and g.present and lower(g.name) = lower(n.group_name)
   where not exists (select 1 from group_role_bindings b where b.profile_id = p and b.group_name = n.group_name)
   group by n.group_name
  having count(*) = 1
  on conflict do nothing;
end
$$`);
    this.addSql(`
create function groups_bind_roles() returns trigger language plpgsql as $$
begin
  if exists (select 1 from group_roles r where r.profile_id = new.profile_id) then
    perform bind_group_roles(new.profile_id);
  end if;
  return null;
end
$$`);
    this.addSql(`
create constraint trigger groups_bind_roles after insert or update of name, present on groups
  deferrable initially deferred
  for each row execute function groups_bind_roles()`);
    this.addSql(`
create or replace view user_effective_roles as
select distinct u.id as user_id, u.profile_id, u.external_id, u.login_name, gr.role
from users u
join effective_memberships em
  on em.profile_id = u.profile_id and em.member_id = u.external_id and em.member_type = 'user'
join groups g on g.profile_id = em.profile_id and g.external_id = em.group_id and g.present
join group_role_bindings b on b.profile_id = g.profile_id and b.group_id = g.external_id
join group_roles gr on gr.profile_id = b.profile_id and gr.group_name = b.group_name
where u.enabled
  and not (lower(g.name) = lower(b.group_name) and exists (
    select 1 from groups other
     where other.profile_id = b.profile_id and other.present and other.external_id <> b.group_id
       and lower(other.name) = lower(b.group_name)))`);
    this.addSql('select bind_group_roles(id) from sync_profiles');
  }

  override down(): void {
    this.addSql(`
create or replace view user_effective_roles as
select distinct u.id as user_id, u.profile_id, u.external_id, u.login_name, gr.role
from users u
join effective_memberships em
  on em.profile_id = u.profile_id and em.member_id = u.external_id and em.member_type = 'user'
join groups g on g.profile_id = em.profile_id and g.external_id = em.group_id and g.present
join group_roles gr on gr.profile_id = g.profile_id and lower(gr.group_name) = lower(g.name)
where u.enabled`);
    this.addSql('drop trigger if exists groups_bind_roles on groups');
    this.addSql('drop function if exists groups_bind_roles()');
    this.addSql('drop function if exists bind_group_roles(uuid)');
    this.addSql('drop index if exists groups_name_lower');
    this.addSql('drop table if exists group_role_bindings');
  }
}
