/**
 * Whole-pipeline benchmark: LDAP → poller → Kafka → applier → PostgreSQL, through the real
 * `dirstream` command line (test/support/pipeline.ts), against a private slapd loaded offline with
 * slapadd. For each size (N users, 2,000 groups, three of them with 20,000 members):
 *
 * - full sync: the wall time from starting the poller and the applier to every user, group and
 *   membership being in PostgreSQL, and users/s;
 * - the floor, measured in the same run: a raw paged `ldapsearch` dump of the same entries and
 *   attributes, Kafka's ProducerPerformance producing as many records of the same average size
 *   as the pipeline produced (acks=all, idempotent, same partition count), and a PostgreSQL
 *   `COPY` of the rows the pipeline wrote into tables like its own (same columns, constraints and
 *   indexes); the ratio full sync / floor;
 * - delta latency: 100 directory changes (title of spread-out users), each from its LDAP modify
 *   returning to the row holding the new value in PostgreSQL, median and max (the poller runs on a
 *   1 s schedule, accesslog deltas; the database is polled every 50 ms);
 * - peak RSS (VmHWM) of the poller and the applier, read from /proc just before they are stopped.
 *
 *   node bench/pipeline.ts --sizes 10000,100000
 *
 * Needs Kafka and PostgreSQL from `npm run infra:up`. Loopback only, bounded waits, cleans up its
 * slapd, database and topics. Not a test: nothing is asserted about speed.
 */
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, type Infra, loadInfra } from '@dirstream/testing';
import { Attribute, Change, Client } from 'ldapts';
import { createSlapd, slapdInstance, startSlapd, stopSlapd } from '../infra/local/openldap.ts';
import { SAMPLE_DISABLED_FILTER, sampleEntries } from '../infra/sample/generate.ts';
import { toLdif } from '../infra/sample/ldif.ts';
import { createPipeline, type Pipeline, type RunningProcess } from '../test/support/pipeline.ts';
import { timeCommand } from './child.ts';
import { kafkaProduceSeconds, measureProduced } from './kafka-floor.ts';
import { pollerNodeOptions } from './poller-pass.ts';

/** Partitions of the pipeline's topics, and of the Kafka floor's topic. */
const PARTITIONS = 6;

export type PipelineBenchRow = {
  readonly benchmark: 'pipeline';
  readonly users: number;
  readonly groups: number;
  readonly memberships: number;
  readonly fullSyncSeconds: number;
  readonly usersPerSecond: number;
  /** The poller's own duration of the full run (from sync_runs). */
  readonly pollerRunSeconds: number;
  readonly ldapsearchSeconds: number;
  /** Records the poller produced (users, groups, memberships) and their average key + value size. */
  readonly producedRecords: number;
  readonly producedAverageBytes: number;
  readonly kafkaSeconds: number;
  readonly copySeconds: number;
  readonly floorSeconds: number;
  readonly ratio: number;
  readonly deltaChanges: number;
  readonly deltaMedianSeconds: number;
  readonly deltaMaxSeconds: number;
  readonly pollerPeakRssMiB: number;
  readonly applierPeakRssMiB: number;
};

export type BenchPipelineOptions = {
  readonly sizes?: readonly number[];
  readonly groups?: number;
  readonly largeGroups?: number;
  readonly largeGroupSize?: number;
  readonly changes?: number;
  /** The private slapd's port; 0 (default) = a free one. */
  readonly port?: number;
  readonly log?: (line: string) => void;
};

const SUFFIX = 'dc=dirstream,dc=test';
const BASE = `ou=sample,${SUFFIX}`;
const PEOPLE = `ou=people,${BASE}`;
const GROUPS = `ou=groups,${BASE}`;
const USER_ATTRIBUTES = [
  'entryUUID',
  'uid',
  'displayName',
  'cn',
  'modifyTimestamp',
  'givenName',
  'sn',
  'mail',
  'telephoneNumber',
  'title',
  'o',
  'employeeType',
];
const GROUP_ATTRIBUTES = ['entryUUID', 'cn', 'description', 'modifyTimestamp', 'member', 'uniqueMember', 'memberUid'];

type Directory = { readonly users: number; readonly groups: number; readonly edges: number; readonly userDns: readonly string[] };

