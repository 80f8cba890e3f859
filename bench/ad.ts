/**
 * Active Directory benchmark: a private Samba AD DC on 127.0.0.4 restored from a cached, seeded
 * snapshot (default 10,000 users in three OUs, 26 groups of which three hold > 3,000 members).
 * Measures, in one run against the same DC: the raw paged `ldapsearch` of the users and groups
 * (the floor), the poller's full pass (one process: LDAP → diff → Kafka → state), and its `usn`
 * delta pass after N modifications; entries/s and the ratio to the floor.
 *
 *   node bench/ad.ts [--users 10000] [--changes 100]
 *
 * Needs Kafka and PostgreSQL from `npm run infra:up`. Prints a markdown table.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirstreamConfig, loadConfigFromText } from '@dirstream/config';
import { createSilentLogger } from '@dirstream/logging';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, uniquePrefix } from '@dirstream/testing';
import { Attribute, Change } from 'ldapts';
import { ensureAptPackages } from '../infra/local/apt.ts';
import { STATE_DIR } from '../infra/local/paths.ts';
import {
  caFileOf,
  ensureSeededSambaDc,
  SAMBA_ADMIN_DN,
  SAMBA_BASE_DN,
  sambaAdminClient,
  sambaDc,
  sambaServerName,
  snapshotDirFor,
  stopSambaDc,
} from '../infra/local/samba.ts';
import { type AdFixtureOptions, fixtureUserLogin } from '../infra/sample/ad-fixture.ts';
import { timeCommand } from './child.ts';
import { type PollerPassResult, pollerPassChild, runPollerPass } from './poller-pass.ts';

export type AdBenchRow = {
  readonly benchmark: 'active-directory';
  readonly users: number;
  readonly groups: number;
  /** Users + groups read by the full pass. */
  readonly entries: number;
  readonly fullPassSeconds: number;
  readonly entriesPerSecond: number;
  /** Raw paged ldapsearch (LDAPS, page 1000) of the same users and groups with the same attributes. */
  readonly floorSeconds: number;
  readonly floorEntriesPerSecond: number;
  readonly ratio: number;
  readonly deltaChanges: number;
  readonly deltaSeconds: number;
  readonly deltaEvents: number;
  readonly eventsEmitted: number;
  readonly note: string;
};

export type BenchAdOptions = { readonly users?: number; readonly changes?: number; readonly ip?: string };

const USER_ATTRIBUTES = [
  'objectGUID',
  'sAMAccountName',
  'displayName',
  'cn',
  'name',
  'whenChanged',
  'uSNChanged',
  'givenName',
  'sn',
  'mail',
  'telephoneNumber',
  'title',
  'company',
  'userPrincipalName',
  'objectSid',
  'sIDHistory',
  'userAccountControl',
  'msDS-User-Account-Control-Computed',
  'lockoutTime',
  'accountExpires',
  'primaryGroupID',
];
const GROUP_ATTRIBUTES = ['objectGUID', 'cn', 'description', 'whenChanged', 'objectSid', 'uSNChanged', 'member'];

