import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, it } from 'node:test';
import { closeDatabase, type Database, migrate, openDatabase } from '@dirstream/applier';
import { until } from '@dirstream/testing';
import { userEvent } from './fixtures.ts';
import { createHarness, type Harness } from './harness.ts';

/**
 * Three applier processes in one consumer group: one is killed with SIGKILL mid-stream, one
 * joins mid-stream. The final state is correct and every transition is published exactly once.
 */
let h: Harness;
let db: Database;
const children = new Set<ChildProcess>();

before(async () => {
  h = await createHarness('applier-scale', { partitions: 4, maxBatchSize: 20 });
  await migrate({ config: h.config });
  db = await openDatabase(h.config);
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await closeDatabase(db);
  await h.close();
});

function startApplier(name: string): ChildProcess {
  const child = spawn(process.execPath, [new URL('./child-applier.ts', import.meta.url).pathname], {
    env: { ...process.env, APPLIER_CONFIG: JSON.stringify(h.config), APPLIER_NAME: name },
    stdio: ['ignore', process.env.APPLIER_TEST_LOG === undefined ? 'ignore' : 'inherit', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return code;
}

const count = async (sql: string) => Number((await db.query<{ n: string }>(sql))[0]?.n ?? 0);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('three instances, one killed and one started mid-stream, publish each transition once', { timeout: 240_000 }, async () => {
  const users = Array.from({ length: 120 }, (_, i) => `s${String(i).padStart(3, '0')}`);
  await h.produceUsers(users.map((u) => userEvent(u, 1)));
  const a = startApplier('a');
  startApplier('b');
  await until('all users created', async () => (await count('select count(*) as n from users')) === 120, { timeoutMs: 90_000 });

  // Disable 80 users in small steps while the group changes under the stream.
  const disabled = users.slice(0, 80);
  for (let step = 0; step < 8; step++) {
    const slice = disabled.slice(step * 10, step * 10 + 10);
    await h.produceUsers(slice.map((u) => userEvent(u, 2, { enabled: false, disabledReason: 'removed-from-directory' })));
    if (step === 2) a.kill('SIGKILL');
    if (step === 4) startApplier('c');
    await pause(300);
  }
  await until(
    'the disables applied and published',
    async () =>
      (await count('select count(*) as n from users where not enabled')) === 80 &&
      (await count('select count(*) as n from outbox')) === 80 &&
      (await count('select count(*) as n from outbox where published_at is null')) === 0,
    { timeoutMs: 120_000 },
  );
  // Re-enable 20 of them, delivered twice.
  const reenabled = disabled.slice(0, 20);
  await h.produceUsers(reenabled.map((u) => userEvent(u, 3)));
  await h.produceUsers(reenabled.map((u) => userEvent(u, 3)));
  await until(
    'the re-enables applied and published',
    async () =>
      (await count('select count(*) as n from users where not enabled')) === 60 &&
      (await count('select count(*) as n from outbox where published_at is null')) === 0 &&
      (await count('select count(*) as n from outbox')) === 100,
    { timeoutMs: 120_000 },
  );

  const codes = await Promise.all([...children].map((child) => stop(child)));
  assert.ok(
    codes.every((code) => code === 0),
    `exit codes ${codes.join(',')}`,
  );

  const lifecycle = await h.readLifecycle();
  const perId = new Map<string, number>();
  for (const e of lifecycle) perId.set(e.eventId, (perId.get(e.eventId) ?? 0) + 1);
  assert.equal(perId.size, 100);
  assert.ok(
    [...perId.values()].every((n) => n === 1),
    'no event ID published twice',
  );
  const disables = lifecycle
    .filter((e) => e.type === 'user-disabled')
    .map((e) => e.externalId)
    .sort();
  assert.deepEqual(disables, disabled);
  const enables = lifecycle
    .filter((e) => e.type === 'user-enabled')
    .map((e) => e.externalId)
    .sort();
  assert.deepEqual(enables, reenabled);
  assert.equal((await h.readDeadLetters()).length, 0);
});
