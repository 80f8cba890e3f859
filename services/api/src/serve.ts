import { closeDatabase, openDatabase } from '@dirstream/applier';
import type { DirstreamConfig } from '@dirstream/config';
import { toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { TRACING_OFF, type Tracing } from '@dirstream/tracing';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { registerAdminRoutes } from './admin/register.ts';
import type { ServeContext } from './context.ts';
import { createApp } from './http/app.ts';
import type { AuthService } from './auth/service.ts';
import { registerAuthRoutes } from './routes/authenticate.ts';
import { registerHealthRoutes } from './routes/health.ts';

export type ServeDeps = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Off (the no-op tracer) unless the process turned tracing on (`tracing.otlpEndpoint`). */
  readonly tracing?: Tracing;
};

export type Serve = {
  /** Sign-in, health, metrics: what applications and probes reach. */
  readonly publicApp: FastifyInstance;
  /** The operator console (API and page), on its own host/port so it can stay internal. */
  readonly adminApp: FastifyInstance;
  readonly context: ServeContext;
  /** Sign-in's long-lived parts (the lookup cache's state, for tests and the bench). */
  readonly auth: AuthService;
  /** Starts both listeners; resolves with the bound addresses. */
  listen(): Promise<{ readonly public: string; readonly admin: string }>;
  close(): Promise<void>;
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Builds `dirstream serve` (both listeners, every route module) without listening yet. */
export async function createServe(deps: ServeDeps): Promise<Serve> {
  const { config, logger } = deps;
  const db = await openDatabase(config);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: 'dirstream_serve_' });
  const context: ServeContext = { config, logger, db, metrics, readiness: [], signal: deps.signal, tracing: deps.tracing ?? TRACING_OFF };
  context.readiness.push({
    name: 'database',
    check: async () => {
      await db.query('select 1');
    },
  });

  const publicApp = createApp({ logger, bodyLimitBytes: config.serve.bodyLimitBytes, tls: config.serve.listen.tls, listener: 'public' });
  const adminApp = createApp({ logger, bodyLimitBytes: config.serve.bodyLimitBytes, tls: config.serve.admin.tls, listener: 'admin' });
  registerHealthRoutes(publicApp, context);
  const auth = registerAuthRoutes(publicApp, context);
  await registerAdminRoutes(adminApp, context);

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.allSettled([publicApp.close(), adminApp.close()]);
    await closeDatabase(db).catch((cause: unknown) => logger.warn({ err: toError(cause) }, 'database close failed'));
  };

  return {
    publicApp,
    adminApp,
    context,
    auth,
    async listen() {
      for (const [name, listener] of [
        ['public', config.serve.listen],
        ['admin', config.serve.admin],
      ] as const) {
        if (!LOOPBACK.test(listener.host) && listener.tls === undefined) {
          logger.warn(
            { listener: name, host: listener.host },
            `the ${name} listener is reachable beyond this machine without TLS: set serve.${name === 'public' ? 'listen' : 'admin'}.tls`,
          );
        }
      }
      const publicAddress = await publicApp.listen({ host: config.serve.listen.host, port: config.serve.listen.port });
      const adminAddress = await adminApp.listen({ host: config.serve.admin.host, port: config.serve.admin.port });
      logger.info({ public: publicAddress, admin: adminAddress }, 'dirstream serve listening');
      return { public: publicAddress, admin: adminAddress };
    },
    close,
  };
}

/** `dirstream serve`: listens until the signal aborts, then drains in-flight requests and stops. */
export async function runServe(deps: ServeDeps): Promise<{ ok: boolean; reason?: string }> {
  let serve: Serve | undefined;
  try {
    serve = await createServe(deps);
    await serve.listen();
    await new Promise<void>((resolve) => {
      if (deps.signal.aborted) resolve();
      else deps.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return { ok: true };
  } catch (cause) {
    const err = toError(cause);
    deps.logger.error({ err }, 'dirstream serve stopped');
    return { ok: false, reason: err.message };
  } finally {
    await serve?.close();
  }
}
