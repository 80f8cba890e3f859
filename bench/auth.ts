/**
 * Sign-in benchmark: `POST /v1/authenticate` over HTTP against `dirstream serve` (in this
 * process, listening on loopback) beside the floor, the same number of raw simple binds with a
 * plain ldapts client per worker in a loop, at concurrency 1, 16 and 64, against slapd and
 * against the Samba AD DC (LDAPS). Each cell runs for a fixed time. The load generators run in a
 * worker thread (bench/auth-load.ts: node:http with keep-alive, as an application's client pool;
 * ldapts for the raw binds), so the serving thread is dirstream's alone. Beside them: the same HTTP
 * client against an empty route of the same Fastify set-up (the HTTP floor), and the CPU each
 * operation cost the serving thread, the client thread, PostgreSQL (this bench's database's
 * backends) and the directory server. Then the timing of an unknown login against a wrong password
 * (the median of each, interleaved), with the failure floor off and at its default.
 *
 *   node bench/auth.ts [--seconds 3] [--users 64]
 *
 * Needs PostgreSQL, Kafka, OpenLDAP and (for the AD rows) Samba from `npm run infra:up`.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AUTH_DEFAULTS, type DirstreamConfig } from '@dirstream/config';
import { createSilentLogger } from '@dirstream/logging';
import { type AdOu, createAdOu, loadInfra, loadSamba } from '@dirstream/testing';
import { Worker } from 'node:worker_threads';
import type { Database } from '@dirstream/applier';
import { createServe } from '../services/api/src/index.ts';
import { createApp } from '../services/api/src/http/app.ts';
import type { LoadJob, LoadResult } from './auth-load.ts';
import { createPipeline, type Pipeline } from '../test/support/pipeline.ts';

/** CPU milliseconds one operation cost each party (directory: the server process, shared with other work). */
export type CpuPerOp = { readonly serve: number; readonly client: number; readonly postgres: number; readonly directory: number };

export type AuthBenchRow = {
  readonly directory: 'slapd' | 'samba';
  readonly concurrency: number;
  readonly authsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rawBindsPerSecond: number;
  readonly rawP50Ms: number;
  readonly rawP99Ms: number;
  /** The same HTTP client against an empty route of the same Fastify set-up. */
  readonly emptyRoutePerSecond: number;
  readonly signInCpu: CpuPerOp;
  readonly rawCpu: CpuPerOp;
  readonly emptyRouteCpu: CpuPerOp;
  /** Sign-ins answered from the lookup cache / from the database during the cell. */
  readonly cacheHits: number;
  readonly cacheMisses: number;
};

export type TimingRow = {
  readonly directory: 'slapd' | 'samba';
  readonly failureFloorMs: number;
  readonly samples: number;
  readonly unknownMedianMs: number;
  readonly wrongMedianMs: number;
};

export type AuthBenchResult = {
  readonly rows: readonly AuthBenchRow[];
  readonly timing: readonly TimingRow[];
  readonly note: string;
  /** 1-minute load average before and after: other work on the machine shows in every figure. */
  readonly load: readonly [number, number];
};

export type BenchAuthOptions = { readonly seconds?: number; readonly users?: number; readonly slapdOnly?: boolean };

const CONCURRENCY = [1, 16, 64] as const;
const AD_PASSWORD = 'Test-Passw0rd!';