/** Writes the sample as LDIF and counts what the pipeline must deliver. */
async function writeDirectory(file: string, users: number, options: Required<Omit<BenchPipelineOptions, 'log'>>): Promise<Directory> {
  const out = createWriteStream(file);
  const userDns: string[] = [];
  let groups = 0;
  let edges = 0;
  const entries = sampleEntries({
    seed: 11,
    users,
    groups: options.groups,
    largeGroups: options.largeGroups,
    largeGroupSize: options.largeGroupSize,
    baseDn: BASE,
    includeBase: false,
    disabledShare: 0.02,
  });
  for (const entry of entries) {
    const classes = [entry.attributes.objectClass ?? []].flat().map(String);
    if (classes.includes('inetOrgPerson')) userDns.push(entry.dn);
    if (classes.includes('groupOfNames')) {
      groups++;
      edges += [entry.attributes.member ?? []].flat().length;
    }
    if (!out.write(toLdif(entry))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { users: userDns.length, groups, edges, userDns };
}

/** Floor, directory side: OpenLDAP's own client reading the same entries, output discarded. */
async function ldapsearchSeconds(url: string, adminDn: string, password: string): Promise<number> {
  const common = ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', url, '-D', adminDn, '-w', password, '-E', 'pr=500/noprompt'];
  const users = await timeCommand('ldapsearch', [...common, '-b', PEOPLE, '(objectClass=inetOrgPerson)', ...USER_ATTRIBUTES]);
  const groups = await timeCommand('ldapsearch', [
    ...common,
    '-b',
    GROUPS,
    '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
    ...GROUP_ATTRIBUTES,
  ]);
  return users + groups;
}

/** Floor, database side: psql `\copy` of the rows the pipeline wrote into look-alike tables. */
async function copySeconds(pipeline: Pipeline, dir: string): Promise<number> {
  const url = pipeline.database.url;
  const tables = ['users', 'groups', 'memberships'];
  for (const table of tables) {
    await pipeline.query(`create table floor_${table} (like ${table} including all)`);
    await timeCommand('psql', [url, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${table} to '${join(dir, `${table}.copy`)}'`]);
  }
  const seconds = await timeCommand('psql', [
    url,
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    ...tables.flatMap((table) => ['-c', `\\copy floor_${table} from '${join(dir, `${table}.copy`)}'`]),
  ]);
  for (const table of tables) await pipeline.query(`drop table floor_${table}`);
  return seconds;
}

/** VmHWM (peak resident set) of a live process, in KiB; 0 once it is gone. */
function peakRssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function createRssSampler(processes: readonly RunningProcess[]): { stop(): number[] } {
  const peaks = processes.map(() => 0);
  const sample = () => {
    processes.forEach((p, i) => {
      peaks[i] = Math.max(peaks[i] ?? 0, peakRssKiB(p.pid));
    });
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return peaks;
    },
  };
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  processes: readonly RunningProcess[],
  probe: () => Promise<T | undefined>,
  intervalMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    for (const p of processes) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        const { stderr, stdout } = p.output();
        throw new Error(`a pipeline process exited while waiting for ${what}:\n${(stdout + stderr).slice(-3000)}`);
      }
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

type Counts = { users: number; groups: number; memberships: number };

async function counts(pipeline: Pipeline): Promise<Counts> {
  const [row] = await pipeline.query<{ users: string; groups: string; memberships: string }>(
    `select (select count(*) from users where profile_id = $1) as users,
            (select count(*) from groups where profile_id = $1 and present) as groups,
            (select count(*) from memberships where profile_id = $1 and present) as memberships`,
    [pipeline.profileId],
  );
  return { users: Number(row?.users), groups: Number(row?.groups), memberships: Number(row?.memberships) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

async function benchSize(
  users: number,
  options: Required<Omit<BenchPipelineOptions, 'log'>>,
  log: (line: string) => void,
): Promise<PipelineBenchRow> {
  const infra = loadInfra();
  const dir = mkdtempSync(join(tmpdir(), `dirstream-bench-pipeline-${users}-`));
  const instance = slapdInstance({ dir: join(dir, 'slapd'), port: options.port === 0 ? await freePort() : options.port });
  let pipeline: Pipeline | undefined;
  const cleanup = async () => {
    await pipeline?.cleanup().catch(() => undefined);
    await stopSlapd(instance).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  // The private slapd runs detached: Ctrl-C must not leave it (or the database and topics) behind.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`${users} users: generating and loading the directory (slapadd)`);
    const ouFile = join(dir, 'ou.ldif');
    writeFileSync(ouFile, `dn: ${BASE}\nobjectClass: top\nobjectClass: organizationalUnit\nou: sample\n\n`);
    const dataFile = join(dir, 'sample.ldif');
    const directory = await writeDirectory(dataFile, users, options);
    await createSlapd(instance, [ouFile, dataFile]);
    rmSync(dataFile, { force: true });
    await startSlapd(instance);
    const privateInfra: Infra = {
      ...infra,
      openldap: {
        ...infra.openldap,
        url: instance.url,
        suffix: instance.suffix,
        adminDn: instance.adminDn,
        adminPassword: instance.adminPassword,
      },
    };
    pipeline = await createPipeline({
      label: 'bench-pipeline',
      infra: privateInfra,
      partitions: PARTITIONS,
      logLevel: 'warn',
      profile: {
        connection: { pageSize: 500, timeoutMs: 300_000 },
        users: { baseDn: PEOPLE, disabledFilter: SAMPLE_DISABLED_FILTER },
        groups: { baseDn: GROUPS },
        schedule: { intervalSeconds: 1, fullEverySeconds: 86_400, delta: 'accesslog' },
      },
    });
    await pipeline.cli(['topics', 'create']);
    const migrated = await pipeline.cli(['migrate']);
    if (migrated.code !== 0) throw new Error(`dirstream migrate failed: ${migrated.stderr}`);

    log(`${users} users: floor, directory side (paged ldapsearch)`);
    const ldapSeconds = await ldapsearchSeconds(instance.url, instance.adminDn, instance.adminPassword);

    log(`${users} users: full sync (${directory.groups} groups, ${directory.edges} memberships)`);
    const started = performance.now();
    const applier = pipeline.startApplier();
    // The poller process with its deployed V8 flags (the spawn copies the environment at once).
    const nodeOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = pollerNodeOptions();
    const poller = pipeline.startPoller();
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
    const services = [poller, applier];
    const rss = createRssSampler(services);
    let last: Counts = { users: 0, groups: 0, memberships: 0 };
    let peaks: number[] = [];
    let fullSyncSeconds = 0;
    const latencies: number[] = [];
    let pollerRunSeconds = 0;
    try {
      await waitFor(
        'the full sync',
        Math.max(300_000, users * 6),
        services,
        async () => {
          last = await counts(pipeline as Pipeline);
          return last.users === directory.users && last.groups === directory.groups && last.memberships === directory.edges
            ? last
            : undefined;
        },
        250,
      ).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message} (last seen ${JSON.stringify(last)}, expected ${directory.users}/${directory.groups}/${directory.edges})`,
        );
      });
      fullSyncSeconds = (performance.now() - started) / 1000;

      // Steady state before the changes: the full run and a delta run are recorded.
      await waitFor(
        'the full run and a first delta run in sync_runs',
        120_000,
        services,
        async () => {
          const runs = await (pipeline as Pipeline).query<{ mode: string; seconds: number }>(
            `select mode, extract(epoch from finished_at - started_at)::float8 as seconds from sync_runs
            where profile_id = $1 and status = 'succeeded' order by started_at`,
            [(pipeline as Pipeline).profileId],
          );
          const full = runs.find((r) => r.mode === 'full');
          if (full === undefined || !runs.some((r) => r.mode === 'delta')) return undefined;
          pollerRunSeconds = Number(full.seconds);
          return true;
        },
        200,
      );

      log(`${users} users: delta latency of ${options.changes} changes`);
      const client = new Client({ url: instance.url, timeout: 30_000 });
      await client.bind(instance.adminDn, instance.adminPassword);
      const step = Math.max(1, Math.floor(directory.userDns.length / options.changes));
      const stamp = Date.now().toString(36);
      const changed = new Map<string, { title: string; at: number }>();
      try {
        for (let i = 0; i < directory.userDns.length && changed.size < options.changes; i += step) {
          const dn = directory.userDns[i] as string;
          const title = `bench ${stamp} ${i}`;
          await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: [title] }) }));
          changed.set(title, { title, at: performance.now() });
        }
      } finally {
        await client.unbind().catch(() => undefined);
      }
      const pending = new Set(changed.keys());
      await waitFor(
        `${changed.size} changed rows in PostgreSQL`,
        300_000,
        services,
        async () => {
          const rows = await (pipeline as Pipeline).query<{ title: string }>(
            'select title from users where profile_id = $1 and title like $2',
            [(pipeline as Pipeline).profileId, `bench ${stamp} %`],
          );
          const now = performance.now();
          for (const row of rows) {
            if (pending.delete(row.title)) latencies.push((now - (changed.get(row.title)?.at ?? now)) / 1000);
          }
          return pending.size === 0 ? true : undefined;
        },
        50,
      );
    } finally {
      peaks = rss.stop();
      await Promise.all(services.map((s) => s.stop()));
    }

    log(`${users} users: floor, Kafka side (ProducerPerformance)`);
    const topics = ['users', 'groups', 'memberships'].map((t) => `${(pipeline as Pipeline).prefix}.${t}`);
    const produced = await measureProduced(infra, topics);
    const kafkaSeconds = await kafkaProduceSeconds(infra, produced, PARTITIONS);

    log(`${users} users: floor, database side (COPY)`);
    const copy = await copySeconds(pipeline, dir);
    const floorSeconds = ldapSeconds + kafkaSeconds + copy;
    return {
      benchmark: 'pipeline',
      users: directory.users,
      groups: directory.groups,
      memberships: directory.edges,
      fullSyncSeconds: round(fullSyncSeconds),
      usersPerSecond: Math.round(directory.users / fullSyncSeconds),
      pollerRunSeconds: round(pollerRunSeconds),
      ldapsearchSeconds: round(ldapSeconds),
      producedRecords: produced.records,
      producedAverageBytes: produced.averageBytes,
      kafkaSeconds: round(kafkaSeconds),
      copySeconds: round(copy),
      floorSeconds: round(floorSeconds),
      ratio: round(fullSyncSeconds / floorSeconds, 1),
      deltaChanges: latencies.length,
      deltaMedianSeconds: round(median(latencies)),
      deltaMaxSeconds: round(Math.max(...latencies)),
      pollerPeakRssMiB: Math.round((peaks[0] ?? 0) / 1024),
      applierPeakRssMiB: Math.round((peaks[1] ?? 0) / 1024),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Interrupted: the handler exits once clean; nothing else (the next size or part) may start.
    if (interrupted) await new Promise<never>(() => undefined);
    await cleanup();
  }
}

