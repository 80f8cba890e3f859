/**
 * "Sync now" into a running scheduled poller: the request starts a run within a second, requests
 * during a run are queued once, the lock holder is visible, `--once` hands its pass to the active
 * poller, and a request nobody takes waits for the next poller that holds the profile's lock.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSilentLogger } from '@dirstream/logging';
import { until } from '@dirstream/testing';
import { createSyncControl } from '../src/control/sync-control.ts';
import { markActive } from '../src/state/activity.ts';
import { openPollerDatabase } from '../src/state/database.ts';
import { tryLockProfile } from '../src/state/lock.ts';
import { runPoller } from '../src/run/poller.ts';
import type { SyncResult } from '../src/run/sync-run.ts';
import { setupPollerTest } from './poller-support.ts';

it('sync now reaches the scheduled poller, coalesces, and --once hands over', async () => {
  const t = await setupPollerTest('sync-now');
  const control = await createSyncControl((await t.config()).database);
  const scheduler = new AbortController();
  try {
    for (let i = 0; i < 10; i++) await t.ldap.addUser(`now${i}`);
    // A long interval: after the sync on boot, only a request starts a run.
    const config = await t.config({ schedule: { intervalSeconds: 3_600 } });
    const runs: SyncResult[] = [];
    let slowMs = 0;
    let metricsPort = 0;
    const poller = runPoller(
      { config, logger: createSilentLogger(), signal: scheduler.signal },
      { once: false, profileId: t.profileId },
      {
        lockRetryMs: 100,
        onRun: (r) => runs.push(r),
        onMetricsListening: (address) => {
          metricsPort = address.port;
        },
        hooks: { afterProduce: () => (slowMs > 0 ? sleep(slowMs) : undefined) },
      },
    );
    await until('the sync on boot', async () => runs.length === 1);

    const holder = await until('the lock holder', async () => (await control.lockHolders()).get(t.profileId));
    assert.equal(holder.pid, process.pid);
    assert.equal(holder.mode, 'scheduled');
    const status = await until('the next scheduled run', async () =>
      (await control.profileStates()).find((p) => p.profileId === t.profileId && p.nextRunAt),
    );
    assert.ok(status.nextRunAt && status.nextRunAt.getTime() > Date.now() + 3_500_000, 'next run one interval after the boot run');
    assert.equal(status.lastRun?.runId, runs[0]?.runId);
    assert.equal(status.lastRun?.counts.created, 10);
    assert.ok(status.cursorKind, 'cursor kind recorded');

    // Sync now: the run starts within a second of the request (database clock on both sides).
    const requested = await control.requestSync({ profileId: t.profileId, full: false, reason: 'operator', requestedBy: 'test' });
    assert.equal(requested.coalesced, false);
    const done = await control.waitForRun(requested.runId, { timeoutMs: 20_000 });
    const delayMs = (done.startedAt?.getTime() ?? Number.NaN) - done.requestedAt.getTime();
    console.log(`sync-now start delay: ${delayMs} ms (request to run start)`);
    assert.ok(delayMs >= 0 && delayMs < 5_000, `started ${delayMs} ms after the request`);
    assert.equal(done.status, 'succeeded');
    assert.equal(runs.length, 2);
    assert.equal(runs[1]?.runId, requested.runId, 'the run used the requested run ID');

    // Requests during a run: queued once, so exactly one more run.
    for (let i = 0; i < 5; i++) await t.ldap.addUser(`later${i}`);
    slowMs = 1_500;
    const first = await control.requestSync({ profileId: t.profileId, reason: 'operator' });
    await until('the requested run to start', async () => (await control.runState(first.runId))?.phase === 'running');
    const running = (await control.profileStates()).find((p) => p.profileId === t.profileId);
    assert.equal(running?.currentRun?.runId, first.runId);
    const second = await control.requestSync({ profileId: t.profileId, reason: 'operator' });
    const third = await control.requestSync({ profileId: t.profileId, full: true, reason: 'first-sign-in' });
    assert.equal(second.coalesced, false, 'a request during a run queues one run after it');
    assert.notEqual(second.runId, first.runId);
    assert.deepEqual(third, { runId: second.runId, coalesced: true }, 'a further request joins the queued one');
    slowMs = 0;
    const queued = await control.waitForRun(second.runId, { timeoutMs: 30_000 });
    assert.equal(queued.full, true, 'the full request upgraded the queued one');
    assert.equal(queued.coalesced, 1);
    await sleep(1_500);
    assert.deepEqual(
      runs.slice(2).map((r) => [r.runId, r.mode]),
      [
        [first.runId, 'delta'],
        [second.runId, 'full'],
      ],
      'exactly one extra run for the two requests made during the first',
    );

    // The poller's metrics and health: the named series after these runs, active for this profile.
    const scrape = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
      return { status: response.status, body: await response.text() };
    };
    assert.equal((await scrape('/healthz')).status, 200);
    const readyz = await scrape('/readyz');
    assert.equal(readyz.status, 200);
    assert.deepEqual(JSON.parse(readyz.body), { ready: true, profiles: { [t.profileId]: 'active' } });
    const { body } = await scrape('/metrics');
    const sample = (series: string) => {
      const line = body.split('\n').find((l) => l.startsWith(series));
      assert.ok(line, `${series} is exposed`);
      return Number(line.slice(series.length).trim());
    };
    const p = `profile_id="${t.profileId}"`;
    assert.equal(sample(`dirstream_poller_runs_total{${p},status="succeeded",mode="full"}`), 2, 'boot run and the full requested run');
    assert.equal(sample(`dirstream_poller_runs_total{${p},status="succeeded",mode="delta"}`), 2);
    assert.equal(sample(`dirstream_poller_lock_held{${p}}`), 1);
    assert.equal(
      sample(`dirstream_poller_requested_runs_total{${p},reason="operator"}`),
      3,
      'three requested runs; the coalesced request is not a run',
    );
    assert.equal(sample(`dirstream_poller_sync_request_delay_seconds_count{${p}}`), 3);
    assert.equal(sample(`dirstream_poller_events_produced_total{${p},entity="user"}`), 15, 'ten users created at boot, five later');
    assert.ok(sample(`dirstream_poller_entries_read_total{${p}}`) >= 15);
    assert.ok(sample(`dirstream_poller_last_success_timestamp_seconds{${p}}`) > Date.now() / 1000 - 60);
    assert.ok(sample(`dirstream_poller_delta_cursor_age_seconds{${p}}`) < 60);
    assert.equal(sample(`dirstream_poller_run_duration_seconds_count{${p},mode="full",status="succeeded"}`), 2);
    assert.equal(sample(`dirstream_poller_phase_duration_seconds_count{${p},phase="users"}`), 4);
    assert.match(body, /dirstream_poller_profile_info\{profile_id="[^"]+",profile="sync-now",directory="openldap",delta="auto"\} 1/);

    // `--once` while the scheduled poller is active: the pass is handed over, not waited for.
    let onceRan = false;
    const handed = await runPoller(
      { config, logger: createSilentLogger(), signal: new AbortController().signal },
      { once: true, profileId: t.profileId },
      {
        lockWaitMs: 1_000,
        lockRetryMs: 100,
        handOverPollMs: 100,
        onRun: () => {
          onceRan = true;
        },
      },
    );
    assert.equal(handed.ok, true, handed.reason);
    assert.equal(onceRan, false, 'the active poller ran the pass');
    assert.equal(runs.length, 5);

    scheduler.abort();
    assert.deepEqual(await poller, { ok: true });
    assert.equal((await control.lockHolders()).has(t.profileId), false, 'the holder record is cleared on release');

    // Nobody polls the profile: the request waits; the next `--once` takes it (and its run ID).
    const orphan = await control.requestSync({ profileId: t.profileId, reason: 'operator' });
    await sleep(1_200);
    assert.equal((await control.runState(orphan.runId))?.phase, 'pending');
    assert.equal((await control.profileStates()).find((p) => p.profileId === t.profileId)?.pendingRun?.runId, orphan.runId);
    const once = await t.run();
    assert.equal(once.ok, true, once.reason);
    assert.equal(once.result?.runId, orphan.runId);
    assert.equal((await control.runState(orphan.runId))?.status, 'succeeded');
  } finally {
    scheduler.abort();
    await control.close();
    await t.cleanup();
  }
});

it('a lock holder record left by a process that died is recognised as stale', async () => {
  const t = await setupPollerTest('stale-holder');
  const config = await t.config();
  const control = await createSyncControl(config.database);
  const db = await openPollerDatabase(config.database);
  try {
    const session = await db.session();
    assert.equal(await tryLockProfile(session, t.profileId), true);
    await markActive(session, db.schema, t.profileId, { host: 'gone-host', pid: 4242, mode: 'scheduled' });
    assert.deepEqual(
      { ...(await control.lockHolders()).get(t.profileId), since: undefined },
      { host: 'gone-host', pid: 4242, mode: 'scheduled', since: undefined },
    );
    // The process dies without clearing its record: its connection, and so its lock, go away.
    const [backend] = await session.query<{ pid: number }>('select pg_backend_pid() as pid');
    await db.query('select pg_terminate_backend($1)', [backend?.pid]);
    await session.release().catch(() => undefined);
    await until('the lock to be gone', async () => !(await control.lockHolders()).has(t.profileId));
    const rows = await db.query<{ holder_host: string | null }>(
      `select holder_host from ${db.schema}.profile_activity where profile_id = $1`,
      [t.profileId],
    );
    assert.equal(rows[0]?.holder_host, 'gone-host', 'the record is still there, only recognised as stale');
    assert.equal((await control.profileStates()).find((p) => p.profileId === t.profileId)?.holder, null);
  } finally {
    await db.close();
    await control.close();
    await t.cleanup();
  }
});

it('a lost LISTEN connection delays a request by the fallback period at most, then reconnects', async () => {
  const t = await setupPollerTest('sync-listen');
  const config = await t.config({ schedule: { intervalSeconds: 3_600 } });
  const control = await createSyncControl(config.database);
  const scheduler = new AbortController();
  const runs: SyncResult[] = [];
  const listeners = async () => {
    const db = await openPollerDatabase(config.database);
    try {
      return await db.query<{ pid: number }>(
        "select pid from pg_stat_activity where datname = current_database() and query ilike 'listen %dirstream_sync_requests%'",
      );
    } finally {
      await db.close();
    }
  };
  try {
    await t.ldap.addUser('listen0');
    const poller = runPoller(
      { config, logger: createSilentLogger(), signal: scheduler.signal },
      { once: false, profileId: t.profileId },
      { lockRetryMs: 100, requestFallbackMs: 2_000, onRun: (r) => runs.push(r) },
    );
    await until('the sync on boot', async () => runs.length === 1);
    const [listener] = await until('the LISTEN connection', async () => {
      const found = await listeners();
      return found.length > 0 ? found : null;
    });
    const db = await openPollerDatabase(config.database);
    await db.query('select pg_terminate_backend($1)', [listener?.pid]);
    await db.close();
    const lost = await control.requestSync({ profileId: t.profileId, reason: 'operator' });
    const first = await control.waitForRun(lost.runId, { timeoutMs: 20_000 });
    const lostDelay = (first.startedAt?.getTime() ?? Number.NaN) - first.requestedAt.getTime();
    console.log(`sync-now start delay with the LISTEN connection lost: ${lostDelay} ms`);
    assert.ok(lostDelay < 5_000, `${lostDelay} ms`);
    await until('the LISTEN connection again', async () => {
      const found = await listeners();
      return found.some((l) => l.pid !== listener?.pid);
    });
    const again = await control.requestSync({ profileId: t.profileId, reason: 'operator' });
    const second = await control.waitForRun(again.runId, { timeoutMs: 20_000 });
    const delay = (second.startedAt?.getTime() ?? Number.NaN) - second.requestedAt.getTime();
    console.log(`sync-now start delay after the reconnect: ${delay} ms`);
    assert.ok(delay < 1_500, `${delay} ms`);
    scheduler.abort();
    await poller;
  } finally {
    scheduler.abort();
    await control.close();
    await t.cleanup();
  }
});
