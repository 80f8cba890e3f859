/**
 * The one way to wait and to retry. Whether a failure is worth another try is read from its
 * `retriable` flag / code (`isRetriable`, `classifyFailure`), never from its message. Every wait
 * ends early when the caller's signal aborts: a stopping service never sits out a backoff.
 * Written here rather than taken from p-retry or cockatiel: it is this page, and the applier must
 * heartbeat its Kafka group through a long wait, which neither library's own wait does.
 */
import { isRetriable } from './classify.ts';
import { toError } from './error.ts';

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The wait before retry number `attempt` (0 for the first retry): exponential from `baseMs`,
 * capped at `maxMs`, drawn from the upper half so replicas that failed together spread out.
 */
export function backoffMs(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 16));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export type RetryOptions = {
  /** Ends the current wait and stops retrying: the last failure is thrown. */
  readonly signal?: AbortSignal;
  /** Tries in all, the first included. Default: no limit, as long as `shouldRetry` agrees. */
  readonly attempts?: number;
  /** Backoff (see `backoffMs`): first wait and cap. Default 200 ms and 10 s; `baseMs: 0` retries at once. */
  readonly baseMs?: number;
  readonly maxMs?: number;
  /** Whether another try may succeed after this failure (try `attempt`, from 1). Default `isRetriable` (classifyFailure). */
  readonly shouldRetry?: (err: Error, attempt: number) => boolean;
  /** Called before each wait: log it, count it. */
  readonly onRetry?: (err: Error, attempt: number, waitMs: number) => void;
  /** Called at least every `everyMs` while waiting (e.g. a consumer heartbeat through a long outage). */
  readonly whileWaiting?: { readonly everyMs: number; readonly call: () => Promise<void> };
};

/**
 * Runs `fn` until it succeeds, with backoff between tries; throws the last failure when
 * `shouldRetry` says no, the attempts are used up, or the signal aborts.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { signal, attempts = Number.POSITIVE_INFINITY, baseMs = 200, maxMs = 10_000, shouldRetry = isRetriable } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (caught) {
      const err = toError(caught);
      if (signal?.aborted || attempt >= attempts || !shouldRetry(err, attempt)) throw err;
      const waitMs = baseMs > 0 ? backoffMs(attempt - 1, baseMs, maxMs) : 0;
      options.onRetry?.(err, attempt, waitMs);
      await wait(waitMs, signal, options.whileWaiting);
      if (signal?.aborted) throw err;
    }
  }
}

async function wait(ms: number, signal: AbortSignal | undefined, during: RetryOptions['whileWaiting']): Promise<void> {
  if (during === undefined) return sleep(ms, signal);
  const until = Date.now() + ms;
  while (Date.now() < until && !signal?.aborted) {
    await sleep(Math.min(during.everyMs, until - Date.now()), signal);
    await during.call();
  }
}
