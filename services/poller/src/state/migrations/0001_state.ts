import { Migration, type MigrationClass, quoteIdent } from '@dirstream/db';

/**
 * The poller's state: cursors per profile, the last-emitted state of every entry and edge.
 * `if not exists` throughout: a database the poller set up before migrations existed already
 * holds these tables, and this migration adopts them.
 */
export function stateMigration(schema: string): MigrationClass {
  const s = quoteIdent(schema);
  return class extends Migration {
    override up(): void {
      this.addSql(`create schema if not exists ${s}`);
      this.addSql(`create table if not exists ${s}.profile_state (
        profile_id text primary key,
        cursor_kind text,
        cursor text,
        last_full_at bigint,
        last_run_id text,
        last_status text,
        updated_at timestamptz not null default now()
      )`);
      this.addSql(`create table if not exists ${s}.entity (
        profile_id text not null,
        kind text not null check (kind in ('user', 'group')),
        external_id text not null,
        dn text not null,
        dn_norm text not null,
        login_norm text,
        hash text not null,
        version bigint not null,
        enabled boolean not null,
        present boolean not null,
        state jsonb not null,
        primary key (profile_id, kind, external_id)
      )`);
      this.addSql(`alter table ${s}.entity add column if not exists members_hash text`);
      this.addSql(`create index if not exists entity_dn_idx on ${s}.entity (profile_id, dn_norm) where present`);
      this.addSql(`create index if not exists entity_login_idx on ${s}.entity (profile_id, login_norm) where present and kind = 'user'`);
      this.addSql(`create table if not exists ${s}.edge (
        profile_id text not null,
        group_id text not null,
        member_id text not null,
        member_type text not null check (member_type in ('user', 'group')),
        version bigint not null,
        primary key (profile_id, group_id, member_id)
      )`);
      this.addSql(`create index if not exists edge_member_idx on ${s}.edge (profile_id, member_id)`);
    }
  };
}
