import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.ts';

const CHECK_TIMEOUT_MS = 3_000;

/**
 * Health (the process answers), readiness (every registered dependency answers, each within a
 * few seconds) and Prometheus metrics. Unauthenticated by design: they reveal no user data.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      ctx.readiness.map(async ({ name, check }) => {
        try {
          await check(AbortSignal.timeout(CHECK_TIMEOUT_MS));
          return { name, ok: true };
        } catch (cause) {
          return { name, ok: false, reason: cause instanceof Error ? cause.message : String(cause) };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
  });
}
