import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyBatch, closeDatabase, createLocalUser, type Database, migrate, openDatabase, type PlanContext } from '@dirstream/applier';
import type { DatabaseConfig } from '@dirstream/config';
import { createTestDatabase, loadInfra, type TestDatabase } from '@dirstream/testing';
import { groupEvent, membershipEvent, PROFILE_A, userEvent } from './fixtures.ts';

/**
 * The sync log writes a change only when the version-guarded upsert wrote the row (its once-only
 * index covers error rows alone, migration 20261126160000): every way an event can arrive twice
 * must still log it once.
 */
describe('sync log: once per change', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let db: Database;
  const ctx = (conflictPolicy: 'skip' | 'link' = 'skip'): PlanContext => ({
    profiles: new Map([[PROFILE_A, { conflictPolicy }]]),
    announce: true,
    now: Date.now(),
  });
  const empty = { users: [], groups: [], memberships: [], syncRuns: [] };
  const logOf = (externalId: string) =>
    db.query<{ entity: string; op: string; version: string; error_code: string | null }>(
      'select entity, op, version, error_code from sync_log where external_id = $1 order by id',
      [externalId],
    );

  before(async () => {
    database = await createTestDatabase(loadInfra(), 'sync-log');
    const config = { database: { url: database.url, pollerSchema: 'dirstream_poller', poolSize: 4 } as DatabaseConfig };
    await migrate({ config });
    db = await openDatabase(config);
  });
  after(async () => {
    if (db !== undefined) await closeDatabase(db);
    await database?.drop();
  });

  it('a batch applied again (a crash before the offset commit) logs its users, groups and edges once', async () => {
    const input = {
      ...empty,
      users: [userEvent('dana', 3, { op: 'created' })],
      groups: [groupEvent('crew', 2, { op: 'created' })],
      memberships: [membershipEvent('crew', 'dana', 4)],
    };
    const first = await db.transaction((sql) => applyBatch(sql, input, ctx()));
    const again = await db.transaction((sql) => applyBatch(sql, input, ctx()));
    assert.equal(first.logRows, 3);
    assert.equal(again.logRows, 0);
    assert.deepEqual(await logOf('dana'), [
      { entity: 'user', op: 'created', version: '3', error_code: null },
      { entity: 'membership', op: 'added', version: '4', error_code: null },
    ]);
    assert.deepEqual(await logOf('crew'), [{ entity: 'group', op: 'created', version: '2', error_code: null }]);
  });

  it('a new user applied by two overlapping transactions (a rebalance) is logged by the one that wrote it', async () => {
    const input = { ...empty, users: [userEvent('erik', 7, { op: 'created' })] };
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstApplied: () => void = () => undefined;
    const applied = new Promise<void>((resolve) => {
      firstApplied = resolve;
    });
    const first = db.transaction(async (sql) => {
      const result = await applyBatch(sql, input, ctx());
      firstApplied();
      await held;
      return result;
    });
    await applied;
    // The second one reads before the first commits (no row to lock yet), then waits on its login lock.
    const second = db.transaction((sql) => applyBatch(sql, input, ctx()));
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.usersWritten + b.usersWritten, 1);
    assert.deepEqual(await logOf('erik'), [{ entity: 'user', op: 'created', version: '7', error_code: null }]);
  });

  it('a skipped conflict delivered twice is reported once (error rows keep the once-only key)', async () => {
    await createLocalUser(db, { loginName: 'frida' });
    const input = { ...empty, users: [userEvent('frida', 2, { op: 'created' })] };
    await db.transaction((sql) => applyBatch(sql, input, ctx('skip')));
    await db.transaction((sql) => applyBatch(sql, input, ctx('skip')));
    assert.deepEqual(await logOf('frida'), [
      { entity: 'user', op: 'conflict-skipped', version: '2', error_code: 'USER_LOCAL_ACCOUNT_CONFLICT' },
    ]);
  });

  it('a linked local account logs the link and the change once', async () => {
    await createLocalUser(db, { loginName: 'gita' });
    const input = { ...empty, users: [userEvent('gita', 5, { op: 'created' })] };
    await db.transaction((sql) => applyBatch(sql, input, ctx('link')));
    await db.transaction((sql) => applyBatch(sql, input, ctx('link')));
    assert.deepEqual(
      (await logOf('gita')).map((r) => r.op),
      ['linked', 'created'],
    );
  });
});
