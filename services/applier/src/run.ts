import type { DirstreamConfig } from '@dirstream/config';
import { errorCode, toError } from '@dirstream/errors';
import { createCodec } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import type { Tracing } from '@dirstream/tracing';
import { startMetricsServer } from '@dirstream/metrics';
import { createApplierMetrics } from './metrics.ts';
import { startOutboxRelay } from './outbox.ts';
import { createConsumer, createEachBatch } from './run/consume.ts';
import { createApplierContext } from './run/context.ts';
import { createDeadLetter } from './run/dead-letter.ts';
import { measureLag } from './run/lag.ts';
import { startUp } from './run/start-up.ts';

export { measureLag, type PartitionLag, readLag } from './run/lag.ts';
export { syncConfiguration } from './run/start-up.ts';

export type RunApplierDeps = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** A span per applied transaction, parented by the records' `traceparent`; off when absent. */
  readonly tracing?: Tracing;
};

export type RunApplierOptions = {
  /** Consume from the beginning into an empty database under a new group; announce nothing. */
  readonly replay?: boolean;
  /** Return ok once the group's lag is zero on every partition (and the outbox is drained). */
  readonly untilCaughtUp?: boolean;
  readonly groupId?: string;
};

export type RunApplierResult = { readonly ok: boolean; readonly reason?: string };

const LAG_INTERVAL_MS = 2_000;
const CAUGHT_UP_INTERVAL_MS = 750;

/**
 * Consumes the entity topics into PostgreSQL until the signal aborts (or, with untilCaughtUp,
 * until the group has no lag): start-up (run/start-up.ts), then the consumer (run/consume.ts,
 * with run/retry.ts and run/dead-letter.ts) beside the outbox relay (outbox.ts). Each partition
 * batch is applied in one transaction and its offset committed only after that transaction commits.
 */
export async function runApplier(deps: RunApplierDeps, options: RunApplierOptions = {}): Promise<RunApplierResult> {
  const { config, signal } = deps;
  const groupId = options.groupId ?? (options.replay ? `${config.applier.groupId}.replay.${Date.now()}` : config.applier.groupId);
  const log = deps.logger.child({ component: 'applier', groupId });
  const stopping = new AbortController();
  const onAbort = () => stopping.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const ctx = createApplierContext({
    config,
    logger: log,
    metrics: createApplierMetrics(),
    codec: createCodec(),
    groupId,
    stopping: stopping.signal,
    announce: options.replay !== true,
    tracing: deps.tracing,
  });

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn({ err: toError(err) }, 'applier shutdown step failed');
      }
    }
  };

  try {
    if (signal.aborted) return { ok: true, reason: 'stopped before start' };
    const started = await startUp(ctx, { replay: options.replay === true }, cleanups);
    if (typeof started === 'string') return { ok: false, reason: started };
    const { db, kafka, admin, producer } = started;

    const server = await startMetricsServer({
      registry: ctx.metrics.registry,
      host: config.applier.metricsHost,
      port: config.applier.metricsPort,
      readiness: () => ctx.health.joined && ctx.health.databaseHealthy,
    });
    cleanups.push(() => server.close());
    log.info({ metricsHost: server.host, metricsPort: server.port, replay: options.replay === true }, 'applier starting');

    const relay = startOutboxRelay({
      db,
      producer,
      encode: (event) => ctx.codec.encode('user-lifecycle', event),
      topic: ctx.topics.userLifecycle,
      logger: log.child({ component: 'outbox-relay' }),
      metrics: ctx.metrics,
    });
    cleanups.push(() => relay.stop());

    const consumer = createConsumer(ctx, kafka);
    let finish: (result: RunApplierResult) => void = () => undefined;
    const finished = new Promise<RunApplierResult>((resolve) => {
      finish = resolve;
    });
    stopping.signal.addEventListener('abort', () => finish({ ok: true }), { once: true });
    consumer.on(consumer.events.CRASH, (e) => {
      const restart = e.payload.restart;
      log.error({ err: e.payload.error, restart }, 'consumer crashed');
      if (!restart) finish({ ok: false, reason: `consumer crashed: ${e.payload.error.message}` });
    });

    const inputTopics = [...ctx.recordTypes.keys()];
    await consumer.connect();
    cleanups.push(async () => {
      // Waits for the batch in flight (it commits), then leaves the group.
      await consumer.disconnect();
    });
    await consumer.subscribe({ topics: inputTopics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(3, config.database.poolSize - 2)),
      eachBatch: createEachBatch(ctx, { db, relay, deadLetter: createDeadLetter(ctx, producer) }),
    });

    const lagTimer = setInterval(
      () => {
        void measureLag(admin, groupId, inputTopics, ctx.metrics).then(
          (lag) => {
            if (options.untilCaughtUp === true && lag === 0) stopping.abort();
          },
          (err: unknown) => log.warn({ err: toError(err) }, 'lag measurement failed'),
        );
      },
      options.untilCaughtUp === true ? CAUGHT_UP_INTERVAL_MS : LAG_INTERVAL_MS,
    );
    cleanups.push(async () => clearInterval(lagTimer));

    const result = await finished;
    clearInterval(lagTimer);
    if (options.untilCaughtUp === true && !signal.aborted && result.ok) {
      await consumer.disconnect();
      await relay.drain();
    }
    log.info({ ok: result.ok, reason: result.reason }, 'applier stopping');
    return result;
  } catch (caught) {
    const err = toError(caught);
    log.error({ err }, 'applier failed');
    return { ok: false, reason: `${errorCode(err) ?? 'APPLIER_FAILED'}: ${err.message}` };
  } finally {
    signal.removeEventListener('abort', onAbort);
    await cleanup();
  }
}
