/**
 * Poller benchmark: for N users with 2,000 groups (three of 20,000 members) in a private slapd
 * loaded offline with slapadd: the full-pass time and entries/s of one poller process, the raw
 * paged `ldapsearch` dump of the same entries and attributes (the floor) and the ratio, the
 * poller's peak RSS, and the time of a delta pass (accesslog) after 100 changes.
 *
 *   node bench/poller.ts --sizes 10000,100000
 *   node bench/poller.ts --sizes 250000 --large-group 250000   (one group of 250,000 members; slow)
 *
 * Needs Kafka and PostgreSQL from `npm run infra:up`. Prints a markdown table.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirstreamConfig, loadConfigFromText } from '@dirstream/config';
import { createLogger, createSilentLogger } from '@dirstream/logging';
import { topicNames } from '@dirstream/events';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, uniquePrefix } from '@dirstream/testing';
import { Attribute, Change, Client } from 'ldapts';
import { destination } from 'pino';
import { createSlapd, slapdInstance, startSlapd, stopSlapd } from '../infra/local/openldap.ts';
import { SAMPLE_DISABLED_FILTER, userUid, writeSampleLdif } from '../infra/sample/generate.ts';
import { timeCommand } from './child.ts';
import { kafkaProduceSeconds, measureProduced } from './kafka-floor.ts';
import { type PollerPassResult, pollerPassChild, runPollerPass } from './poller-pass.ts';

export type PollerBenchRow = {
  readonly benchmark: 'poller';
  readonly users: number;
  readonly groups: number;
  /** Users + groups read by the full pass. */
  readonly entries: number;
  readonly fullPassSeconds: number;
  /** CPU time of the poller process in the full pass (user + system). */
  readonly fullPassCpuSeconds: number;
  readonly entriesPerSecond: number;
  /** Paged ldapsearch of the same entries and attributes (users, groups with members). */
  readonly floorSeconds: number;
  readonly ratio: number;
  /** Kafka's ProducerPerformance producing as many records of the same average size (acks=all). */
  readonly kafkaSeconds: number;
  /** Full pass against LDAP dump + Kafka produce (the issue's poller goal: ≤ 2×). */
  readonly ratioWithKafka: number;
  readonly peakRssMiB: number;
  /** A second full pass over the unchanged directory (the periodic safety net). */
  readonly steadyFullSeconds: number;
  readonly steadyFullCpuSeconds: number;
  readonly deltaChanges: number;
  readonly deltaSeconds: number;
  readonly eventsEmitted: number;
  readonly note: string;
};

export type BenchPollerOptions = {
  readonly sizes?: readonly number[];
  readonly groups?: number;
  readonly largeGroups?: number;
  readonly largeGroupSize?: number;
  readonly changes?: number;
  readonly port?: number;
};

const SUFFIX = 'dc=dirstream,dc=test';
const BASE = `ou=sample,${SUFFIX}`;
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
];

/** The floor: what reading the same entries costs with OpenLDAP's own client, output discarded. */
async function ldapsearchDump(url: string, adminDn: string, password: string): Promise<number> {
  const common = ['-x', '-LLL', '-H', url, '-D', adminDn, '-w', password, '-E', 'pr=500/noprompt'];
  const users = await timeCommand('ldapsearch', [...common, '-b', `ou=people,${BASE}`, '(objectClass=inetOrgPerson)', ...USER_ATTRIBUTES]);
  const groups = await timeCommand('ldapsearch', [
    ...common,
    '-b',
    `ou=groups,${BASE}`,
    '(objectClass=groupOfNames)',
    'entryUUID',
    'cn',
    'description',
    'modifyTimestamp',
    'member',
  ]);
  return users + groups;
}

