import { createSyncControl } from '@dirstream/poller';
import type { FastifyInstance } from 'fastify';
import type { ServeContext } from '../context.ts';
import { callerOf, registerAdminAuth } from './auth.ts';
import { registerChartRoutes } from './charts.ts';
import { registerDeadLetterRoutes } from './dead-letters.ts';
import { createKafkaAccess } from './kafka.ts';
import { registerLagRoutes, startLagSampler } from './lag.ts';
import { registerObjectRoutes } from './objects.ts';
import { registerPageRoutes } from './page/routes.ts';
import { registerProfileRoutes } from './profiles.ts';
import { registerRunRoutes } from './runs.ts';

export type AdminOptions = {
  /** How often the console samples lag for its chart (default one minute). */
  readonly lagSampleMs?: number;
};

/**
 * The operator console on the admin listener: bearer-token auth for everything but the page's
 * static shell, the JSON API under /v1 and the page. Opens its own poller-control pool and Kafka
 * admin client, closed with the listener.
 */
export async function registerAdminRoutes(app: FastifyInstance, ctx: ServeContext, options: AdminOptions = {}): Promise<void> {
  const logger = ctx.logger.child({ component: 'console' });
  const control = await createSyncControl(ctx.config.database);
  const kafka = createKafkaAccess(ctx, logger);
  const sampler = startLagSampler(ctx, kafka, options.lagSampleMs);
  app.addHook('onClose', async () => {
    await sampler.stop();
    await Promise.allSettled([control.close(), kafka.close()]);
  });
  if (ctx.config.serve.admin.tokens.length === 0) {
    logger.warn('serve.admin.tokens is empty: the admin API and page refuse every request');
  }
  registerAdminAuth(app, ctx.config.serve.admin.tokens);
  app.get('/v1/me', async (request) => callerOf(request));
  registerProfileRoutes(app, ctx, control);
  registerRunRoutes(app, ctx);
  registerObjectRoutes(app, ctx);
  registerDeadLetterRoutes(app, ctx, kafka);
  registerLagRoutes(app, ctx, kafka);
  registerChartRoutes(app, ctx, sampler.samples);
  registerPageRoutes(app, ctx, control, kafka);
}
