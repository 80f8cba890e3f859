import type { DatabaseConfig } from '@dirstream/config';
import { backoffMs, sleep, toError } from '@dirstream/errors';
import pg from 'pg';

/**
 * LISTEN on one channel over a dedicated connection (a pooled one would drop the subscription),
 * reconnecting with backoff for as long as it is open. `onListening(true)` once the LISTEN is in
 * place, `onListening(false)` when the connection is lost: what was sent meanwhile is missed, so
 * users re-read their source after every change of state.
 */
export type Listener = {
  readonly listening: boolean;
  close(): Promise<void>;
};

export type ListenHandlers = {
  onNotification(payload: string): void;
  onListening?(listening: boolean): void;
  /** A failed or lost connection (it is retried). */
  onError?(err: Error, phase: 'connect' | 'connection'): void;
};

const quoteChannel = (name: string) => `"${name.replaceAll('"', '""')}"`;

export function listen(config: DatabaseConfig, channel: string, handlers: ListenHandlers): Listener {
  let listening = false;
  let client: pg.Client | null = null;
  let closed = false;
  const stop = new AbortController();

  const setListening = (value: boolean) => {
    if (listening === value) return;
    listening = value;
    handlers.onListening?.(value);
  };

  async function connectLoop(): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      const current = new pg.Client({
        connectionString: config.url,
        ...(config.password === undefined ? {} : { password: config.password }),
      });
      const ended = new Promise<void>((resolve) => {
        current.once('end', () => resolve());
        current.on('error', (err) => {
          handlers.onError?.(err, 'connection');
          resolve();
        });
      });
      try {
        await current.connect();
        current.on('notification', (message) => {
          if (message.channel === channel && message.payload !== undefined) handlers.onNotification(message.payload);
        });
        await current.query(`listen ${quoteChannel(channel)}`);
        client = current;
        attempt = 0;
        setListening(true);
        await ended;
      } catch (cause) {
        if (!closed) handlers.onError?.(toError(cause), 'connect');
      }
      client = null;
      setListening(false);
      await current.end().catch(() => undefined);
      if (closed) return;
      await sleep(backoffMs(attempt, 1_000, 10_000), stop.signal);
    }
  }
  const loop = connectLoop();

  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      stop.abort();
      await client?.end().catch(() => undefined);
      await loop;
    },
  };
}
