/**
 * Applier benchmark: events/s for one and for two applier processes applying N pre-produced
 * user + membership events (half each), against the raw floor of the same run (PostgreSQL COPY
 * of the same rows into the same tables), with each applier's peak RSS.
 *
 *   node bench/applier.ts --events 500000
 *
 * Needs the local infrastructure (`npm run infra:up`). Prints a markdown table.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirstreamConfig, POLLER_DEFAULTS, SERVE_DEFAULTS } from '@dirstream/config';
import type { MembershipEvent, UserEvent } from '@dirstream/events';
import { type Codec, createCodec, eventIdFor, membershipKey, userKey } from '@dirstream/events';
import { createIdempotentProducer, ensureTopics, sendAcknowledged, type TrackedProducer } from '@dirstream/kafka';
import { createSilentLogger } from '@dirstream/logging';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, type TestDatabase, uniquePrefix } from '@dirstream/testing';
import { closeDatabase, migrate, openDatabase, runApplier } from '@dirstream/applier';
import { runBenchChild } from './child.ts';

export type BenchRow = {
  readonly benchmark: string;
  readonly scenario: string;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Peak resident set of each applier process, MiB. */
  readonly peakRssMiB: readonly number[];
  readonly note: string;
};

export type BenchApplierOptions = {
  /** Total events (half users, half memberships). */
  readonly events?: number;
  readonly partitions?: number;
};

const PROFILE = '5b0f6c1e-0000-4000-8000-00000000be0c';
/** V8 old-space cap of the applier processes (see runChild). */
export const APPLIER_HEAP_MIB = 192;
/**
 * V8 young generation of the applier processes, MiB per semi-space (see runChild). Node 24's
 * default let the RSS reach ~292 MiB (heap used ~110 MiB); 16 kept it at 195–201 MiB, 4 at
 * 174–175 MiB but for ~12 % more applier CPU in scavenges (100,000-event runs, load 7–12).
 */
export const APPLIER_SEMI_SPACE_MIB = 16;
const GROUPS = 200;

export function benchConfig(
  databaseUrl: string,
  brokers: readonly string[],
  prefix: string,
  groupId: string,
  partitions: number,
): DirstreamConfig {
  return {
    kafka: { brokers: [...brokers], clientId: 'bench', topicPrefix: prefix, partitions, replicationFactor: 1, ssl: false },
    database: { url: databaseUrl, pollerSchema: 'dirstream_poller', poolSize: 6 },
    applier: { groupId, maxBatchSize: 2_000, metricsHost: '127.0.0.1', metricsPort: 0, seatLimit: 0, applyRetries: 3 },
    poller: POLLER_DEFAULTS,
    serve: SERVE_DEFAULTS,
    logLevel: 'warn',
    profiles: [
      {
        id: PROFILE,
        name: 'bench',
        directory: 'openldap',
        enabled: true,
        connection: {
          urls: ['ldap://127.0.0.1:1'],
          startTls: false,
          tls: { rejectUnauthorized: true },
          bindDn: 'cn=bench',
          bindPassword: 'unused',
          connectTimeoutMs: 1_000,
          timeoutMs: 1_000,
          pageSize: 500,
        },
        users: { baseDn: 'ou=people,dc=bench', scope: 'sub', attributes: { extra: {} } },
        schedule: { intervalSeconds: 300, fullEverySeconds: 86_400, delta: 'auto', overlapSeconds: 5 },
        policies: {
          removedUsers: 'disable',
          onlyGroupMembers: false,
          maxDisableCount: 100,
          maxDisablePercent: 10,
          allowMassDisable: false,
          conflictPolicy: 'skip',
          groupRoles: { 'group-0': ['reader'] },
        },
      },
    ],
  } as DirstreamConfig;
}

const SOURCE = {
  profileId: PROFILE,
  directoryType: 'openldap',
  server: 'ldap://bench',
  position: null,
  runId: 'bench-run',
  mode: 'full',
} as const;
const TIMES = { changedAt: 1_700_000_000_000, observedAt: 1_700_000_000_000, emittedAt: 1_700_000_000_000 };

export function userAt(i: number): UserEvent {
  const externalId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  const login = `user${i}`;
  return {
    eventId: eventIdFor('user', PROFILE, externalId, '1'),
    op: 'created',
    profileId: PROFILE,
    externalId,
    version: 1,
    state: {
      externalId,
      sid: null,
      sidHistory: [],
      dn: `uid=${login},ou=people,dc=bench`,
      loginName: login,
      userPrincipalName: null,
      displayName: `User ${i}`,
      givenName: 'Bench',
      surname: `User${i}`,
      emails: [`${login}@bench.test`],
      phone: null,
      title: 'Engineer',
      company: 'Bench Inc',
      enabled: true,
      disabledReason: null,
      attributes: {},
    },
    changed: ['loginName', 'displayName', 'emails'],
    rename: null,
    source: SOURCE,
    times: TIMES,
  };
}

