import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { closeDatabase, type Database, migrate, openDatabase, runApplier } from '@dirstream/applier';
import { createLogger } from '@dirstream/logging';
import { loadInfra, until } from '@dirstream/testing';
import { PROFILE_A, userEvent } from './fixtures.ts';
import { createHarness, type Harness, testLogger } from './harness.ts';

/**
 * A database outage mid-stream: the applier's connections are terminated and the database stops
 * accepting connections for a while (the shared server keeps running for other tests). Nothing
 * may be dead-lettered and nothing lost.
 */
let h: Harness;
let db: Database;
let admin: Database;

before(async () => {
  h = await createHarness('applier-outage');
  await migrate({ config: h.config });
  db = await openDatabase(h.config);
  admin = await openDatabase({ database: { ...h.config.database, url: loadInfra().postgres.url } }, { poolSize: 1 });
});
after(async () => {
  await admin.query(`alter database "${h.database.name}" allow_connections true`).catch(() => undefined);
  await closeDatabase(db);
  await closeDatabase(admin);
  await h.close();
});

const count = async (sql: string) => Number((await db.query<{ n: string }>(sql))[0]?.n ?? 0);

it('survives a database outage without dead letters or loss', { timeout: 180_000 }, async () => {
  const users = Array.from({ length: 300 }, (_, i) => `u${String(i).padStart(3, '0')}`);
  await h.produceUsers(users.slice(0, 100).map((u) => userEvent(u, 1)));

  const controller = new AbortController();
  const lines: string[] = [];
  const logger =
    process.env.APPLIER_TEST_LOG === undefined
      ? createLogger({ name: 'outage', level: 'warn', destination: { write: (line: string) => void lines.push(line) } })
      : testLogger();
  const running = runApplier({ config: h.config, logger, signal: controller.signal }, {});
  try {
    await until('the first users', async () => (await count('select count(*) as n from users')) >= 100);

    // Outage: no new connections, existing ones killed (SQLSTATE 57P01 then 55000 on connect).
    await admin.query(`alter database "${h.database.name}" allow_connections false`);
    await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [
      h.database.name,
    ]);
    await closeDatabase(db);
    await h.produceUsers(users.slice(100).map((u) => userEvent(u, 1)));
    await h.produceUsers(users.slice(0, 50).map((u) => userEvent(u, 2, { enabled: false, disabledReason: 'directory-disabled' })));
    await new Promise((r) => setTimeout(r, 4_000));
    await admin.query(`alter database "${h.database.name}" allow_connections true`);
    db = await openDatabase(h.config);

    await until(
      'every event applied',
      async () =>
        (await count('select count(*) as n from users')) === 300 &&
        (await count('select count(*) as n from users where not enabled')) === 50 &&
        (await count('select count(*) as n from outbox where published_at is null')) === 0,
      { timeoutMs: 90_000 },
    );
  } finally {
    controller.abort();
  }
  assert.deepEqual(await running, { ok: true });

  if (process.env.APPLIER_TEST_LOG === undefined) {
    // The outage was seen (and retried), not missed.
    assert.ok(lines.some((l) => l.includes('apply failed (outage); retrying')));
  }
  assert.equal((await h.readDeadLetters()).length, 0);
  const lifecycle = await h.readLifecycle();
  assert.equal(lifecycle.length, 50);
  assert.equal(new Set(lifecycle.map((e) => e.eventId)).size, 50);
  assert.ok(lifecycle.every((e) => e.type === 'user-disabled' && e.profileId === PROFILE_A));
});
