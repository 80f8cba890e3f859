import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ApplierMetrics = {
  readonly registry: Registry;
  readonly eventsApplied: Counter<'topic'>;
  readonly batchSize: Histogram<'topic'>;
  readonly deadLetters: Counter<'code'>;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly outboxBacklog: Gauge;
  readonly outboxPublished: Counter;
  readonly retries: Counter<'kind'>;
  readonly seatsUsed: Gauge;
  readonly seatLimitExceeded: Gauge;
};

/** One registry per applier instance (no module singletons: tests run several in one process). */
export function createApplierMetrics(): ApplierMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dirstream_applier_' });
  return {
    registry,
    eventsApplied: new Counter({
      name: 'dirstream_applier_events_applied_total',
      help: 'Input events applied (including those the version guard found already applied)',
      labelNames: ['topic'],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'dirstream_applier_batch_size',
      help: 'Records per applied transaction',
      labelNames: ['topic'],
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'dirstream_applier_dead_letters_total',
      help: 'Records sent to the dead-letter topic',
      labelNames: ['code'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'dirstream_applier_consumer_lag',
      help: 'High watermark minus committed offset, per partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    outboxBacklog: new Gauge({
      name: 'dirstream_applier_outbox_backlog',
      help: 'Outbox rows not yet published',
      registers: [registry],
    }),
    outboxPublished: new Counter({
      name: 'dirstream_applier_outbox_published_total',
      help: 'Outbox rows published by this instance',
      registers: [registry],
    }),
    retries: new Counter({
      name: 'dirstream_applier_retries_total',
      help: 'Apply attempts retried, by kind (outage or data)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    seatsUsed: new Gauge({
      name: 'dirstream_applier_seats_used',
      help: 'Enabled directory users',
      registers: [registry],
    }),
    seatLimitExceeded: new Gauge({
      name: 'dirstream_applier_seat_limit_exceeded',
      help: '1 when enabled directory users exceed applier.seatLimit',
      registers: [registry],
    }),
  };
}
