/**
 * @dirstream/metrics: the one HTTP listener of a service's health and metrics (`/metrics`,
 * `/healthz`, `/readyz`), used by the poller and the applier. Plain node:http: it must answer
 * while the rest of the process is busy or failing, and it needs no routing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type Readiness = {
  readonly ready: boolean;
  /** Shown in the /readyz body as JSON (e.g. which profiles this poller is active for). */
  readonly details?: Readonly<Record<string, unknown>>;
};

export type MetricsServerOptions = {
  readonly registry: Registry;
  /** 127.0.0.1 keeps it local; 0.0.0.0 (or the pod IP) lets Prometheus and Kubernetes probes reach it. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** /readyz: 200 when ready, 503 when not; the body says why. */
  readonly readiness: () => Readiness | boolean;
};

export type MetricsServer = { readonly host: string; readonly port: number; close(): Promise<void> };

/** /healthz answers 200 while the process runs; /readyz and /metrics as described above. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const answer = options.readiness();
      const { ready, details } = typeof answer === 'boolean' ? { ready: answer, details: undefined } : answer;
      if (details === undefined) {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ready ? 'ready\n' : 'not ready\n');
      } else {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ ready, ...details })}\n`);
      }
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
