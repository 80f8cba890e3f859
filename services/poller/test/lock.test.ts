/** Two pollers on one profile: one is active and emits, the other stands by and emits nothing new. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createSilentLogger } from '@dirstream/logging';
import { runPoller } from '../src/run/poller.ts';
import type { SyncResult } from '../src/run/sync-run.ts';
import { setupPollerTest } from './poller-support.ts';

it('two pollers on one profile: only one emits', async () => {
  const t = await setupPollerTest('lock');
  try {
    for (let i = 0; i < 40; i++) await t.ldap.addUser(`lock${String(i).padStart(2, '0')}`);
    const config = await t.config({ connection: { pageSize: 10 } });
    const runs: SyncResult[] = [];
    const start = () =>
      runPoller(
        { config, logger: createSilentLogger(), signal: new AbortController().signal },
        { once: true, profileId: t.profileId },
        { lockWaitMs: 60_000, lockRetryMs: 100, onRun: (r) => runs.push(r) },
      );
    const [a, b] = await Promise.all([start(), start()]);
    assert.equal(a.ok, true, a.reason);
    assert.equal(b.ok, true, b.reason);
    assert.equal(runs.length, 2, 'both ran, one after the other');
    const [first, second] = runs as [SyncResult, SyncResult];
    assert.equal(first.summary.counts.created, 40);
    assert.equal(second.summary.counts.created, 0, 'the standby ran after the active one and found nothing to emit');
    assert.ok(second.summary.startedAt >= first.summary.finishedAt, 'runs did not overlap');

    // Continuous mode: two scheduled pollers; only the lock holder runs until it stops.
    const controllerA = new AbortController();
    const controllerB = new AbortController();
    const seen: string[] = [];
    const forever = (controller: AbortController, name: string) =>
      runPoller(
        { config, logger: createSilentLogger(), signal: controller.signal },
        { once: false, profileId: t.profileId },
        { lockRetryMs: 100, onRun: () => seen.push(name) },
      );
    const pa = forever(controllerA, 'a');
    await new Promise((r) => setTimeout(r, 300));
    const pb = forever(controllerB, 'b');
    await new Promise((r) => setTimeout(r, 2_500));
    assert.ok(seen.includes('a'));
    assert.ok(!seen.includes('b'), 'the standby never ran while the active poller held the lock');
    controllerA.abort();
    await pa;
    // The standby takes over once the active one released its lock.
    const deadline = Date.now() + 10_000;
    while (!seen.includes('b') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(seen.includes('b'), 'the standby took over');
    controllerB.abort();
    await pb;
  } finally {
    await t.cleanup();
  }
});
