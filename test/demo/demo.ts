/**
 * `npm run demo`: the whole product on this machine in a few minutes.
 *
 * Starts (or reuses) the local PostgreSQL, Kafka and OpenLDAP, seeds a sample directory in its own
 * subtree (ou=demo, re-created on every run), writes .dirstream/demo/dirstream.yaml, creates the
 * topics and the tables, runs a poller and an applier (the real `dirstream` CLI, logs in files),
 * waits for the full sync, then makes live directory changes and shows each one flowing through:
 * the change event on the topic, the row in PostgreSQL and the downstream user-lifecycle event.
 *
 *   npm run demo [-- --users 3000 --groups 150 --interval 2 --keep]
 *
 * --keep          leave the poller and the applier running (and the data) after the demo
 * --users N       directory size (default 3000); --groups M (default 150)
 * --interval S    poller interval in seconds (default 2)
 * --timeout S     bound of each wait (default: 120 s, more for large directories)
 * --name NAME     subtree ou=NAME, database dirstream_NAME, topics NAME.<run>.…, state .dirstream/NAME
 *                 (default demo; the test uses a unique name)
 * --cleanup       at the end remove the subtree, database, topics and state folder (tests)
 *
 * Exit 0 only when every step was seen to happen; each wait is bounded and names what it waited for.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createDatabase, databaseUrl as databaseUrlOf, dropDatabase } from '@dirstream/db';
import { topicNames } from '@dirstream/events';
import { deleteTopics, type Infra, loadInfra } from '@dirstream/testing';
import pg from 'pg';
import { stringify } from 'yaml';
import { SAMPLE_DISABLED_FILTER } from '../../infra/sample/generate.ts';
import {
  addValue,
  connect,
  deleteValue,
  type DirectoryAccess,
  removeSubtree,
  replace,
  type SeededDirectory,
  seedSubtree,
} from './directory.ts';
import { CLI, NODE, ROOT, runLogged, type Service, startService, stopLeftover, tail } from './processes.ts';
import { createKafkaClient, type Seen, type TopicWatch, watchTopics } from './watch.ts';

// `npm run demo | head` closes stdout early: keep going (and clean up) instead of dying on EPIPE.
process.stdout.on('error', () => undefined);

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '3000' },
    groups: { type: 'string', default: '150' },
    interval: { type: 'string', default: '2' },
    timeout: { type: 'string' },
    name: { type: 'string', default: 'demo' },
    keep: { type: 'boolean', default: false },
    cleanup: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log('npm run demo -- [--users 3000] [--groups 150] [--interval 2] [--timeout S] [--keep] [--name demo] [--cleanup]');
  process.exit(0);
}

const USERS = Number(args.users);
const GROUPS = Number(args.groups);
const INTERVAL = Number(args.interval);
const NAME = args.name;
if (!Number.isInteger(USERS) || USERS < 50 || !Number.isInteger(GROUPS) || GROUPS < 10 || !Number.isInteger(INTERVAL) || INTERVAL < 1) {
  console.error('usage: npm run demo -- [--users N≥50] [--groups M≥10] [--interval S≥1] [--timeout S] [--keep] [--name NAME] [--cleanup]');
  process.exit(2);
}
if (!/^[a-z][a-z0-9-]{0,40}$/.test(NAME)) {
  console.error('--name: lowercase letters, digits and dashes, starting with a letter');
  process.exit(2);
}
const WAIT_MS = (args.timeout === undefined ? Math.max(120, Math.ceil(USERS / 40)) : Number(args.timeout)) * 1000;

const STATE = join(ROOT, '.dirstream', NAME);
const CONFIG = join(STATE, 'dirstream.yaml');
const DATABASE = `dirstream_${NAME.replace(/-/g, '_')}`;
const rel = (path: string) => relative(process.cwd(), path) || '.';

class StepFailed extends Error {
  override name = 'StepFailed';
}

let lineOpen = false;
const say = (line = '') => {
  console.log(line);
  lineOpen = false;
};
/** Starts a line that the step's outcome completes ("… done"). */
const progress = (text: string) => {
  process.stdout.write(text);
  lineOpen = true;
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const plus = (ms: number) => `(+${(ms / 1000).toFixed(1)} s)`;
const count = (n: number) => n.toLocaleString('en-US');

/** A profile id derived from the name: stable across runs of the same demo. */
function profileIdFor(name: string): string {
  const hex = createHash('sha256').update(`dirstream-demo/${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Polls `probe` until it returns a value; throws StepFailed naming `what` after `timeoutMs`. */
async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  services: readonly Service[],
  lastSeen: () => string = () => '',
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    for (const service of services) {
      const ended = service.exited();
      if (ended !== null) {
        throw new StepFailed(
          `the ${service.name} stopped (${ended}) while waiting for ${what}; its log ends with:\n${tail(service.logFile)}`,
        );
      }
    }
    if (Date.now() > deadline) {
      const last = lastSeen();
      throw new StepFailed(`timed out after ${seconds(timeoutMs)} waiting for ${what}${last === '' ? '' : ` (last seen: ${last})`}`);
    }
    await sleep(100);
  }
}

type Check = {
  readonly label: string;
  readonly probe: () => Promise<{ line: string; at: number } | undefined> | { line: string; at: number } | undefined;
  readonly what: string;
};
type ChangeTiming = { readonly change: string; readonly latencies: Record<string, number> };

const started = Date.now();

async function main(): Promise<number> {
  const timings: Record<string, number> = {};
  const changeTimings: ChangeTiming[] = [];
  mkdirSync(STATE, { recursive: true });
  const logs = {
    infra: join(STATE, 'infra.log'),
    setup: join(STATE, 'setup.log'),
    poller: join(STATE, 'poller.log'),
    applier: join(STATE, 'applier.log'),
  };
  const pidFiles = { poller: join(STATE, 'poller.pid'), applier: join(STATE, 'applier.pid') };
  for (const file of [logs.infra, logs.setup]) writeFileSync(file, '');

  say(`dirstream demo: ${count(USERS)} directory users → Kafka → PostgreSQL, then live changes`);
  say(`state and logs in ${rel(STATE)}/`);
  say();

  // A previous `--keep` run may still have its services running on the same configuration.
  for (const [name, pidFile] of Object.entries(pidFiles)) {
    const pid = await stopLeftover(pidFile, CONFIG);
    if (pid !== null) say(`stopped the ${name} a previous demo left running (pid ${pid})`);
  }

  // 1. Infrastructure
  let t = Date.now();
  say(
    `[1/8] infrastructure: PostgreSQL, Kafka, OpenLDAP (node infra/local/cli.ts up; the first time it installs packages and downloads Kafka)`,
  );
  const infraRun = await runLogged(NODE, ['infra/local/cli.ts', 'up', 'postgres', 'kafka', 'openldap'], logs.infra, 20 * 60_000, (line) => {
    if (line.startsWith('[infra] ')) say(`      ${line.slice('[infra] '.length)}`);
  });
  if (infraRun.code !== 0)
    throw new StepFailed(`\`node infra/local/cli.ts up\` failed (${infraRun.code}); ${rel(logs.infra)} ends with:\n${tail(logs.infra)}`);
  const infra: Infra = loadInfra();
  timings.infrastructure = Date.now() - t;
  say(
    `      ready (${seconds(timings.infrastructure)}): Kafka ${infra.kafka.brokers.join(',')} · OpenLDAP ${infra.openldap.url} · PostgreSQL ${infra.postgres.url}`,
  );

  // 2. Directory
  const access: DirectoryAccess = { url: infra.openldap.url, adminDn: infra.openldap.adminDn, adminPassword: infra.openldap.adminPassword };
  const baseDn = `ou=${NAME},${infra.openldap.suffix}`;
  t = Date.now();
  say(`[2/8] directory: ${baseDn}`);
  progress('      removing what a previous demo left … ');
  const removed = await removeSubtree(access, baseDn, { settle: true });
  say(removed > 0 ? `${count(removed)} entries (${seconds(Date.now() - t)})` : 'nothing');
  const seedStarted = Date.now();
  progress('      seeding a sample directory online (ldapts, 4 connections) … ');
  const largeGroupSize = Math.min(1_000, Math.floor(USERS / 3));
  const seeded = await seedSubtree(access, {
    seed: 42,
    users: USERS,
    groups: GROUPS,
    largeGroups: 1,
    largeGroupSize,
    baseDn,
    includeBase: false,
    disabledShare: 0.02,
  });
  timings.seed = Date.now() - seedStarted;
  const disabledAtStart = seeded.users.filter((u) => u.disabled).length;
  say(`done (${seconds(timings.seed)})`);
  say(
    `      ${count(seeded.users.length)} users (${disabledAtStart} disabled by ${SAMPLE_DISABLED_FILTER}), ${count(seeded.groups.length)} groups ` +
      `(nested, one cycle, one of ${count(largeGroupSize)} members), ${count(seeded.edges)} direct memberships`,
  );

  // 3. Configuration, database, topic prefix
  const profileId = profileIdFor(NAME);
  // `<name>.<run>`: a name has no dot, so this run's prefix and earlier runs' topics are told apart
  // from other demos' (`demo` vs `demo-2`).
  const prefix = `${NAME}.${Date.now().toString(36)}`;
  await createDatabase(infra.postgres.url, DATABASE, { replace: true });
  const databaseUrl = databaseUrlOf(infra.postgres.url, DATABASE);
  const kafka = createKafkaClient(infra.kafka.brokers);
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const oldTopics = (await kafkaAdmin.listTopics()).filter((topic) => topic.split('.').length === 3 && topic.split('.')[0] === NAME);
  if (oldTopics.length > 0) await kafkaAdmin.deleteTopics({ topics: oldTopics, timeout: 30_000 }).catch(() => undefined);
  await kafkaAdmin.disconnect();
  writeFileSync(join(STATE, 'ldap-password'), `${infra.openldap.adminPassword}\n`, { mode: 0o600 });
  const config = {
    logLevel: 'info',
    kafka: { brokers: [...infra.kafka.brokers], clientId: `dirstream-${NAME}`, topicPrefix: prefix, partitions: 3, replicationFactor: 1 },
    database: { url: databaseUrl, pollerSchema: 'dirstream_poller', poolSize: 4 },
    applier: { groupId: `${prefix}-applier`, metricsPort: 0 },
    profiles: [
      {
        id: profileId,
        name: NAME,
        directory: 'openldap',
        connection: {
          urls: [infra.openldap.url],
          bindDn: infra.openldap.adminDn,
          bindPassword: { file: 'ldap-password' },
          pageSize: 500,
        },
        users: { baseDn: seeded.peopleDn, filter: '(objectClass=inetOrgPerson)', disabledFilter: SAMPLE_DISABLED_FILTER },
        groups: { baseDn: seeded.groupsDn, nested: true },
        schedule: { intervalSeconds: INTERVAL, fullEverySeconds: 86_400, delta: 'accesslog' },
        policies: { removedUsers: 'disable', maxDisableCount: 100, maxDisablePercent: 10, groupRoles: { 'group-0000': ['demo-admin'] } },
      },
    ],
  };
  writeFileSync(
    CONFIG,
    `# Written by \`npm run demo\` (test/demo/demo.ts); re-created on every run. Keys: docs/configuration.md\n${stringify(config)}`,
  );
  say(`[3/8] configuration: ${rel(CONFIG)}`);
  say(`      profile ${NAME} (${profileId}), topics ${prefix}.*, database ${DATABASE}, poller every ${INTERVAL} s (accesslog deltas)`);

  // 4. Topics and tables, through the CLI
  t = Date.now();
  const topicsRun = await runLogged(NODE, [CLI, 'topics', 'create', '--config', CONFIG], logs.setup, 120_000);
  if (topicsRun.code !== 0) throw new StepFailed(`dirstream topics create failed (${topicsRun.code}):\n${topicsRun.output.trim()}`);
  const migrateRun = await runLogged(NODE, [CLI, 'migrate', '--config', CONFIG], logs.setup, 120_000);
  if (migrateRun.code !== 0) throw new StepFailed(`dirstream migrate failed (${migrateRun.code}):\n${migrateRun.output.trim()}`);
  const created = topicsRun.output.split('\n').filter((l) => l.startsWith('created ')).length;
  say(
    `[4/8] dirstream topics create: ${created} topics; dirstream migrate: tables ready (${seconds(Date.now() - t)}, output in ${rel(logs.setup)})`,
  );

  // 5. Services
  const watch = await watchTopics(kafka, prefix);
  const services: Service[] = [];
  const db = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  db.on('error', () => undefined);
  const state: RunState = { services, watch, db, seeded, profileId, prefix, databaseUrl, logs };
  current = state;
  try {
    const applier = startService('applier', ['applier'], CONFIG, logs.applier, pidFiles.applier);
    services.push(applier);
    const syncStarted = Date.now();
    const poller = startService('poller', ['poller'], CONFIG, logs.poller, pidFiles.poller);
    services.push(poller);
    say(`[5/8] services started (NDJSON logs in files):`);
    say(`      poller  pid ${poller.pid}  ${rel(logs.poller)}`);
    say(`      applier pid ${applier.pid}  ${rel(logs.applier)}`);

    // 6. Full sync
    progress('[6/8] full sync: waiting for every user, group and membership in PostgreSQL … ');
    const expectedEnabled = seeded.users.length - disabledAtStart;
    let lastCounts: Counts = { users: 0, enabled: 0, groups: 0, memberships: 0 };
    const full = await waitUntil(
      `the full sync (${seeded.users.length} users, ${seeded.groups.length} groups, ${seeded.edges} memberships in ${DATABASE})`,
      async () => {
        const c = await tableCounts(db, profileId);
        lastCounts = c;
        return c.users === seeded.users.length && c.groups === seeded.groups.length && c.memberships === seeded.edges ? c : undefined;
      },
      services,
      () => `${lastCounts.users} users, ${lastCounts.groups} groups, ${lastCounts.memberships} memberships in the database`,
    );
    timings.fullSync = Date.now() - syncStarted;
    say(`done (${seconds(timings.fullSync)}, ${count(Math.round(seeded.users.length / (timings.fullSync / 1000)))} users/s end to end)`);
    const run = watch.seen.find((s): s is Extract<Seen, { kind: 'sync-run' }> => s.kind === 'sync-run' && s.event.mode === 'full');
    if (run !== undefined) {
      const c = run.event.counts;
      say(
        `      sync run ${run.event.runId} (${run.event.mode}, ${run.event.status}, ${seconds(run.event.finishedAt - run.event.startedAt)} in the poller): ` +
          `${count(c.entriesRead)} entries read, ${count(c.created)} users created, ${count(c.groupsCreated)} groups, ${count(c.membershipsAdded)} memberships, ${c.errors} errors`,
      );
    }
    say(
      `      PostgreSQL: ${count(full.users)} users (${count(full.enabled)} enabled), ${count(full.groups)} groups, ${count(full.memberships)} memberships`,
    );
    if (full.enabled !== expectedEnabled) {
      throw new StepFailed(`expected ${expectedEnabled} enabled users after the full sync, found ${full.enabled}`);
    }

    // 7. Live changes
    say('[7/8] live directory changes');
    await liveChanges(state, changeTimings);

    // 8. Summary
    const totals = await tableCounts(db, profileId);
    const runs = await db.query<{ mode: string; status: string; n: string }>(
      'select mode, status, count(*) as n from sync_runs where profile_id = $1 group by mode, status order by mode, status',
      [profileId],
    );
    const outbox = await db.query<{ published: string; pending: string }>(
      'select count(*) filter (where published_at is not null) as published, count(*) filter (where published_at is null) as pending from outbox',
    );
    const roles = await db.query<{ n: string }>("select count(*) as n from user_effective_roles where role = 'demo-admin'");
    const topicCounts = watch.counts();
    say('[8/8] summary');
    say(`      directory  ${count(seeded.users.length)} users, ${count(seeded.groups.length)} groups under ${baseDn}`);
    say(
      `      database   ${count(totals.users)} users (${count(totals.enabled)} enabled, ${count(totals.users - totals.enabled)} disabled), ` +
        `${count(totals.groups)} groups, ${count(totals.memberships)} memberships, ${count(Number(roles.rows[0]?.n ?? 0))} users with role demo-admin (nested groups)`,
    );
    say(`      sync runs  ${runs.rows.map((r) => `${r.n} ${r.mode} ${r.status}`).join(', ')}`);
    say(
      `      topics     ${Object.entries(topicCounts)
        .map(([topic, n]) => `${topic} ${count(n)}`)
        .join(', ')}`,
    );
    say(`      outbox     ${outbox.rows[0]?.published ?? 0} downstream events published, ${outbox.rows[0]?.pending ?? 0} pending`);
    say(
      `      timings    infrastructure ${seconds(timings.infrastructure ?? 0)}, seeding ${seconds(timings.seed ?? 0)}, ` +
        `full sync ${seconds(timings.fullSync ?? 0)}, total ${seconds(Date.now() - started)}`,
    );
    for (const c of changeTimings) {
      say(
        `      ${c.change.padEnd(22)} ${Object.entries(c.latencies)
          .map(([k, ms]) => `${k} +${(ms / 1000).toFixed(1)} s`)
          .join(', ')}`,
      );
    }
    const undecodable = watch.seen.filter((s) => s.kind === 'undecodable');
    if (undecodable.length > 0)
      throw new StepFailed(`${undecodable.length} records could not be decoded, e.g. ${JSON.stringify(undecodable[0])}`);

    say();
    say('Look further:');
    const psql = `psql ${databaseUrl}`;
    say(`  ${psql} -c "select login_name, enabled, disabled_reason, dn from users order by updated_at desc limit 5"`);
    say(`  ${psql} -c "select mode, status, counts from sync_runs order by started_at desc limit 3"`);
    say(`  ${psql} -c "select entity, external_id, op, changed from sync_log order by id desc limit 10"`);
    say(`  node_modules/.bin/node services/cli/src/main.ts plan --profile ${NAME} --config ${rel(CONFIG)}`);
    say(`  node_modules/.bin/node services/cli/src/main.ts config check --config ${rel(CONFIG)}`);
    say(`  npm run example:consumer -- --brokers ${infra.kafka.brokers.join(',')} --prefix ${prefix} --from-beginning`);
    say(`  logs: ${rel(logs.poller)}, ${rel(logs.applier)}, ${rel(logs.setup)}, ${rel(logs.infra)}`);
    say();
    succeeded = true;
    return 0;
  } finally {
    await finish(state);
  }
}

type RunState = {
  readonly services: Service[];
  readonly watch: TopicWatch;
  readonly db: pg.Pool;
  readonly seeded: SeededDirectory;
  readonly profileId: string;
  readonly prefix: string;
  readonly databaseUrl: string;
  readonly logs: Record<'infra' | 'setup' | 'poller' | 'applier', string>;
};

let current: RunState | undefined;

let finishing: Promise<void> | undefined;
let interrupted = false;
let succeeded = false;

/** Stops (or leaves, --keep) what this run started; once, whoever calls first (the run or Ctrl-C). */
function finish(state: RunState): Promise<void> {
  finishing ??= finishOnce(state);
  return finishing;
}

async function finishOnce(state: RunState): Promise<void> {
  if (lineOpen) say();
  await state.watch.stop();
  await state.db.end().catch(() => undefined);
  if (args.keep && !args.cleanup) {
    for (const s of state.services) s.detach();
    const running = state.services.filter((s) => s.exited() === null);
    if (running.length > 0) {
      say(`--keep: left running ${running.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}; they poll and apply until stopped:`);
      say(`  kill ${running.map((s) => s.pid).join(' ')}        (or run the demo again: it stops them first)`);
    }
    say('The directory subtree, database and topics stay until the next demo run.');
  } else {
    for (const s of state.services) await s.stop();
    if (state.services.length > 0) {
      say(`Stopped the poller and the applier this demo started (--keep leaves them running).`);
    }
  }
  if (args.cleanup) await cleanupAll(state);
  else say('Kafka, OpenLDAP and PostgreSQL keep running: they are the shared local infrastructure (`npm run infra:down` stops them).');
}

async function cleanupAll(state: RunState): Promise<void> {
  const infra = loadInfra();
  await removeSubtree(
    { url: infra.openldap.url, adminDn: infra.openldap.adminDn, adminPassword: infra.openldap.adminPassword },
    state.seeded.baseDn,
    { settle: false },
  ).catch((error: unknown) => say(`cleanup: could not remove ${state.seeded.baseDn}: ${String(error)}`));
  await dropDatabase(infra.postgres.url, DATABASE).catch(() => undefined);
  const kafkaAdmin = createKafkaClient(infra.kafka.brokers).admin();
  await kafkaAdmin.connect();
  await deleteTopics(kafkaAdmin, state.prefix).catch(() => undefined);
  await kafkaAdmin.disconnect();
  // A failed run keeps its logs for the diagnosis.
  if (succeeded) rmSync(STATE, { recursive: true, force: true });
  say(
    `--cleanup: removed ${state.seeded.baseDn}, database ${DATABASE}, topics ${state.prefix}.*${succeeded ? ` and ${rel(STATE)}` : ` (logs kept in ${rel(STATE)})`}`,
  );
}

type Counts = { users: number; enabled: number; groups: number; memberships: number };

async function tableCounts(db: pg.Pool, profileId: string): Promise<Counts> {
  const { rows } = await db.query<{ users: string; enabled: string; groups: string; memberships: string }>(
    `select (select count(*) from users where profile_id = $1) as users,
            (select count(*) from users where profile_id = $1 and enabled) as enabled,
            (select count(*) from groups where profile_id = $1 and present) as groups,
            (select count(*) from memberships where profile_id = $1 and present) as memberships`,
    [profileId],
  );
  const r = rows[0];
  return { users: Number(r?.users), enabled: Number(r?.enabled), groups: Number(r?.groups), memberships: Number(r?.memberships) };
}

type UserRow = { external_id: string; login_name: string; dn: string; enabled: boolean; disabled_reason: string | null; version: string };

async function userRow(db: pg.Pool, profileId: string, externalId: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    'select external_id, login_name, dn, enabled, disabled_reason, version from users where profile_id = $1 and external_id = $2',
    [profileId, externalId],
  );
  return rows[0];
}

