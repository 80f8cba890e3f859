import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, createError, retry, sleep } from '../src/index.ts';

const outage = () => createError('DB_CONNECT_FAILED', 'down', { retriable: true });
const refusal = () => createError('LDAP_BIND_FAILED', 'wrong password', { retriable: false });

describe('retry', () => {
  it('tries again after a retriable failure, with the waits it reports', async () => {
    const seen: [number, number][] = [];
    let calls = 0;
    const result = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw outage();
        return 'done';
      },
      {
        baseMs: 4,
        maxMs: 8,
        onRetry: (err, attempt, waitMs) => {
          assert.equal((err as { code?: string }).code, 'DB_CONNECT_FAILED');
          seen.push([attempt, waitMs]);
        },
      },
    );
    assert.equal(result, 'done');
    assert.equal(calls, 3);
    assert.deepEqual(
      seen.map(([attempt]) => attempt),
      [1, 2],
    );
    // First wait in [2, 4], second in [4, 8] (upper half of 4, then of 8).
    assert.ok((seen[0]?.[1] ?? -1) >= 2 && (seen[0]?.[1] ?? 99) <= 4, `first wait ${seen[0]?.[1]}`);
    assert.ok((seen[1]?.[1] ?? -1) >= 4 && (seen[1]?.[1] ?? 99) <= 8, `second wait ${seen[1]?.[1]}`);
  });

  it('throws a failure that is not retriable at once', async () => {
    let calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw refusal();
      }),
      { code: 'LDAP_BIND_FAILED' },
    );
    assert.equal(calls, 1);
  });

  it('reads the flag through the cause chain, not the message', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw new Error('temporarily unavailable, retry', { cause: refusal() });
        },
        { baseMs: 0 },
      ),
    );
    assert.equal(calls, 1);
  });

  it('stops after `attempts` tries and throws the last failure', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw createError('KAFKA_PRODUCE_FAILED', `try ${calls}`, { retriable: true });
        },
        { attempts: 4, baseMs: 0 },
      ),
      { message: 'try 4' },
    );
    assert.equal(calls, 4);
  });

  it('asks shouldRetry with the attempt number', async () => {
    const asked: number[] = [];
    await assert.rejects(
      retry(
        async () => {
          throw new Error('plain');
        },
        {
          baseMs: 0,
          shouldRetry: (_err, attempt) => {
            asked.push(attempt);
            return attempt < 3;
          },
        },
      ),
    );
    assert.deepEqual(asked, [1, 2, 3]);
  });

  it('an abort ends a long wait at once and throws the last failure', async () => {
    const stop = new AbortController();
    const started = performance.now();
    setTimeout(() => stop.abort(), 30);
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw outage();
        },
        { signal: stop.signal, baseMs: 60_000, maxMs: 60_000 },
      ),
      { code: 'DB_CONNECT_FAILED' },
    );
    assert.equal(calls, 1);
    assert.ok(performance.now() - started < 5_000);
  });

  it('does not start when the signal is already aborted after a failure', async () => {
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw outage();
        },
        { signal: AbortSignal.abort() },
      ),
    );
    assert.equal(calls, 1);
  });

  it('calls whileWaiting through a long wait', async () => {
    let beats = 0;
    let calls = 0;
    await retry(
      async () => {
        if (++calls === 1) throw outage();
      },
      { baseMs: 80, maxMs: 80, whileWaiting: { everyMs: 10, call: async () => void beats++ } },
    );
    assert.ok(beats >= 3, `${beats} calls while waiting 40-80 ms in 10 ms slices`);
  });
});

describe('sleep and backoffMs', () => {
  it('sleep resolves early when the signal aborts', async () => {
    const stop = new AbortController();
    const started = performance.now();
    setTimeout(() => stop.abort(), 10);
    await sleep(60_000, stop.signal);
    assert.ok(performance.now() - started < 5_000);
  });

  it('backoffMs doubles from the base, capped, in the upper half', () => {
    const cases: [number, number, number, number, number][] = [
      // attempt, base, max, low, high
      [0, 200, 10_000, 100, 200],
      [1, 200, 10_000, 200, 400],
      [3, 200, 10_000, 800, 1_600],
      [10, 200, 10_000, 5_000, 10_000],
      [100, 500, 5_000, 2_500, 5_000],
    ];
    for (const [attempt, base, max, low, high] of cases) {
      for (let i = 0; i < 50; i++) {
        const ms = backoffMs(attempt, base, max);
        assert.ok(ms >= low && ms <= high, `backoffMs(${attempt}, ${base}, ${max}) = ${ms}`);
      }
    }
  });
});