export async function benchPipeline(options: BenchPipelineOptions = {}): Promise<PipelineBenchRow[]> {
  const resolved = {
    sizes: options.sizes ?? [10_000, 100_000],
    groups: options.groups ?? 2_000,
    largeGroups: options.largeGroups ?? 3,
    largeGroupSize: options.largeGroupSize ?? 20_000,
    changes: options.changes ?? 100,
    port: options.port ?? 0,
  };
  const log = options.log ?? ((line: string) => console.error(`[bench pipeline] ${line}`));
  const rows: PipelineBenchRow[] = [];
  for (const users of resolved.sizes) rows.push(await benchSize(users, resolved, log));
  return rows;
}

export function formatPipelineTable(rows: readonly PipelineBenchRow[]): string {
  const lines = [
    '| users | groups | memberships | full sync (s) | users/s | records produced (avg bytes) | floor: ldapsearch + Kafka produce + COPY (s) | ratio | delta latency median / max (s), N changes | peak RSS poller / applier (MiB) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.users} | ${r.groups} | ${r.memberships} | ${r.fullSyncSeconds} | ${r.usersPerSecond} | ${r.producedRecords} (${r.producedAverageBytes}) | ${r.floorSeconds} (${r.ldapsearchSeconds} + ${r.kafkaSeconds} + ${r.copySeconds}) | ${r.ratio}× | ${r.deltaMedianSeconds} / ${r.deltaMaxSeconds} (N=${r.deltaChanges}) | ${r.pollerPeakRssMiB} / ${r.applierPeakRssMiB} |`,
    );
  }
  lines.push(
    '',
    'Full sync: wall time from starting `dirstream poller` and `dirstream applier` (process start, Kafka and PostgreSQL connect included) to every user, group and membership in PostgreSQL' +
      ` (the poller's own run took ${rows.map((r) => `${r.pollerRunSeconds} s at ${r.users}`).join(', ')}).` +
      ' Floor: paged `ldapsearch` of the same entries and attributes + Kafka ProducerPerformance of as many records of the same average size (acks=all, idempotent, same partitions; its own measured rate) + psql `\\copy` of the same rows into tables with the same columns and indexes.' +
      ' Delta latency: LDAP modify returned → row updated in PostgreSQL, poller on a 1 s schedule (accesslog), database polled every 50 ms.',
  );
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--sizes');
  const sizes =
    at > 0
      ? (process.argv[at + 1] ?? '')
          .split(',')
          .map(Number)
          .filter((n) => n > 0)
      : undefined;
  const rows = await benchPipeline({ sizes });
  console.log(formatPipelineTable(rows));
  process.exit(0);
}
