import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '@dirstream/logging';
import Fastify, { type FastifyInstance } from 'fastify';
import { errorHandler, httpError } from './errors.ts';

export type AppOptions = {
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Shown in logs: which listener served the request. */
  readonly listener: 'public' | 'admin';
};

/**
 * One Fastify instance per listener, with the same edge behaviour: request IDs (an incoming
 * `x-request-id` is kept when it is short and plain), the body limit, one error mapping, JSON
 * 404s, and pino as the logger (request bodies are never logged).
 */
export function createApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger.child({ listener: options.listener }),
    bodyLimit: options.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    trustProxy: false,
    return503OnClosing: true,
    ...(options.tls === undefined ? {} : { https: { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } }),
  }) as unknown as FastifyInstance;
  // Only a plain, short request ID from the caller is kept; anything else gets a fresh one.
  app.addHook('onRequest', async (request, reply) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(request.id)) (request as { id: string }).id = randomUUID();
    void reply.header('x-request-id', request.id);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    throw httpError('HTTP_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
  });
  return app;
}