function benchFixture(users: number): AdFixtureOptions {
  return {
    ou: 'bench',
    userOus: ['staff', 'contractors', 'sales'],
    users,
    disabledEvery: 50,
    passwordUsers: 0,
    groups: 20,
    bulkMembers: 0,
  };
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * The floor: OpenLDAP's ldapsearch over LDAPS with the DC's CA, certificate name verified. The
 * certificate names dc1.dirstream.test, so nss_wrapper maps that name to the DC's address for
 * this one process (no change to /etc/hosts).
 */
async function ldapsearchFloor(ip: string, caFile: string, password: string, baseDn: string, dir: string): Promise<number> {
  await ensureAptPackages(['libnss-wrapper', 'ldap-utils']);
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, `${ip} dc1.dirstream.test\n`);
  const env = {
    ...process.env,
    LD_PRELOAD: 'libnss_wrapper.so',
    NSS_WRAPPER_HOSTS: hosts,
    LDAPTLS_CACERT: caFile,
    LDAPTLS_REQCERT: 'demand',
  };
  const common = ['-x', '-LLL', '-H', 'ldaps://dc1.dirstream.test:636', '-D', SAMBA_ADMIN_DN, '-w', password, '-E', 'pr=1000/noprompt'];
  const started = process.hrtime.bigint();
  await timeCommand('ldapsearch', [...common, '-b', baseDn, '(&(objectClass=user)(!(objectClass=computer)))', ...USER_ATTRIBUTES], env);
  await timeCommand('ldapsearch', [...common, '-b', baseDn, '(objectClass=group)', ...GROUP_ATTRIBUTES], env);
  return seconds(started);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export async function benchAd(options: BenchAdOptions = {}): Promise<AdBenchRow[]> {
  const users = options.users ?? 10_000;
  const changes = options.changes ?? 100;
  const fixture = benchFixture(users);
  const infra = loadInfra();
  const dc = sambaDc({ dir: join(STATE_DIR, 'samba', 'bench'), ip: options.ip ?? '127.0.0.4' });
  const dir = mkdtempSync(join(tmpdir(), 'dirstream-bench-ad-'));
  const database = await createTestDatabase(infra, 'bench-ad');
  const prefix = uniquePrefix('bench-ad');
  const seedStarted = process.hrtime.bigint();
  const cached = existsSync(snapshotDirFor(fixture));
  try {
    await ensureSeededSambaDc(dc, fixture, (line) => console.error(`[bench] ${line}`));
    const seedSeconds = seconds(seedStarted);
    const baseDn = `OU=${fixture.ou},${SAMBA_BASE_DN}`;
    const raw = {
      kafka: { brokers: infra.kafka.brokers, topicPrefix: prefix, partitions: 6, clientId: 'bench-ad' },
      database: { url: database.url, pollerSchema: 'dirstream_poller', poolSize: 4 },
      logLevel: 'warn',
      profiles: [
        {
          id: randomUUID(),
          name: 'bench-ad',
          directory: 'active-directory',
          connection: {
            urls: [`ldaps://${dc.ip}:636`],
            tls: { caFile: caFileOf(dc.dir), serverName: sambaServerName(dc) },
            bindDn: SAMBA_ADMIN_DN,
            bindPassword: { env: 'BENCH_AD_PASSWORD' },
            pageSize: 1000,
          },
          users: { baseDn },
          groups: { baseDn },
          schedule: { intervalSeconds: 300, fullEverySeconds: 86_400, delta: 'usn' },
          policies: { maxDisableCount: 1_000_000, maxDisablePercent: 100 },
        },
      ],
    };
    const config = await loadConfigFromText(JSON.stringify(raw), {
      sourceName: 'bench-ad.yaml',
      env: { BENCH_AD_PASSWORD: dc.adminPassword },
    });

    // A freshly started DC reads from cold caches: warm it with one untimed dump first, so the
    // floor and the poller both meet a warm DC.
    await ldapsearchFloor(dc.ip, caFileOf(dc.dir), dc.adminPassword, baseDn, dir);
    const floorSeconds = await ldapsearchFloor(dc.ip, caFileOf(dc.dir), dc.adminPassword, baseDn, dir);
    const full = await runChild(config, true);
    if (!full.ok) throw new Error(`full pass failed: ${full.reason}`);

    const client = await sambaAdminClient(dc);
    const step = Math.max(1, Math.floor(users / changes));
    let changed = 0;
    try {
      for (let i = 0; i < users && changed < changes; i += step, changed++) {
        const { searchEntries } = await client.search(baseDn, { filter: `(sAMAccountName=${fixtureUserLogin(i)})`, attributes: ['1.1'] });
        const userDn = searchEntries[0]?.dn;
        if (!userDn) continue;
        await client.modify(
          userDn,
          new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: [`bench ${Date.now()}`] }) }),
        );
      }
    } finally {
      await client.unbind();
    }
    const delta = await runChild(config, false);
    if (!delta.ok) throw new Error(`delta pass failed: ${delta.reason}`);
    const groups = full.entries - users;
    return [
      {
        benchmark: 'active-directory',
        users,
        groups,
        entries: full.entries,
        fullPassSeconds: round(full.seconds),
        entriesPerSecond: Math.round(full.entries / full.seconds),
        floorSeconds: round(floorSeconds),
        floorEntriesPerSecond: Math.round(full.entries / floorSeconds),
        ratio: round(full.seconds / floorSeconds),
        deltaChanges: changed,
        deltaSeconds: round(delta.seconds),
        deltaEvents: delta.events,
        eventsEmitted: full.events,
        note: `Samba ${dc.ip}, delta mode ${delta.mode}; DC ready in ${round(seedSeconds)} s (${
          cached ? 'restored from the cached snapshot' : 'provisioned and seeded now, then snapshotted'
        }); pass times are measured in the poller process and include its Kafka and PostgreSQL connect`,
      },
    ];
  } finally {
    await stopSambaDc(dc.dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await database.drop().catch(() => undefined);
    const admin = createKafka(infra).admin();
    await admin.connect();
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
  }
}

export function formatAdTable(rows: readonly AdBenchRow[]): string {
  const header =
    '| users | groups | entries | full pass (s) | entries/s | ldapsearch (s) | ldapsearch entries/s | ratio | events | delta after N changes (s) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map(
    (r) =>
      `| ${r.users} | ${r.groups} | ${r.entries} | ${r.fullPassSeconds} | ${r.entriesPerSecond} | ${r.floorSeconds} | ${r.floorEntriesPerSecond} | ${r.ratio}× | ${r.eventsEmitted} | ${r.deltaSeconds} (N=${r.deltaChanges}, ${r.deltaEvents} events) |`,
  );
  return [header, ...lines, '', ...rows.map((r) => `${r.users} users: ${r.note}`)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--child')) {
    await pollerPassChild(createSilentLogger());
  } else {
    const arg = (name: string) => {
      const at = process.argv.indexOf(name);
      return at > 0 ? Number(process.argv[at + 1]) : undefined;
    };
    const rows = await benchAd({ users: arg('--users'), changes: arg('--changes') });
    console.log(formatAdTable(rows));
  }
}

function runChild(config: DirstreamConfig, full: boolean): Promise<PollerPassResult> {
  return runPollerPass(fileURLToPath(import.meta.url), config, full);
}
