import type { DatabaseConfig } from '@dirstream/config';
import { listen } from '@dirstream/db';
import type { Logger } from '@dirstream/logging';
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

  const notify = (profileId: string | null) => {
    const targets = profileId === null ? [...subscribers.values()].flatMap((s) => [...s]) : [...(subscribers.get(profileId) ?? [])];
    for (const sub of targets) {
      sub.pending = true;
      sub.wake?.();
    }
  };

  // Every change of state wakes every profile: after a (re)connect a notification may have been
  // missed, and after a loss what was waiting long now looks at the table on the fallback period.
  const listener = listen(config, SYNC_REQUEST_CHANNEL, {
    onNotification: (payload) => {
      if (payload) notify(payload);
    },
    onListening: () => notify(null),
    onError: (err, phase) =>
      logger.warn(
        { err },
        phase === 'connect' ? 'sync request listener could not connect; retrying' : 'sync request listener connection failed',
      ),
  });
  const stopOnAbort = () => void listener.close();
  options.signal.addEventListener('abort', stopOnAbort, { once: true });

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
          const limit = listener.listening ? ms : Math.min(ms, fallbackMs);
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
      options.signal.removeEventListener('abort', stopOnAbort);
      await listener.close();
    },
  };
}
