/**
 * Test support for sign-in: a `dirstream serve` built in-process over a pipeline's configuration
 * (test/support/pipeline.ts: its database, topics and directory), every log line it writes kept
 * in memory (the password grep reads them), and a helper that posts to /v1/authenticate.
 */
import { Writable } from 'node:stream';
import type { DirstreamConfig } from '@dirstream/config';
import { createLogger } from '@dirstream/logging';
import type { Tracing } from '@dirstream/tracing';
import { createServe, type Serve } from '../src/index.ts';

export type AuthOverrides = Partial<DirstreamConfig['serve']['auth']> & {
  readonly rateLimit?: DirstreamConfig['serve']['auth']['rateLimit'];
};

/** Every NDJSON line any serve of this test file logged. */
export const LOG_LINES: string[] = [];

const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') LOG_LINES.push(line);
    done();
  },
});

/** Lenient limits for tests that are not about rate limiting (one client address signs in often). */
export const LENIENT_LIMITS = {
  perLogin: { failures: 1_000, windowSeconds: 60 },
  perClient: { failures: 10_000, windowSeconds: 60 },
} as const;

export function serveConfig(
  base: DirstreamConfig,
  auth: AuthOverrides = {},
  connection: (profile: DirstreamConfig['profiles'][number]) => Partial<DirstreamConfig['profiles'][number]['connection']> = () => ({}),
): DirstreamConfig {
  return {
    ...base,
    profiles: base.profiles.map((p) => ({ ...p, connection: { ...p.connection, ...connection(p) } })),
    serve: {
      ...base.serve,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { ...base.serve.admin, host: '127.0.0.1', port: 0 },
      auth: {
        ...base.serve.auth,
        rateLimit: LENIENT_LIMITS,
        failureFloorMs: 0,
        firstSignIn: { enabled: true, waitMs: 10_000 },
        ...auth,
      },
    },
  };
}

export type TestServe = {
  readonly serve: Serve;
  /** POST /v1/authenticate (JSON body, or raw bytes), from `remoteAddress`. */
  authenticate(
    body: unknown,
    options?: { raw?: Buffer; remoteAddress?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }>;
  close(): Promise<void>;
};

export async function startServe(config: DirstreamConfig, options: { readonly tracing?: Tracing } = {}): Promise<TestServe> {
  const controller = new AbortController();
  const logger = createLogger({ name: 'serve-test', level: 'debug', destination: capture });
  const serve = await createServe({ config, logger, signal: controller.signal, ...options });
  await serve.publicApp.ready();
  return {
    serve,
    async authenticate(body, options = {}) {
      const response = await serve.publicApp.inject({
        method: 'POST',
        url: '/v1/authenticate',
        headers: { 'content-type': 'application/json', ...options.headers },
        payload: options.raw ?? JSON.stringify(body),
        remoteAddress: options.remoteAddress ?? '127.0.0.1',
      });
      return { status: response.statusCode, body: response.json() as Record<string, unknown>, headers: response.headers };
    },
    async close() {
      controller.abort();
      await serve.close();
    },
  };
}
