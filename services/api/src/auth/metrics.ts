import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AuthResult } from './outcomes.ts';

/**
 * Sign-in metrics. Labels are results, profile IDs and server URLs only: never a login, never
 * anything a caller typed.
 */
export type AuthMetrics = {
  attempt(result: AuthResult, seconds: number): void;
  bindError(profileId: string, url: string): void;
  eventDropped(count: number): void;
  clientRefused(): void;
  /** A login lookup answered from the lookup cache or read from the database. */
  lookup(source: 'cache' | 'database'): void;
  /** Reports whether the lookup cache answers (read at each scrape). */
  cacheLiveFrom(live: () => boolean): void;
};

export function createAuthMetrics(registry: Registry): AuthMetrics {
  const attempts = new Counter({
    name: 'dirstream_auth_attempts_total',
    help: 'Sign-in attempts by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'dirstream_auth_duration_seconds',
    help: 'Sign-in latency by result (including the failure floor)',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const bindErrors = new Counter({
    name: 'dirstream_auth_directory_errors_total',
    help: 'User binds a directory server did not answer (transport failures, timeouts)',
    labelNames: ['profile_id', 'server'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'dirstream_auth_events_dropped_total',
    help: 'Auth events not delivered to Kafka (buffer full or producer failure)',
    registers: [registry],
  });
  const refusedClients = new Counter({
    name: 'dirstream_auth_client_refused_total',
    help: 'Sign-in requests refused because the calling application presented no valid client token',
    registers: [registry],
  });
  const lookups = new Counter({
    name: 'dirstream_auth_lookups_total',
    help: 'Sign-in login lookups by source: the lookup cache, or the database',
    labelNames: ['source'],
    registers: [registry],
  });
  let isLive: () => boolean = () => false;
  new Gauge({
    name: 'dirstream_auth_cache_live',
    help: '1 while the sign-in lookup cache answers (its LISTEN is up and the change triggers exist), else 0',
    registers: [registry],
    collect() {
      this.set(isLive() ? 1 : 0);
    },
  });
  return {
    lookup(source) {
      lookups.inc({ source });
    },
    cacheLiveFrom(live) {
      isLive = live;
    },
    clientRefused() {
      refusedClients.inc();
    },
    attempt(result, seconds) {
      attempts.inc({ result });
      latency.observe({ result }, seconds);
    },
    bindError(profileId, url) {
      bindErrors.inc({ profile_id: profileId, server: url });
    },
    eventDropped(count) {
      dropped.inc(count);
    },
  };
}
