import { retry, sleep } from '@dirstream/errors';
import type { UserLifecycleEvent } from '@dirstream/events';
import { sendAcknowledged, type TrackedProducer } from '@dirstream/kafka';
import type { Logger } from '@dirstream/logging';
import type { Database } from './database.ts';
import type { ApplierMetrics } from './metrics.ts';

export type OutboxRelayDeps = {
  readonly db: Database;
  readonly producer: TrackedProducer;
  readonly encode: (event: UserLifecycleEvent) => Buffer;
  readonly topic: string;
  readonly logger: Logger;
  readonly metrics: ApplierMetrics;
  readonly batchSize?: number;
  readonly idleMs?: number;
};

export type OutboxRelay = {
  /** Wakes the relay now (after a batch wrote outbox rows). */
  kick(): void;
  /** Publishes until nothing is pending (used before --until-caught-up exits). */
  drain(): Promise<void>;
  stop(): Promise<void>;
};

type PendingRow = {
  id: string;
  event_id: string;
  record_key: string;
  payload: UserLifecycleEvent;
  /** `traceparent` / `tracestate` of the transaction that wrote the row (null: tracing was off). */
  trace_context: Record<string, string> | null;
};

/**
 * Publishes one round of pending outbox rows; returns how many.
 *
 * Several relays run at once: each takes rows with `FOR UPDATE SKIP LOCKED` inside a transaction,
 * produces them, marks them published and commits, so no row is taken twice. Only the oldest
 * pending row of each user is eligible, so a user's events leave in order even when two relays
 * work side by side. A crash between produce and commit re-sends a row with the same event ID
 * (consumers deduplicate on it); a duplicate input event never creates a second row.
 */
export async function relayOnce(deps: OutboxRelayDeps): Promise<number> {
  return deps.db.transaction(async (sql) => {
    const rows = await sql.query<PendingRow>(
      `select o.id, o.event_id, o.record_key, o.payload, o.trace_context from outbox o
       where o.published_at is null
         and not exists (select 1 from outbox p
                         where p.record_key = o.record_key and p.published_at is null and p.id < o.id)
       order by o.id
       limit $1
       for update skip locked`,
      [deps.batchSize ?? 500],
    );
    if (rows.length === 0) return 0;
    // Every partition acknowledged, or no row is marked published (see sendAcknowledged).
    await sendAcknowledged(deps.producer, {
      topic: deps.topic,
      acks: -1,
      messages: rows.map((row) => ({
        key: row.record_key,
        value: deps.encode(row.payload),
        headers: { ...row.trace_context, 'dirstream-event-id': row.event_id },
      })),
    });
    await sql.query('update outbox set published_at = now() where id in (select jsonb_array_elements_text($1::jsonb)::bigint)', [
      JSON.stringify(rows.map((r) => r.id)),
    ]);
    deps.metrics.outboxPublished.inc(rows.length);
    return rows.length;
  });
}

export async function outboxBacklog(db: Database): Promise<number> {
  const rows = await db.query<{ n: string }>('select count(*) as n from outbox where published_at is null');
  return Number(rows[0]?.n ?? 0);
}

export function startOutboxRelay(deps: OutboxRelayDeps): OutboxRelay {
  const stopper = new AbortController();
  let wake: AbortController = new AbortController();

  async function round(): Promise<number> {
    const published = await relayOnce(deps);
    deps.metrics.outboxBacklog.set(await outboxBacklog(deps.db));
    return published;
  }

  // Any failure here is an outage (broker or database away): retried until stop, never dropped.
  const patiently = <T>(fn: () => Promise<T>, what: string) =>
    retry(fn, {
      signal: stopper.signal,
      shouldRetry: () => true,
      onRetry: (err, attempt) => deps.logger.warn({ err, attempt }, `${what} failed; retrying`),
    });

  const loop = (async () => {
    while (!stopper.signal.aborted) {
      const published = await patiently(round, 'outbox relay').catch(() => 0); // rejects only on stop
      if (published > 0) continue;
      await sleep(deps.idleMs ?? 500, AbortSignal.any([stopper.signal, wake.signal]));
      wake = new AbortController();
    }
  })();

  return {
    kick() {
      wake.abort();
    },
    async drain() {
      for (;;) {
        const left = await patiently(
          async () => ((await round()) > 0 ? 'more' : (await outboxBacklog(deps.db)) === 0 ? 'none' : 'held'),
          'outbox drain',
        );
        if (left === 'none') return;
        // Rows held by another relay: wait for it to publish them.
        if (left === 'held') await sleep(200, stopper.signal);
      }
    },
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}