export function membershipAt(i: number): MembershipEvent {
  const memberId = userAt(i).externalId;
  const groupId = `group-${i % GROUPS}`;
  return {
    eventId: eventIdFor('membership', PROFILE, groupId, memberId, '1'),
    op: 'added',
    profileId: PROFILE,
    groupId,
    memberId,
    memberType: 'user',
    version: 1,
    source: SOURCE,
    times: TIMES,
  };
}

/** Produces users 0..users-1 and memberships 0..edges-1 (userAt / membershipAt), every record acknowledged. */
export async function produceSyntheticEvents(
  producer: TrackedProducer,
  codec: Codec,
  prefix: string,
  users: number,
  edges: number,
): Promise<void> {
  for (let i = 0; i < users; i += 2_000) {
    const batch = Array.from({ length: Math.min(2_000, users - i) }, (_, k) => userAt(i + k));
    await sendAcknowledged(producer, {
      topic: `${prefix}.users`,
      acks: -1,
      messages: batch.map((u) => ({ key: userKey(u.profileId, u.externalId), value: codec.encode('user-event', u) })),
    });
  }
  for (let i = 0; i < edges; i += 2_000) {
    const batch = Array.from({ length: Math.min(2_000, edges - i) }, (_, k) => membershipAt(i + k));
    await sendAcknowledged(producer, {
      topic: `${prefix}.memberships`,
      acks: -1,
      messages: batch.map((m) => ({ key: membershipKey(m.profileId, m.groupId, m.memberId), value: codec.encode('membership-event', m) })),
    });
  }
}

export type ChildResult = { ok: boolean; reason?: string; maxRssKiB: number; cpuSeconds?: number };

/**
 * Seconds to COPY the users and memberships, and then the sync_log rows the applier writes with
 * them (one per applied object: the object timeline and the run log read them).
 */
async function copyFloor(
  database: TestDatabase,
  config: DirstreamConfig,
  users: number,
  edges: number,
): Promise<{ entities: number; log: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dirstream-bench-'));
  chmodSync(dir, 0o755);
  const usersFile = join(dir, 'users.tsv');
  const edgesFile = join(dir, 'memberships.tsv');
  const logFile = join(dir, 'sync-log.tsv');
  const write = (file: string, count: number, line: (i: number) => string) =>
    new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file, { mode: 0o644 });
      out.once('error', reject);
      for (let i = 0; i < count; i++) out.write(line(i));
      out.end(resolve);
    });
  await write(usersFile, users, (i) => {
    const u = userAt(i);
    const s = u.state;
    return `${PROFILE}\t${u.externalId}\tdirectory\t${s.loginName}\t${s.displayName}\t${s.givenName}\t${s.surname}\t{${s.emails[0]}}\t${s.title}\t${s.company}\t${s.dn}\tt\t1\t${u.eventId}\t{}\n`;
  });
  await write(edgesFile, edges, (i) => {
    const m = membershipAt(i);
    return `${PROFILE}\t${m.groupId}\t${m.memberId}\tuser\tt\t1\n`;
  });
  await write(logFile, users + edges, (i) => {
    if (i < users) {
      const u = userAt(i);
      return `bench-run\t${PROFILE}\tuser\t${u.externalId}\tcreated\t1\t${JSON.stringify(u.changed)}\t\n`;
    }
    const m = membershipAt(i - users);
    return `bench-run\t${PROFILE}\tmembership\t${m.memberId}\tadded\t1\t\\N\t${m.groupId}\n`;
  });
  const db = await openDatabase(config, { poolSize: 1 });
  try {
    const started = performance.now();
    await db.query(
      `copy users (profile_id, external_id, source, login_name, display_name, given_name, surname, emails, title,
         company, dn, enabled, version, last_event_id, attributes) from '${usersFile}'`,
    );
    await db.query(`copy memberships (profile_id, group_id, member_id, member_type, present, version) from '${edgesFile}'`);
    const entities = (performance.now() - started) / 1000;
    const logStarted = performance.now();
    await db.query(`copy sync_log (run_id, profile_id, entity, external_id, op, version, changed, related_id) from '${logFile}'`);
    return { entities, log: (performance.now() - logStarted) / 1000 };
  } finally {
    await closeDatabase(db);
    rmSync(dir, { recursive: true, force: true });
    void database;
  }
}

