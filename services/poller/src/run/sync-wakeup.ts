import type { DatabaseConfig } from '@dirstream/config';
import { backoffMs, sleep, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import pg from 'pg';
import { SYNC_REQUEST_CHANNEL } from '../state/sync-requests.ts';

/**
 * The active poller's ear for "sync now": one LISTEN connection per poller process (not per
 * profile), dedicated because a pooled connection would drop the subscription. A notification
 * wakes the profile it names. While the connection is down, the wait falls back to
 * `fallbackMs` so requests in the table are still found; after a reconnect every profile is woken
 * once (a notification may have been missed).
 */
export type Wakeup = {
  /** Resolves after `ms`, on a notification for this profile (also one that came since the last wait), or on abort. */
  wait(ms: number, signal: AbortSignal): Promise<'timer' | 'request' | 'aborted'>;
  close(): void;
};

export type SyncWakeups = {
  subscribe(profileId: string): Wakeup;
  close(): Promise<void>;
};

type Subscriber = { pending: boolean; wake: (() => void) | null };

export function startSyncWakeups(
  config: DatabaseConfig,
  logger: Logger,
  options: { readonly fallbackMs?: number; readonly signal: AbortSignal },
): SyncWakeups {
  const fallbackMs = options.fallbackMs ?? 5_000;
  const subscribers = new Map<string, Set<Subscriber>>();
  let listening = false;
  let client: pg.Client | null = null;
  let closed = false;
  const stop = new AbortController();

  const notify = (profileId: string | null) => {
    const targets = profileId === null ? [...subscribers.values()].flatMap((s) => [...s]) : [...(subscribers.get(profileId) ?? [])];
    for (const sub of targets) {
      sub.pending = true;
      sub.wake?.();
    }
  };

  async function connectLoop(): Promise<void> {
    for (let attempt = 0; !closed && !options.signal.aborted; attempt++) {
      const current = new pg.Client({
        connectionString: config.url,
        ...(config.password === undefined ? {} : { password: config.password }),
      });
      const ended = new Promise<void>((resolve) => {
        current.once('end', () => resolve());
        current.on('error', (err) => {
          logger.warn({ err }, 'sync request listener connection failed');
          resolve();
        });
      });
      try {
        await current.connect();
        current.on('notification', (message) => {
          if (message.channel === SYNC_REQUEST_CHANNEL && message.payload) notify(message.payload);
        });
        await current.query(`listen ${SYNC_REQUEST_CHANNEL}`);
        client = current;
        listening = true;
        attempt = 0;
        notify(null);
        await ended;
      } catch (cause) {
        logger.warn({ err: toError(cause) }, 'sync request listener could not connect; retrying');
      }
      if (listening) notify(null); // what was waiting long now looks at the table on the fallback period
      listening = false;
      client = null;
      await current.end().catch(() => undefined);
      if (closed) return;
      await sleep(backoffMs(attempt, 1_000, 10_000), stop.signal);
    }
  }
  const loop = connectLoop();

  return {
    subscribe(profileId) {
      const sub: Subscriber = { pending: false, wake: null };
      let set = subscribers.get(profileId);
      if (!set) {
        set = new Set();
        subscribers.set(profileId, set);
      }
      set.add(sub);
      return {
        async wait(ms, signal) {
          if (sub.pending) {
            sub.pending = false;
            return 'request';
          }
          if (signal.aborted) return 'aborted';
          const limit = listening ? ms : Math.min(ms, fallbackMs);
          return new Promise((resolve) => {
            const done = (why: 'timer' | 'request' | 'aborted') => {
              clearTimeout(timer);
              signal.removeEventListener('abort', onAbort);
              sub.wake = null;
              if (why === 'request') sub.pending = false;
              resolve(why);
            };
            const onAbort = () => done('aborted');
            const timer = setTimeout(() => done('timer'), Math.max(0, limit));
            signal.addEventListener('abort', onAbort, { once: true });
            sub.wake = () => done('request');
          });
        },
        close() {
          set.delete(sub);
          sub.wake?.();
        },
      };
    },
    async close() {
      closed = true;
      stop.abort();
      await client?.end().catch(() => undefined);
      await loop;
    },
  };
}
