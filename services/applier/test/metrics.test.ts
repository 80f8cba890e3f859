import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { runApplier } from '@dirstream/applier';
import { freePort, until } from '@dirstream/testing';
import { userEvent } from './fixtures.ts';
import { createHarness, type Harness, testLogger } from './harness.ts';

let h: Harness;
before(async () => {
  h = await createHarness('applier-metrics', { seatLimit: 2 });
});
after(async () => {
  await h.close();
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

it('serves /healthz, /readyz and /metrics (lag, applied, batch sizes, outbox, seats)', { timeout: 120_000 }, async () => {
  await h.produceUsers(['m1', 'm2', 'm3'].map((u) => userEvent(u, 1)));
  const port = await freePort();
  const config = { ...h.config, applier: { ...h.config.applier, metricsPort: port } };
  const controller = new AbortController();
  const running = runApplier({ config, logger: testLogger(), signal: controller.signal }, {});
  try {
    await until('readyz', async () => (await get(port, '/readyz')).status === 200);
    assert.equal((await get(port, '/healthz')).status, 200);
    await until('metrics', async () => {
      const { body } = await get(port, '/metrics');
      return (
        /dirstream_applier_events_applied_total\{topic="[^"]+\.users"\} 3/.test(body) &&
        /dirstream_applier_seat_limit_exceeded 1/.test(body) &&
        /dirstream_applier_consumer_lag\{[^}]*\} 0/.test(body)
      );
    });
    const { body } = await get(port, '/metrics');
    assert.match(body, /dirstream_applier_batch_size_bucket/);
    assert.match(body, /dirstream_applier_outbox_backlog 0/);
    assert.match(body, /dirstream_applier_dead_letters_total/);
    assert.match(body, /dirstream_applier_seats_used 3/);
  } finally {
    controller.abort();
  }
  assert.deepEqual(await running, { ok: true });
});