export async function benchApplier(options: BenchApplierOptions = {}): Promise<BenchRow[]> {
  const total = options.events ?? 500_000;
  const partitions = options.partitions ?? 6;
  const users = Math.ceil(total / 2);
  const edges = total - users;
  const infra = loadInfra();
  const prefix = uniquePrefix('bench-applier');
  const kafka = createKafka(infra, `${prefix}-bench`);
  const admin = kafka.admin();
  await admin.connect();
  const databases: TestDatabase[] = [];
  const rows: BenchRow[] = [];
  try {
    await ensureTopics(admin, { prefix, partitions });
    const codec = createCodec();
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const produceStarted = performance.now();
    await produceSyntheticEvents(producer, codec, prefix, users, edges);
    await producer.disconnect();
    const produceSeconds = (performance.now() - produceStarted) / 1000;

    const scenario = async (name: string, instances: number) => {
      const database = await createTestDatabase(infra, 'bench-applier');
      databases.push(database);
      const config = benchConfig(database.url, infra.kafka.brokers, prefix, `${prefix}-${randomUUID().slice(0, 8)}`, partitions);
      await migrate({ config });
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: instances }, () => runChild(config)));
      const seconds = (performance.now() - started) / 1000;
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined) throw new Error(`applier failed: ${failed.reason}`);
      const db = await openDatabase(config, { poolSize: 1 });
      const [count] = await db.query<{ u: string; m: string }>(
        'select (select count(*) from users) as u, (select count(*) from memberships) as m',
      );
      await closeDatabase(db);
      if (Number(count?.u) !== users || Number(count?.m) !== edges) {
        throw new Error(`expected ${users} users and ${edges} edges, found ${count?.u} and ${count?.m}`);
      }
      rows.push({
        benchmark: 'applier',
        scenario: name,
        events: total,
        seconds,
        eventsPerSecond: total / seconds,
        peakRssMiB: results.map((r) => r.maxRssKiB / 1024),
        note: `${partitions} partitions per topic; includes process start, migrations check and group join`,
      });
      return config;
    };

    await scenario('1 instance', 1);
    await scenario('2 instances, same group', 2);

    const floorDb = await createTestDatabase(infra, 'bench-floor');
    databases.push(floorDb);
    const floorConfig = benchConfig(floorDb.url, infra.kafka.brokers, prefix, 'unused', partitions);
    await migrate({ config: floorConfig });
    const floor = await copyFloor(floorDb, floorConfig, users, edges);
    const floorSeconds = floor.entities;
    rows.push({
      benchmark: 'applier',
      scenario: 'raw floor: COPY of the same rows',
      events: total,
      seconds: floorSeconds,
      eventsPerSecond: total / floorSeconds,
      peakRssMiB: [],
      note: `server-side COPY into the same indexed tables; producing the events took ${produceSeconds.toFixed(1)} s`,
    });
    rows.push({
      benchmark: 'applier',
      scenario: 'raw floor with the sync log: the same COPY + one sync_log row per object',
      events: total,
      seconds: floor.entities + floor.log,
      eventsPerSecond: total / (floor.entities + floor.log),
      peakRssMiB: [],
      note: `the applier writes these log rows too (object timeline, run log); their COPY took ${floor.log.toFixed(2)} s`,
    });
    return rows;
  } finally {
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
    for (const db of databases) await db.drop().catch(() => undefined);
  }
}

export function formatApplierTable(rows: readonly BenchRow[]): string {
  const lines = ['| scenario | events | seconds | events/s | peak RSS (MiB) | note |', '| --- | ---: | ---: | ---: | ---: | --- |'];
  for (const r of rows) {
    lines.push(
      `| ${r.scenario} | ${r.events} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSecond)} | ${
        r.peakRssMiB.length === 0 ? '–' : r.peakRssMiB.map((m) => m.toFixed(0)).join(' / ')
      } | ${r.note} |`,
    );
  }
  return lines.join('\n');
}

async function child(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_APPLIER_CONFIG ?? '{}') as DirstreamConfig;
  const controller = new AbortController();
  process.once('SIGTERM', () => controller.abort());
  const result = await runApplier({ config, logger: createSilentLogger(), signal: controller.signal }, { untilCaughtUp: true });
  const usage = process.resourceUsage();
  const cpuSeconds = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  process.stdout.write(`${JSON.stringify({ ...result, maxRssKiB: usage.maxRSS, cpuSeconds })}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--child')) {
    await child();
  } else {
    const at = process.argv.indexOf('--events');
    const events = at > 0 ? Number(process.argv[at + 1]) : 500_000;
    const rows = await benchApplier({ events });
    console.log(formatApplierTable(rows));
  }
}

/** Runs one applier process until the group has no lag; resolves with its peak RSS. */
export function runChild(config: DirstreamConfig): Promise<ChildResult> {
  // The heap settings a container of 256 MiB would set: without a cap, V8 lets a busy applier's
  // heap grow to ~400 MiB before collecting, because nothing asks it not to.
  return runBenchChild(fileURLToPath(import.meta.url), {
    BENCH_APPLIER_CONFIG: JSON.stringify(config),
    NODE_OPTIONS:
      `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${APPLIER_HEAP_MIB} --max-semi-space-size=${APPLIER_SEMI_SPACE_MIB}`.trim(),
  });
}