/** Runs the checks concurrently (each polls until it holds), then prints them in order. */
async function showChange(
  state: RunState,
  title: string,
  directoryLine: string,
  changedAt: number,
  checks: readonly Check[],
): Promise<ChangeTiming> {
  const results = await Promise.all(checks.map((check) => waitUntil(check.what, check.probe, state.services)));
  const latencies: Record<string, number> = {};
  say(`      directory   ${directoryLine}`);
  checks.forEach((check, i) => {
    const result = results[i];
    if (result === undefined) return;
    const latency = Math.max(0, result.at - changedAt);
    latencies[check.label] = latency;
    say(`      ${check.label.padEnd(11)} ${result.line} ${plus(latency)}`);
  });
  return { change: title, latencies };
}

function seenSince<K extends Seen['kind']>(watch: TopicWatch, mark: number, kind: K): Extract<Seen, { kind: K }>[] {
  return watch.seen.slice(mark).filter((s): s is Extract<Seen, { kind: K }> => s.kind === kind);
}

async function liveChanges(state: RunState, timings: ChangeTiming[]): Promise<void> {
  const { db, watch, seeded, profileId, prefix } = state;
  const topics = topicNames(prefix);
  // Users named by uid (simple to rename), enabled, in small groups only; three distinct ones.
  const memberOf = new Map<string, string[]>();
  for (const g of seeded.groups) for (const m of g.memberDns) memberOf.set(m, [...(memberOf.get(m) ?? []), g.dn]);
  const largeDns = new Set(seeded.groups.filter((g) => g.large).map((g) => g.dn));
  const candidates = seeded.users.filter(
    (u) =>
      !u.disabled &&
      u.dn.startsWith('uid=') &&
      (memberOf.get(u.dn) ?? []).length > 0 &&
      !(memberOf.get(u.dn) ?? []).some((g) => largeDns.has(g)),
  );
  const [toDisable, toMove, toDelete] = candidates;
  const group = seeded.groups.find((g, i) => i >= 5 && !g.large && g.memberDns.length >= 2);
  if (toDisable === undefined || toMove === undefined || toDelete === undefined || group === undefined) {
    throw new StepFailed('the sample directory is too small to pick the users and the group to change');
  }
  const busy = new Set([toDisable.dn, toMove.dn, toDelete.dn]);
  const toRemove = seeded.users.find((u) => group.memberDns.includes(u.dn) && !busy.has(u.dn));
  const toAdd = seeded.users.find((u) => !u.disabled && !group.memberDns.includes(u.dn) && !busy.has(u.dn) && u.dn !== toRemove?.dn);
  if (toRemove === undefined || toAdd === undefined) throw new StepFailed(`no member to remove from / add to ${group.dn}`);

  const ids = new Map<string, string>();
  const logins = [toDisable, toMove, toDelete, toRemove, toAdd].map((u) => u.uid);
  const { rows } = await db.query<{ external_id: string; login_name: string }>(
    'select external_id, login_name from users where profile_id = $1 and login_name = any($2)',
    [profileId, logins],
  );
  for (const r of rows) ids.set(r.login_name, r.external_id);
  const { rows: groupRows } = await db.query<{ external_id: string }>(
    'select external_id from groups where profile_id = $1 and name = $2',
    [profileId, group.cn],
  );
  const groupId = groupRows[0]?.external_id;
  const idOf = (uid: string) => {
    const id = ids.get(uid);
    if (id === undefined) throw new StepFailed(`user ${uid} is not in the database after the full sync`);
    return id;
  };
  if (groupId === undefined) throw new StepFailed(`group ${group.cn} is not in the database after the full sync`);

  const client = await connect({
    url: stateInfra().openldap.url,
    adminDn: stateInfra().openldap.adminDn,
    adminPassword: stateInfra().openldap.adminPassword,
  });
  try {
    // a. Disable a user (the profile's disabledFilter is (employeeType=inactive)).
    {
      const id = idOf(toDisable.uid);
      say(`  ▶ disable user ${toDisable.uid}: set employeeType=inactive`);
      const mark = watch.seen.length;
      await client.modify(toDisable.dn, replace('employeeType', ['inactive']));
      const at = Date.now();
      timings.push(
        await showChange(state, `disable ${toDisable.uid}`, `modify ${toDisable.dn}`, at, [
          {
            label: 'topic',
            what: `a "disabled" event for ${toDisable.uid} on ${topics.users}`,
            probe: () => {
              const s = seenSince(watch, mark, 'user').find((e) => e.event.externalId === id && e.event.op === 'disabled');
              return (
                s && {
                  at: s.at,
                  line: `${topics.users} op=disabled reason=${s.event.state.disabledReason} version=${s.event.version} key=${profileId}/${id}`,
                }
              );
            },
          },
          {
            label: 'database',
            what: `users.enabled = false for ${toDisable.uid}`,
            probe: async () => {
              const row = await userRow(db, profileId, id);
              return row && !row.enabled
                ? { at: Date.now(), line: `users: login_name=${row.login_name} enabled=false disabled_reason=${row.disabled_reason}` }
                : undefined;
            },
          },
          {
            label: 'downstream',
            what: `a user-disabled event for ${toDisable.uid} on ${topics.userLifecycle}`,
            probe: () => {
              const s = seenSince(watch, mark, 'lifecycle').find((e) => e.event.externalId === id && e.event.type === 'user-disabled');
              return (
                s && {
                  at: s.at,
                  line: `${topics.userLifecycle} user-disabled login=${s.event.loginName} reason=${s.event.reason} eventId=${s.event.eventId}`,
                }
              );
            },
          },
        ]),
      );
    }

    // b. Rename and move a user to another OU (a modrdn with a new superior).
    {
      const id = idOf(toMove.uid);
      const newUid = `${toMove.uid}.renamed`;
      const targetOu = toMove.ou === 'staff' ? 'sales' : 'staff';
      const newDn = `uid=${newUid},ou=${targetOu},${seeded.peopleDn}`;
      say(`  ▶ rename and move user ${toMove.uid} → ${newUid} in ou=${targetOu}`);
      const mark = watch.seen.length;
      await client.modifyDN(toMove.dn, newDn);
      const at = Date.now();
      timings.push(
        await showChange(state, `rename+move ${toMove.uid}`, `modrdn ${toMove.dn} → ${newDn}`, at, [
          {
            label: 'topic',
            what: `a renamed/moved event for ${toMove.uid} on ${topics.users}`,
            probe: () => {
              const s = seenSince(watch, mark, 'user').find((e) => e.event.externalId === id && e.event.rename !== null);
              return (
                s && {
                  at: s.at,
                  line: `${topics.users} op=${s.event.op} login ${s.event.rename?.previousLoginName ?? '?'} → ${s.event.state.loginName}, changed=[${s.event.changed.join(',')}] (same key ${profileId}/${id})`,
                }
              );
            },
          },
          {
            label: 'database',
            what: `users.dn and login_name updated for ${toMove.uid}`,
            probe: async () => {
              const row = await userRow(db, profileId, id);
              return row && row.login_name === newUid && row.dn.toLowerCase() === newDn.toLowerCase()
                ? {
                    at: Date.now(),
                    line: `users: same row (external_id ${id}) login_name=${row.login_name} dn=${row.dn} enabled=${row.enabled}`,
                  }
                : undefined;
            },
          },
        ]),
      );
      say('      downstream  none: the user stays enabled (a rename is an update, not a delete + create)');
    }

    // c. Delete a user: disabled (never deleted), its memberships removed (refint rewrote the groups).
    {
      const id = idOf(toDelete.uid);
      const groupsOfUser = (memberOf.get(toDelete.dn) ?? []).length;
      say(`  ▶ delete user ${toDelete.uid} (member of ${groupsOfUser} group${groupsOfUser === 1 ? '' : 's'})`);
      const mark = watch.seen.length;
      await client.del(toDelete.dn);
      const at = Date.now();
      timings.push(
        await showChange(state, `delete ${toDelete.uid}`, `delete ${toDelete.dn} (refint removes it from its groups)`, at, [
          {
            label: 'topic',
            what: `a "disabled" event for the deleted ${toDelete.uid} on ${topics.users}`,
            probe: () => {
              const s = seenSince(watch, mark, 'user').find((e) => e.event.externalId === id && e.event.op === 'disabled');
              return (
                s && { at: s.at, line: `${topics.users} op=disabled reason=${s.event.state.disabledReason} version=${s.event.version}` }
              );
            },
          },
          {
            label: 'memberships',
            what: `${groupsOfUser} membership removals of ${toDelete.uid} on ${topics.memberships}`,
            probe: () => {
              const removedEdges = seenSince(watch, mark, 'membership').filter((e) => e.event.memberId === id && e.event.op === 'removed');
              const last = removedEdges[removedEdges.length - 1];
              return removedEdges.length >= groupsOfUser && last
                ? { at: last.at, line: `${topics.memberships} ${removedEdges.length} × op=removed (+ tombstones) for member ${id}` }
                : undefined;
            },
          },
          {
            label: 'database',
            what: `users.enabled = false and no present membership for ${toDelete.uid}`,
            probe: async () => {
              const row = await userRow(db, profileId, id);
              const { rows: edges } = await db.query<{ n: string }>(
                'select count(*) as n from memberships where profile_id = $1 and member_id = $2 and present',
                [profileId, id],
              );
              return row && !row.enabled && Number(edges[0]?.n) === 0
                ? {
                    at: Date.now(),
                    line: `users: login_name=${row.login_name} enabled=false disabled_reason=${row.disabled_reason} (row kept); 0 memberships present`,
                  }
                : undefined;
            },
          },
          {
            label: 'downstream',
            what: `a user-disabled event for ${toDelete.uid} on ${topics.userLifecycle}`,
            probe: () => {
              const s = seenSince(watch, mark, 'lifecycle').find((e) => e.event.externalId === id && e.event.type === 'user-disabled');
              return (
                s && {
                  at: s.at,
                  line: `${topics.userLifecycle} user-disabled login=${s.event.loginName} reason=${s.event.reason} eventId=${s.event.eventId}`,
                }
              );
            },
          },
        ]),
      );
    }

    // d. Change a group's members: one added, one removed, in one modify.
    {
      const addId = idOf(toAdd.uid);
      const removeId = idOf(toRemove.uid);
      say(`  ▶ change the members of ${group.cn}: add ${toAdd.uid}, remove ${toRemove.uid}`);
      const mark = watch.seen.length;
      await client.modify(group.dn, [addValue('member', toAdd.dn), deleteValue('member', toRemove.dn)]);
      const at = Date.now();
      timings.push(
        await showChange(state, `members of ${group.cn}`, `modify ${group.dn} (member: +1, −1)`, at, [
          {
            label: 'topic',
            what: `membership added (${toAdd.uid}) and removed (${toRemove.uid}) events on ${topics.memberships}`,
            probe: () => {
              const edges = seenSince(watch, mark, 'membership').filter((e) => e.event.groupId === groupId);
              const added = edges.find((e) => e.event.memberId === addId && e.event.op === 'added');
              const removedEdge = edges.find((e) => e.event.memberId === removeId && e.event.op === 'removed');
              return added && removedEdge
                ? {
                    at: Math.max(added.at, removedEdge.at),
                    line: `${topics.memberships} added ${group.cn}/${toAdd.uid}, removed ${group.cn}/${toRemove.uid}`,
                  }
                : undefined;
            },
          },
          {
            label: 'database',
            what: `memberships rows updated for ${group.cn}`,
            probe: async () => {
              const { rows: edges } = await db.query<{ member_id: string; present: boolean }>(
                'select member_id, present from memberships where profile_id = $1 and group_id = $2 and member_id = any($3)',
                [profileId, groupId, [addId, removeId]],
              );
              const added = edges.find((e) => e.member_id === addId)?.present === true;
              const removedEdge = edges.find((e) => e.member_id === removeId)?.present === false;
              return added && removedEdge
                ? {
                    at: Date.now(),
                    line: `memberships: (${group.cn}, ${toAdd.uid}) present=true, (${group.cn}, ${toRemove.uid}) present=false`,
                  }
                : undefined;
            },
          },
        ]),
      );
      say('      downstream  none: memberships change no user state (roles follow through the effective_memberships view)');
    }
  } finally {
    await client.unbind().catch(() => undefined);
  }

  // Nothing else may have been announced: exactly the two disabled users, once each.
  const lifecycle = watch.seen.filter((s): s is Extract<Seen, { kind: 'lifecycle' }> => s.kind === 'lifecycle');
  const ids2 = new Set(lifecycle.map((s) => s.event.eventId));
  const expected = new Set([idOf(toDisable.uid), idOf(toDelete.uid)]);
  const unexpected = lifecycle.filter((s) => !expected.has(s.event.externalId));
  if (unexpected.length > 0) {
    throw new StepFailed(`unexpected downstream events: ${unexpected.map((s) => `${s.event.type} ${s.event.loginName}`).join(', ')}`);
  }
  say(`  downstream: ${ids2.size} distinct user-lifecycle events in total (${lifecycle.length} records), only for the two disabled users`);
}

