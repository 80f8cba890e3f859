import type { Database } from '@dirstream/applier';
import type { DirstreamConfig } from '@dirstream/config';
import type { Logger } from '@dirstream/logging';
import type { Tracing } from '@dirstream/tracing';
import type { Registry } from 'prom-client';

/** A readiness check: resolves when the dependency answers, throws (with a reason) when it does not. */
export type ReadinessCheck = { readonly name: string; readonly check: (signal: AbortSignal) => Promise<void> };

/**
 * What every route module of `dirstream serve` gets: the validated config, the process's root
 * logger, the application database (the applier's tables), the metrics registry, tracing, and a
 * place to register readiness checks. Route modules take this and add their own dependencies.
 */
export type ServeContext = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly db: Database;
  readonly metrics: Registry;
  readonly readiness: ReadinessCheck[];
  readonly signal: AbortSignal;
  /** Spans (sign-in) and the trace context of the events they cause; the no-op tracer when tracing is off. */
  readonly tracing: Tracing;
};
