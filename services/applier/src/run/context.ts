import type { DirstreamConfig } from '@dirstream/config';
import type { Codec, RecordType } from '@dirstream/events';
import { topicNames } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { TRACING_OFF, type Tracing } from '@dirstream/tracing';
import type { ApplierMetrics } from '../metrics.ts';
import type { PlanContext, ProfilePolicy } from '../plan.ts';

/** What every part of a running applier shares: configuration, names, logger, metrics, health. */
export type ApplierContext = {
  readonly config: DirstreamConfig;
  readonly log: Logger;
  readonly metrics: ApplierMetrics;
  readonly codec: Codec;
  readonly groupId: string;
  readonly topics: ReturnType<typeof topicNames>;
  /** Input topic → the record type it carries. */
  readonly recordTypes: ReadonlyMap<string, RecordType>;
  /** Aborts on the caller's signal or when the applier decides to stop (caught up, fatal error). */
  readonly stopping: AbortSignal;
  /** The plan's view of the configuration, with the time of the call. */
  planContext(): PlanContext;
  /** Readiness: joined the consumer group and the last database contact succeeded. */
  readonly health: { joined: boolean; databaseHealthy: boolean };
  /** Off (the no-op tracer) unless the process turned tracing on. */
  readonly tracing: Tracing;
};

export function createApplierContext(deps: {
  config: DirstreamConfig;
  logger: Logger;
  metrics: ApplierMetrics;
  codec: Codec;
  groupId: string;
  stopping: AbortSignal;
  announce: boolean;
  tracing?: Tracing | undefined;
}): ApplierContext {
  const { config } = deps;
  const topics = topicNames(config.kafka.topicPrefix);
  const profiles = new Map<string, ProfilePolicy>(config.profiles.map((p) => [p.id, { conflictPolicy: p.policies.conflictPolicy }]));
  return {
    config,
    log: deps.logger,
    metrics: deps.metrics,
    codec: deps.codec,
    groupId: deps.groupId,
    topics,
    recordTypes: new Map<string, RecordType>([
      [topics.users, 'user-event'],
      [topics.groups, 'group-event'],
      [topics.memberships, 'membership-event'],
      [topics.syncRuns, 'sync-run'],
      [topics.runDetails, 'run-detail'],
    ]),
    stopping: deps.stopping,
    planContext: () => ({ profiles, announce: deps.announce, now: Date.now() }),
    health: { joined: false, databaseHealthy: true },
    tracing: deps.tracing ?? TRACING_OFF,
  };
}
