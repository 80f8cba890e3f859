import { outboxBacklog, type PartitionLag, readLag } from '@dirstream/applier';
import { toError } from '@dirstream/errors';
import { topicNames } from '@dirstream/events';
import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.ts';
import { type KafkaAccess, kafkaUnavailable } from './kafka.ts';

export type Lag = {
  readonly groupId: string;
  readonly total: number;
  readonly partitions: readonly PartitionLag[];
  readonly outboxBacklog: number;
  readonly measuredAt: string;
};

/** The applier's consumer group lag on its input topics, and the outbox rows not yet published. */
export async function measureConsoleLag(ctx: ServeContext, kafka: KafkaAccess, signal?: AbortSignal): Promise<Lag> {
  const topics = topicNames(ctx.config.kafka.topicPrefix);
  // The applier's input topics (what runApplier subscribes to).
  const inputs = [topics.users, topics.groups, topics.memberships, topics.syncRuns, topics.runDetails];
  const groupId = ctx.config.applier.groupId;
  const lag = async () => {
    try {
      return await readLag(await kafka.admin(), groupId, inputs, signal);
    } catch (cause) {
      throw kafkaUnavailable(cause, inputs.join(', '));
    }
  };
  const [partitions, backlog] = await Promise.all([lag(), outboxBacklog(ctx.db)]);
  return {
    groupId,
    total: partitions.reduce((n, p) => n + p.lag, 0),
    partitions,
    outboxBacklog: backlog,
    measuredAt: new Date().toISOString(),
  };
}

export type LagSample = { readonly at: number; readonly lag: number; readonly outbox: number };

/**
 * Lag is a gauge, not stored anywhere: while `dirstream serve` runs it samples the lag every
 * `intervalMs` into a ring of the last `keep` samples, so the page can chart the last hours.
 * `stop` ends the retries of a sample in flight and waits for it, so the Kafka client can close
 * after it (a sample retrying on a closed admin would connect it again and keep the process alive).
 */
export function startLagSampler(
  ctx: ServeContext,
  kafka: KafkaAccess,
  intervalMs = 60_000,
  keep = 6 * 60,
): { samples(): LagSample[]; stop(): Promise<void> } {
  const ring: LagSample[] = [];
  const stopped = new AbortController();
  let inFlight: Promise<void> | undefined;
  const sample = () => {
    if (inFlight !== undefined || stopped.signal.aborted) return;
    inFlight = measureConsoleLag(ctx, kafka, stopped.signal).then(
      (lag) => {
        ring.push({ at: Date.now(), lag: lag.total, outbox: lag.outboxBacklog });
        if (ring.length > keep) ring.splice(0, ring.length - keep);
      },
      (cause: unknown) => ctx.logger.debug({ err: toError(cause) }, 'console lag sample failed'),
    );
    void inFlight.finally(() => {
      inFlight = undefined;
    });
  };
  const first = setTimeout(sample, 1_000);
  const timer = setInterval(sample, intervalMs);
  first.unref();
  timer.unref();
  return {
    samples: () => [...ring],
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      stopped.abort();
      await inFlight;
    },
  };
}

export function registerLagRoutes(app: FastifyInstance, ctx: ServeContext, kafka: KafkaAccess): void {
  app.get('/v1/lag', async () => measureConsoleLag(ctx, kafka));
}
