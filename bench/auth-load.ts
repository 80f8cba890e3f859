/**
 * The load generator of bench/auth.ts, run in a worker thread so that it has its own event loop:
 * an application server calling sign-in is another process, and a client sharing the serving
 * thread would be charged to dirstream. Two loads: `http` posts sign-ins (node:http, one
 * keep-alive connection per worker, as an application's HTTP client pool does) and `bind` does
 * raw simple binds, one warm ldapts connection per worker.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from 'ldapts';

export type LoadJob = {
  readonly kind: 'http' | 'bind';
  readonly concurrency: number;
  readonly seconds: number;
  /** http: the URL posted to; bind: the LDAP URL. */
  readonly url: string;
  readonly logins: readonly string[];
  readonly dns: readonly string[];
  readonly passwords: readonly string[];
  /** bind over LDAPS: the CA (PEM) and the server name. */
  readonly tls?: { readonly ca: string; readonly servername: string };
  /** Each answer must have this status (http). */
  readonly expectStatus?: number;
};

export type LoadResult = {
  readonly count: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU of this worker's thread over the load, per operation. */
  readonly clientCpuMsPerOp: number;
  readonly unexpected: number;
};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const n = job.logins.length;
  let unexpected = 0;
  let op: (worker: number, i: number) => Promise<void>;
  let done: () => Promise<void> = async () => {};
  if (job.kind === 'http') {
    const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
    const url = new URL(job.url);
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    op = async (worker, i) => {
      const u = (worker * 7919 + i) % n;
      const status = await post(JSON.stringify({ login: job.logins[u], password: job.passwords[u] }));
      if (job.expectStatus !== undefined && status !== job.expectStatus) unexpected++;
    };
    done = async () => agent.destroy();
  } else {
    const clients = Array.from(
      { length: job.concurrency },
      () =>
        new Client({
          url: job.url,
          ...(job.tls === undefined ? {} : { tlsOptions: { ca: [job.tls.ca], servername: job.tls.servername } }),
        }),
    );
    op = async (worker, i) => {
      const u = (worker * 7919 + i) % n;
      await (clients[worker] as Client).bind(job.dns[u] as string, job.passwords[u] as string);
    };
    done = async () => {
      await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
    };
  }
  // Warm-up: connections, pools, JIT.
  await Promise.all(Array.from({ length: job.concurrency }, async (_, w) => op(w, 0)));
  unexpected = 0;
  const latencies: number[] = [];
  const cpu = process.threadCpuUsage();
  const started = performance.now();
  const deadline = started + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, worker) => {
      for (let i = 1; performance.now() < deadline; i++) {
        const t = performance.now();
        await op(worker, i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.threadCpuUsage(cpu);
  await done();
  const sorted = Float64Array.from(latencies).sort();
  return {
    count: sorted.length,
    seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    clientCpuMsPerOp: (used.user + used.system) / 1000 / Math.max(1, sorted.length),
    unexpected,
  };
}

if (parentPort !== null) parentPort.postMessage(await run(workerData as LoadJob));