async function benchSize(users: number, options: Required<BenchPollerOptions>): Promise<PollerBenchRow> {
  const infra = loadInfra();
  const dir = mkdtempSync(join(tmpdir(), `dirstream-bench-poller-${users}-`));
  const instance = slapdInstance({ dir: join(dir, 'slapd'), port: options.port });
  const database = await createTestDatabase(infra, 'bench-poller');
  const prefix = uniquePrefix('bench-poller');
  try {
    const ou = join(dir, 'ou.ldif');
    writeFileSync(ou, `dn: ${BASE}\nobjectClass: top\nobjectClass: organizationalUnit\nou: sample\n\n`);
    const data = join(dir, 'sample.ldif');
    await writeSampleLdif(data, {
      seed: 7,
      users,
      groups: options.groups,
      largeGroups: options.largeGroups,
      largeGroupSize: options.largeGroupSize,
      baseDn: BASE,
      includeBase: false,
      disabledShare: 0.02,
    });
    await createSlapd(instance, [ou, data]);
    await startSlapd(instance);

    const raw = {
      kafka: { brokers: infra.kafka.brokers, topicPrefix: prefix, partitions: 6, clientId: 'bench-poller' },
      database: { url: database.url, pollerSchema: 'dirstream_poller', poolSize: 4 },
      logLevel: 'warn',
      profiles: [
        {
          id: randomUUID(),
          name: 'bench',
          directory: 'openldap',
          connection: { urls: [instance.url], bindDn: instance.adminDn, bindPassword: { env: 'BENCH_LDAP_PASSWORD' }, pageSize: 500 },
          users: { baseDn: `ou=people,${BASE}`, disabledFilter: SAMPLE_DISABLED_FILTER },
          groups: { baseDn: `ou=groups,${BASE}` },
          schedule: { intervalSeconds: 300, fullEverySeconds: 86_400, delta: 'accesslog', overlapSeconds: 1 },
          policies: { maxDisableCount: 1_000_000, maxDisablePercent: 100 },
        },
      ],
    };
    const config = await loadConfigFromText(JSON.stringify(raw), {
      sourceName: 'bench-poller.yaml',
      env: { BENCH_LDAP_PASSWORD: instance.adminPassword },
    });

    const floorSeconds = await ldapsearchDump(instance.url, instance.adminDn, instance.adminPassword);
    const full = await runChild(config, true);
    if (!full.ok) throw new Error(`full pass failed: ${full.reason}`);
    const topics = topicNames(prefix);
    const kafkaSeconds = await kafkaProduceSeconds(
      infra,
      await measureProduced(infra, [topics.users, topics.groups, topics.memberships]),
      6,
    );
    // The periodic safety net: a full pass over an unchanged directory (compare only, no events).
    const again = await runChild(config, true);
    if (!again.ok || again.events !== 0) throw new Error(`second full pass: ${again.reason ?? `${again.events} events`}`);

    // 100 changes: titles of spread-out users (modify), as a delta pass sees them.
    const client = new Client({ url: instance.url, timeout: 30_000 });
    await client.bind(instance.adminDn, instance.adminPassword);
    const step = Math.max(1, Math.floor(users / options.changes));
    let changed = 0;
    for (let i = 0; i < users && changed < options.changes; i += step, changed++) {
      const { searchEntries } = await client.search(`ou=people,${BASE}`, { filter: `(uid=${userUid(i)})`, attributes: ['1.1'] });
      const dn = searchEntries[0]?.dn;
      if (!dn) continue;
      await client.modify(
        dn,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: [`bench ${Date.now()}`] }) }),
      );
    }
    await client.unbind();
    const delta = await runChild(config, false);
    if (!delta.ok) throw new Error(`delta pass failed: ${delta.reason}`);

    const entries = users + options.groups;
    return {
      benchmark: 'poller',
      users,
      groups: options.groups,
      entries,
      fullPassSeconds: round(full.seconds),
      fullPassCpuSeconds: round(full.cpuSeconds),
      entriesPerSecond: Math.round(entries / full.seconds),
      floorSeconds: round(floorSeconds),
      ratio: round(full.seconds / floorSeconds),
      kafkaSeconds: round(kafkaSeconds),
      ratioWithKafka: round(full.seconds / (floorSeconds + kafkaSeconds)),
      peakRssMiB: Math.round(full.maxRssKiB / 1024),
      steadyFullSeconds: round(again.seconds),
      steadyFullCpuSeconds: round(again.cpuSeconds),
      deltaChanges: changed,
      deltaSeconds: round(delta.seconds),
      eventsEmitted: full.events,
      note: `delta mode ${delta.mode}, ${delta.events} events; full pass includes process start, Kafka/DB connect`,
    };
  } finally {
    await stopSlapd(instance).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await database.drop().catch(() => undefined);
    const admin = createKafka(infra).admin();
    await admin.connect();
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export async function benchPoller(options: BenchPollerOptions = {}): Promise<PollerBenchRow[]> {
  const resolved: Required<BenchPollerOptions> = {
    sizes: options.sizes ?? [10_000, 100_000],
    groups: options.groups ?? 2_000,
    largeGroups: options.largeGroups ?? 3,
    largeGroupSize: options.largeGroupSize ?? 20_000,
    changes: options.changes ?? 100,
    port: options.port ?? 38_511,
  };
  const rows: PollerBenchRow[] = [];
  for (const users of resolved.sizes) rows.push(await benchSize(users, resolved));
  return rows;
}

export function formatPollerTable(rows: readonly PollerBenchRow[]): string {
  const header =
    '| users | groups | full pass (s) | full pass CPU (s) | entries/s | ldapsearch floor (s) | ratio | Kafka produce floor (s) | ratio to LDAP + Kafka | peak RSS (MiB) | events | unchanged full pass (s) | unchanged pass CPU (s) | delta after N changes (s) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.users} | ${r.groups} | ${r.fullPassSeconds} | ${r.fullPassCpuSeconds} | ${r.entriesPerSecond} | ${r.floorSeconds} | ${r.ratio}× | ${r.kafkaSeconds} | ${r.ratioWithKafka}× | ${r.peakRssMiB} | ${r.eventsEmitted} | ${r.steadyFullSeconds} | ${r.steadyFullCpuSeconds} | ${r.deltaSeconds} (N=${r.deltaChanges}) |`,
  );
  return [header, ...lines].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--child')) {
    await pollerPassChild(
      process.env.BENCH_LOG
        ? createLogger({ name: 'bench-poller', level: process.env.BENCH_LOG, destination: destination({ fd: 2, sync: true }) })
        : createSilentLogger(),
    );
  } else {
    const at = process.argv.indexOf('--sizes');
    const sizes =
      at > 0
        ? (process.argv[at + 1] ?? '')
            .split(',')
            .map(Number)
            .filter((n) => n > 0)
        : undefined;
    // Opt-in (slow): one group of N members, e.g. `--sizes 250000 --large-group 250000`.
    const large = process.argv.indexOf('--large-group');
    const largeGroupSize = large > 0 ? Number(process.argv[large + 1]) : undefined;
    const rows = await benchPoller(largeGroupSize ? { sizes, largeGroups: 1, largeGroupSize } : { sizes });
    console.log(formatPollerTable(rows));
  }
}

function runChild(config: DirstreamConfig, full: boolean): Promise<PollerPassResult> {
  return runPollerPass(fileURLToPath(import.meta.url), config, full);
}
