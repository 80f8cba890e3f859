import type { UserLifecycleEvent } from '@dirstream/events';
import { sendAcknowledged, type TrackedProducer } from '@dirstream/kafka';
import type { Logger } from '@dirstream/logging';
import { backoffMs, sleep } from './classify.ts';
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

type PendingRow = { id: string; event_id: string; record_key: string; payload: UserLifecycleEvent };

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
      `select o.id, o.event_id, o.record_key, o.payload from outbox o
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
        headers: { 'dirstream-event-id': row.event_id },
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
  let failures = 0;

  async function round(): Promise<number> {
    const published = await relayOnce(deps);
    deps.metrics.outboxBacklog.set(await outboxBacklog(deps.db));
    return published;
  }

  const loop = (async () => {
    while (!stopper.signal.aborted) {
      try {
        const published = await round();
        failures = 0;
        if (published > 0) continue;
        await sleep(deps.idleMs ?? 500, AbortSignal.any([stopper.signal, wake.signal]));
        wake = new AbortController();
      } catch (err) {
        failures++;
        deps.logger.warn({ err, attempt: failures }, 'outbox relay failed; retrying');
        await sleep(backoffMs(failures), stopper.signal);
      }
    }
  })();

  return {
    kick() {
      wake.abort();
    },
    async drain() {
      for (let attempt = 0; ; attempt++) {
        try {
          if ((await round()) > 0) continue;
          if ((await outboxBacklog(deps.db)) === 0) return;
          // Rows held by another relay: wait for it to publish them.
          await sleep(200, stopper.signal);
        } catch (err) {
          if (stopper.signal.aborted) throw err;
          deps.logger.warn({ err }, 'outbox drain failed; retrying');
          await sleep(backoffMs(attempt), stopper.signal);
        }
      }
    },
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}