type Target = {
  readonly directory: 'slapd' | 'samba';
  readonly config: DirstreamConfig;
  readonly logins: readonly string[];
  readonly dns: readonly string[];
  readonly password: (index: number) => string;
  readonly ldapUrl: string;
  readonly tls?: { readonly ca: string; readonly servername: string };
  /** The directory server's process (its CPU is read from /proc); unknown: no directory CPU. */
  readonly pidFile: string | undefined;
};

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** One load in a worker thread (bench/auth-load.ts). */
function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./auth-load.ts', import.meta.url), { workerData: job });
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load worker exited with ${code}`));
    });
  });
}

/** utime + stime of a process in ms (/proc/PID/stat; every thread of it), 0 when it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** CPU ms of this database's PostgreSQL backends (the bench's own database: nobody else's work). */
async function postgresCpuMs(db: Database): Promise<Map<number, number>> {
  const rows = await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()');
  return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]));
}

/** Runs `job` and charges the CPU the serving thread, PostgreSQL and the directory server spent meanwhile. */
async function measured(job: LoadJob, db: Database, directoryPid: number): Promise<{ load: LoadResult; cpu: CpuPerOp }> {
  const pgBefore = await postgresCpuMs(db);
  const dirBefore = processCpuMs(directoryPid);
  const serveBefore = process.threadCpuUsage();
  const load = await runLoad(job);
  const serve = process.threadCpuUsage(serveBefore);
  const dirAfter = processCpuMs(directoryPid);
  let pgMs = 0;
  for (const [pid, after] of await postgresCpuMs(db)) pgMs += after - (pgBefore.get(pid) ?? after);
  const n = Math.max(1, load.count);
  return {
    load,
    cpu: {
      serve: (serve.user + serve.system) / 1000 / n,
      client: load.clientCpuMsPerOp,
      postgres: pgMs / n,
      directory: (dirAfter - dirBefore) / n,
    },
  };
}

function benchConfig(base: DirstreamConfig, failureFloorMs: number): DirstreamConfig {
  return {
    ...base,
    serve: {
      ...base.serve,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { ...base.serve.admin, port: 0 },
      auth: {
        ...AUTH_DEFAULTS,
        failureFloorMs,
        // The bench is one client address guessing on purpose: the limits would stop it.
        rateLimit: { perLogin: { failures: 1_000_000, windowSeconds: 60 }, perClient: { failures: 1_000_000, windowSeconds: 60 } },
      },
    },
  };
}

async function withServe<T>(
  config: DirstreamConfig,
  fn: (post: (body: unknown) => Promise<number>, url: string, serve: Awaited<ReturnType<typeof createServe>>) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const serve = await createServe({ config, logger: createSilentLogger(), signal: controller.signal });
  try {
    const { public: address } = await serve.listen();
    const url = `${address}/v1/authenticate`;
    const post = async (body: unknown) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await response.arrayBuffer();
      return response.status;
    };
    return await fn(post, url, serve);
  } finally {
    controller.abort();
    await serve.close();
  }
}

/** The HTTP floor: the public listener's Fastify set-up (createApp) with one route that answers `{}`. */
async function withEmptyRoute<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const app = createApp({ logger: createSilentLogger(), bodyLimitBytes: 16 * 1024, listener: 'public' });
  app.post('/v1/empty', async () => ({}));
  try {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    return await fn(`${address}/v1/empty`);
  } finally {
    await app.close();
  }
}

async function measureTarget(target: Target, seconds: number): Promise<{ rows: AuthBenchRow[]; timing: TimingRow[] }> {
  const rows: AuthBenchRow[] = [];
  const n = target.logins.length;
  const passwords = target.logins.map((_, i) => target.password(i));
  const directoryPid = target.pidFile === undefined ? 0 : Number(readFileSync(target.pidFile, 'utf8').trim());
  await withServe(benchConfig(target.config, AUTH_DEFAULTS.failureFloorMs), async (post, url, serve) => {
    for (let i = 0; i < 16; i++) await post({ login: target.logins[i % n], password: target.password(i % n) });
    const db = serve.context.db;
    const base = { seconds, logins: target.logins, dns: target.dns, passwords };
    await withEmptyRoute(async (emptyUrl) => {
      for (const concurrency of CONCURRENCY) {
        const lookups = serve.auth.lookups();
        const signIn = await measured({ ...base, kind: 'http', concurrency, url, expectStatus: 200 }, db, directoryPid);
        const after = serve.auth.lookups();
        if (signIn.load.unexpected > 0)
          throw new Error(`${target.directory} c=${concurrency}: ${signIn.load.unexpected} sign-ins were not 200`);
        const raw = await measured(
          { ...base, kind: 'bind', concurrency, url: target.ldapUrl, ...(target.tls === undefined ? {} : { tls: target.tls }) },
          db,
          directoryPid,
        );
        const empty = await measured({ ...base, kind: 'http', concurrency, url: emptyUrl, expectStatus: 200 }, db, directoryPid);
        rows.push({
          directory: target.directory,
          concurrency,
          authsPerSecond: signIn.load.count / signIn.load.seconds,
          p50Ms: signIn.load.p50Ms,
          p99Ms: signIn.load.p99Ms,
          rawBindsPerSecond: raw.load.count / raw.load.seconds,
          rawP50Ms: raw.load.p50Ms,
          rawP99Ms: raw.load.p99Ms,
          emptyRoutePerSecond: empty.load.count / empty.load.seconds,
          signInCpu: signIn.cpu,
          rawCpu: raw.cpu,
          emptyRouteCpu: { ...empty.cpu, directory: 0 },
          cacheHits: after.cache - lookups.cache,
          cacheMisses: after.database - lookups.database,
        });
      }
    });
  });

  const timing: TimingRow[] = [];
  for (const floor of [0, AUTH_DEFAULTS.failureFloorMs]) {
    await withServe(benchConfig(target.config, floor), async (post) => {
      const unknown: number[] = [];
      const wrong: number[] = [];
      const samples = floor === 0 ? 200 : 60;
      for (let i = 0; i < 10; i++) await post({ login: `warm-${i}`, password: 'Wrong-Passw0rd-1' });
      for (let i = 0; i < samples; i++) {
        for (const [list, login] of [
          [unknown, `nobody-${i}-x`],
          [wrong, target.logins[i % n]],
        ] as const) {
          const t = performance.now();
          const status = await post({ login, password: `Wrong-Passw0rd-${i}` });
          list.push(performance.now() - t);
          if (status !== 401) throw new Error(`timing: ${login} answered ${status}`);
        }
      }
      unknown.sort((a, b) => a - b);
      wrong.sort((a, b) => a - b);
      timing.push({
        directory: target.directory,
        failureFloorMs: floor,
        samples,
        unknownMedianMs: percentile(unknown, 50),
        wrongMedianMs: percentile(wrong, 50),
      });
    });
  }
  return { rows, timing };
}

async function slapdTarget(users: number): Promise<{ target: Target; pipeline: Pipeline }> {
  const pipeline = await createPipeline({ label: 'bench-auth', profile: { groups: null } });
  const logins: string[] = [];
  const dns: string[] = [];
  const password = (i: number) => `bench-${i}-secret`;
  for (let i = 0; i < users; i++) {
    logins.push(`bench${i}`);
    dns.push(await pipeline.ldap.addUser(`bench${i}`, { userPassword: password(i) }));
  }
  const poll = await pipeline.runPoller(['--full']);
  if (poll.code !== 0) throw new Error(`poller failed: ${poll.stderr.slice(-1000)}`);
  await pipeline.applyUntilCaughtUp();
  return {
    pipeline,
    target: {
      directory: 'slapd',
      config: pipeline.config,
      logins,
      dns,
      password,
      ldapUrl: pipeline.infra.openldap.url,
      pidFile: pipeline.infra.openldap.dir === undefined ? undefined : join(pipeline.infra.openldap.dir, 'slapd.pid'),
    },
  };
}

async function sambaTarget(users: number): Promise<{ target: Target; pipeline: Pipeline; ou: AdOu }> {
  const samba = loadSamba();
  const ou = await createAdOu(samba, 'bench-auth');
  const logins: string[] = [];
  const dns: string[] = [];
  for (let i = 0; i < users; i++) {
    dns.push(await ou.addUser(`b${i}`));
    logins.push(ou.login(`b${i}`));
  }
  const pipeline = await createPipeline({
    label: 'bench-auth-ad',
    directory: {
      type: 'active-directory',
      urls: [samba.url],
      bindDn: samba.adminDn,
      bindPassword: samba.adminPassword,
      tls: { caFile: samba.caFile, serverName: samba.serverName },
      pageSize: 1000,
    },
    profile: { users: { baseDn: ou.peopleDn }, groups: null, schedule: { delta: 'usn' } },
  });
  const poll = await pipeline.runPoller(['--full']);
  if (poll.code !== 0) throw new Error(`poller failed: ${poll.stderr.slice(-1000)}`);
  await pipeline.applyUntilCaughtUp();
  return {
    pipeline,
    ou,
    target: {
      directory: 'samba',
      config: pipeline.config,
      logins,
      dns,
      password: () => AD_PASSWORD,
      ldapUrl: samba.url,
      tls: { ca: readFileSync(samba.caFile, 'utf8'), servername: samba.serverName },
      pidFile: typeof samba.dir === 'string' ? join(samba.dir, 'run', 'samba.pid') : undefined,
    },
  };
}

export async function benchAuth(options: BenchAuthOptions = {}): Promise<AuthBenchResult> {
  const seconds = options.seconds ?? 3;
  const loadBefore = loadavg()[0] ?? 0;
  const users = options.users ?? 64;
  const rows: AuthBenchRow[] = [];
  const timing: TimingRow[] = [];
  const slapd = await slapdTarget(users);
  try {
    const measured = await measureTarget(slapd.target, seconds);
    rows.push(...measured.rows);
    timing.push(...measured.timing);
  } finally {
    await slapd.pipeline.cleanup();
  }
  let note = '';
  if (options.slapdOnly === true) note = 'slapd only.';
  else if (loadInfra().samba === undefined) note = 'Samba is not running: no AD rows.';
  else {
    const samba = await sambaTarget(users);
    try {
      const measured = await measureTarget(samba.target, seconds);
      rows.push(...measured.rows);
      timing.push(...measured.timing);
    } finally {
      await samba.pipeline.cleanup();
      await samba.ou.cleanup().catch(() => undefined);
    }
  }
  return { rows, timing, note, load: [loadBefore, loadavg()[0] ?? 0] };
}

const f0 = (n: number) => n.toFixed(0);
const loadCores = () => (globalThis.navigator?.hardwareConcurrency ?? 0) || 'unknown';
const f1 = (n: number) => n.toFixed(1);

const pct = (a: number, b: number) => `${f0((100 * a) / b)} %`;
const f2 = (n: number) => n.toFixed(2);
const cpuSum = (c: CpuPerOp) => c.serve + c.client + c.postgres + c.directory;

export function formatAuthTable(result: AuthBenchResult): string {
  const lines = [
    '| directory | concurrency | sign-ins/s | p50 ms | p99 ms | raw binds/s | raw p50 ms | raw p99 ms | empty HTTP route/s | throughput vs raw | p99 vs raw | empty route vs raw | lookups from cache |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) =>
        `| ${r.directory} | ${r.concurrency} | ${f0(r.authsPerSecond)} | ${f1(r.p50Ms)} | ${f1(r.p99Ms)} | ${f0(r.rawBindsPerSecond)} | ${f1(r.rawP50Ms)} | ${f1(r.rawP99Ms)} | ${f0(r.emptyRoutePerSecond)} | ${pct(r.authsPerSecond, r.rawBindsPerSecond)} | ${(r.p99Ms / r.rawP99Ms).toFixed(1)}× | ${pct(r.emptyRoutePerSecond, r.rawBindsPerSecond)} | ${pct(r.cacheHits, Math.max(1, r.cacheHits + r.cacheMisses))} |`,
    ),
    '',
    "CPU per operation (ms): the serving thread, the load generator's thread, this database's PostgreSQL backends, the directory server",
    '(its whole process: other work on the shared server shows here too):',
    '',
    '| directory | concurrency | sign-in: serve | client | postgres | directory | total | raw bind: client | directory | total | empty route: serve | client | total | sign-in / raw bind | empty route / raw bind |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) =>
        `| ${r.directory} | ${r.concurrency} | ${f2(r.signInCpu.serve)} | ${f2(r.signInCpu.client)} | ${f2(r.signInCpu.postgres)} | ${f2(r.signInCpu.directory)} | ${f2(cpuSum(r.signInCpu))} | ${f2(r.rawCpu.client)} | ${f2(r.rawCpu.directory)} | ${f2(cpuSum(r.rawCpu))} | ${f2(r.emptyRouteCpu.serve)} | ${f2(r.emptyRouteCpu.client)} | ${f2(cpuSum(r.emptyRouteCpu))} | ${(cpuSum(r.signInCpu) / cpuSum(r.rawCpu)).toFixed(1)}× | ${(cpuSum(r.emptyRouteCpu) / cpuSum(r.rawCpu)).toFixed(1)}× |`,
    ),
    '',
    'Unknown login vs wrong password (401 both; medians of interleaved attempts, concurrency 1):',
    '',
    '| directory | failure floor | samples each | unknown login median ms | wrong password median ms | difference |',
    '|---|---:|---:|---:|---:|---:|',
    ...result.timing.map(
      (t) =>
        `| ${t.directory} | ${t.failureFloorMs} ms | ${t.samples} | ${f1(t.unknownMedianMs)} | ${f1(t.wrongMedianMs)} | ${f0((100 * Math.abs(t.unknownMedianMs - t.wrongMedianMs)) / Math.min(t.unknownMedianMs, t.wrongMedianMs))} % |`,
    ),
  ];
  const slapd16 = result.rows.find((r) => r.directory === 'slapd' && r.concurrency === 16);
  lines.push(
    '',
    `Machine load (1-minute average) ${result.load[0].toFixed(1)} before, ${result.load[1].toFixed(1)} after, on ${loadCores()} cores.`,
    'dirstream serves in the main thread; the load generators run in a worker thread (node:http with keep-alive for sign-ins',
    'and for the empty route, one warm ldapts connection per worker for raw binds). A sign-in is the raw bind plus an HTTP',
    'exchange, the rate limits, the lookup (from the cache, else one statement), the auth event: the empty HTTP route alone',
    '(the same Fastify set-up answering `{}`) is the ceiling any HTTP sign-in can reach on this machine.',
  );
  if (slapd16 !== undefined) {
    const ratios = (directory: string) =>
      result.rows
        .filter((r) => r.directory === directory)
        .map((r) => pct(r.authsPerSecond, r.rawBindsPerSecond))
        .join(' / ');
    lines.push(
      `Goals of the issue on this run: throughput ≥ 70 % of raw binds — slapd ${ratios('slapd')}` +
        `${result.rows.some((r) => r.directory === 'samba') ? `, Samba ${ratios('samba')}` : ''} (c = 1 / 16 / 64);` +
        ` p99 at concurrency 16 on slapd within 3× raw — ${(slapd16.p99Ms / slapd16.rawP99Ms).toFixed(1)}×.`,
    );
  }
  if (result.note !== '') lines.push('', result.note);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, users: { type: 'string', default: '64' } } });
  const result = await benchAuth({ seconds: Number(values.seconds), users: Number(values.users) });
  console.log(formatAuthTable(result));
}
