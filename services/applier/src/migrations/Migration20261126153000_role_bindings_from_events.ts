import { Migration } from '@mikro-orm/migrations';

/**
 * Role bindings come with the group events (group-event v2 `roleBindings`, decided by the poller
 * once per pass: services/poller/src/core/role-bindings.ts) instead of being decided here as groups
 * arrive. Groups are applied per partition in no global order, so the applier's own rule
 * (migration 20261126120000) could bind a name to different groups depending on which partition
 * came first, and a replay into an empty database, which sees only each group's last state, could
 * not rebuild a binding that had followed a rename. Now `groups.role_bindings` holds what the
 * group's last applied event said (the configured names, lower-cased); null until an event of v2
 * or later is applied (no binding).
 *
 * Additive for the rolling upgrade (docs/deployment.md): the old table and function stay, unused,
 * so an applier of the previous version still starts; the trigger that decided bindings goes.
 */
export class Migration20261126153000RoleBindingsFromEvents extends Migration {
  override name = 'Migration20261126153000_role_bindings_from_events';

  override up(): void {
    this.addSql('alter table groups add column role_bindings text[]');
    this.addSql('drop trigger if exists groups_bind_roles on groups');
    this.addSql(`
create or replace view user_effective_roles as
select distinct u.id as user_id, u.profile_id, u.external_id, u.login_name, gr.role
from users u
join effective_memberships em
  on em.profile_id = u.profile_id and em.member_id = u.external_id and em.member_type = 'user'
join groups g on g.profile_id = em.profile_id and g.external_id = em.group_id and g.present
join group_roles gr on gr.profile_id = g.profile_id and lower(gr.group_name) = any (g.role_bindings)
where u.enabled`);
  }

  override down(): void {
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
    this.addSql(`
create constraint trigger groups_bind_roles after insert or update of name, present on groups
  deferrable initially deferred
  for each row execute function groups_bind_roles()`);
    this.addSql('alter table groups drop column role_bindings');
  }
}
