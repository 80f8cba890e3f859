import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DatabaseConfig } from '@dirstream/config';
import { openDatabase } from '@dirstream/db';
import { createTestDatabase, loadInfra, type TestDatabase } from '@dirstream/testing';
import { migratePollerSchema, openPollerDatabase } from '../src/state/database.ts';

/** The tables and columns the poller's state code reads and writes, written out by hand. */
const EXPECTED: Record<string, string[]> = {
  profile_state: ['profile_id', 'cursor_kind', 'cursor', 'last_full_at', 'last_run_id', 'last_status', 'updated_at'],
  entity: [
    'profile_id',
    'kind',
    'external_id',
    'dn',
    'dn_norm',
    'login_norm',
    'hash',
    'version',
    'enabled',
    'present',
    'state',
    'members_hash',
    'previous_dn_norm',
    'previous_dn_run',
  ],
  edge: ['profile_id', 'group_id', 'member_id', 'member_type', 'version'],
  sync_requests: [
    'run_id',
    'profile_id',
    'full_pass',
    'reason',
    'requested_by',
    'requested_at',
    'coalesced',
    'state',
    'started_at',
    'finished_at',
    'run_status',
    'run_reason',
    'run_host',
    'run_pid',
  ],
  profile_activity: [
    'profile_id',
    'holder_host',
    'holder_pid',
    'holder_backend_pid',
    'holder_mode',
    'holder_since',
    'next_run_at',
    'current_run_id',
    'current_run_started_at',
    'last_run',
    'updated_at',
  ],
  role_binding: ['profile_id', 'name', 'group_id', 'bound_run'],
};

describe('poller state migrations', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase(loadInfra(), 'poller-migrations');
  });
  after(async () => {
    await database.drop();
  });

  const configFor = (schema: string): DatabaseConfig => ({ url: database.url, pollerSchema: schema, poolSize: 2 }) as DatabaseConfig;

  async function columns(schema: string): Promise<Record<string, string[]>> {
    const db = await openDatabase(configFor(schema), { poolSize: 1 });
    try {
      const rows = await db.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns
          where table_schema = $1 and table_name <> 'dirstream_poller_migrations' order by table_name, ordinal_position`,
        [schema],
      );
      const tables: Record<string, string[]> = {};
      for (const r of rows) {
        const list = tables[r.table_name] ?? [];
        list.push(r.column_name);
        tables[r.table_name] = list;
      }
      return tables;
    } finally {
      await db.close();
    }
  }

  it('a fresh schema: pollers starting together migrate it once; dirstream migrate then finds nothing to do', async () => {
    const schema = 'fresh_state';
    const opened = await Promise.all([openPollerDatabase(configFor(schema)), openPollerDatabase(configFor(schema))]);
    const [first] = opened;
    assert.ok(first);
    const applied = await first.query<{ name: string }>(`select name from "${schema}".dirstream_poller_migrations order by id`);
    assert.deepEqual(
      applied.map((r) => r.name),
      ['0001_state', '0002_previous_dn', '0003_sync_requests', '0004_profile_activity', '0005_role_bindings'],
    );
    for (const db of opened) await db.close();
    assert.deepEqual(await columns(schema), EXPECTED);
    assert.deepEqual(await migratePollerSchema(configFor(schema)), []);
  });

  it('a schema created before migrations existed is adopted with its rows', async () => {
    const schema = 'older_state';
    const db = await openDatabase(configFor(schema), { poolSize: 1 });
    try {
      // What the poller created at start before numbered migrations (without the later tables).
      await db.query(`create schema "${schema}"`);
      await db.query(`create table "${schema}".profile_state (profile_id text primary key, cursor_kind text, cursor text,
        last_full_at bigint, last_run_id text, last_status text, updated_at timestamptz not null default now())`);
      await db.query(`create table "${schema}".entity (profile_id text not null, kind text not null check (kind in ('user', 'group')),
        external_id text not null, dn text not null, dn_norm text not null, login_norm text, hash text not null,
        version bigint not null, enabled boolean not null, present boolean not null, state jsonb not null, members_hash text,
        primary key (profile_id, kind, external_id))`);
      await db.query(`create table "${schema}".edge (profile_id text not null, group_id text not null, member_id text not null,
        member_type text not null check (member_type in ('user', 'group')), version bigint not null,
        primary key (profile_id, group_id, member_id))`);
      await db.query(
        `insert into "${schema}".profile_state (profile_id, cursor_kind, cursor) values ('p1', 'timestamp', '20261101000000Z')`,
      );
    } finally {
      await db.close();
    }
    const applied = await migratePollerSchema(configFor(schema));
    assert.equal(applied.length, 5);
    assert.deepEqual(await columns(schema), EXPECTED);
    const state = await openPollerDatabase(configFor(schema));
    try {
      assert.deepEqual(await state.query(`select profile_id, cursor from "${schema}".profile_state`), [
        { profile_id: 'p1', cursor: '20261101000000Z' },
      ]);
    } finally {
      await state.close();
    }
  });
});