function stateInfra(): Infra {
  return loadInfra();
}

process.once('SIGINT', () => {
  interrupted = true;
  say('\ninterrupted');
  const state = current;
  if (state !== undefined) void finish(state).finally(() => process.exit(130));
  else process.exit(130);
});

let code = 1;
try {
  code = await main();
  say(`demo: every step succeeded (${seconds(Date.now() - started)})`);
} catch (error) {
  if (lineOpen) say();
  // Ctrl-C: the handler finishes and exits; the waits it broke are not the demo's failure.
  if (interrupted) await new Promise<never>(() => undefined);
  const message = error instanceof Error ? error.message : String(error);
  console.log(`\ndemo FAILED: ${message}`);
  if (!(error instanceof StepFailed) && error instanceof Error && error.stack) console.log(error.stack);
  for (const service of ['poller', 'applier']) {
    const file = join(STATE, `${service}.log`);
    if (!existsSync(file)) continue;
    // The services' last warnings and errors (pino levels 40+), usually the reason.
    const problems = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /"level":(4|5|6)0/.test(line))
      .slice(-5);
    if (problems.length > 0) console.log(`last warnings/errors of the ${service}:\n  ${problems.map((l) => l.slice(0, 600)).join('\n  ')}`);
  }
  console.log(
    `logs: ${rel(join(STATE, 'poller.log'))}, ${rel(join(STATE, 'applier.log'))}, ${rel(join(STATE, 'setup.log'))}, ${rel(join(STATE, 'infra.log'))}`,
  );
  code = 1;
}
process.exit(code);
