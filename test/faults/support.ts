/**
 * Shared parts of the fault suites (faults.test.ts, short, in `npm test`; faults.long.test.ts,
 * `npm run test:faults`), and theirs only: the pipeline over a private slapd (so it can be killed
 * mid-page without touching other tests), and the checks made after every scenario — database = oracle model, nobody falsely disabled, each user-disabled
 * transition published once per event ID.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCodec, topicNames, type UserLifecycleEvent } from '@dirstream/events';
import { createKafka, type Infra, readTopics } from '@dirstream/testing';
import { mulberry32 as random, type SampleOptions } from '../../infra/sample/generate.ts';
import {
  annotate,
  createModel,
  type DirectorySnapshot,
  describeState,
  firstDifference,
  readDatabase,
  snapshotDirectory,
  waitForRefint,
} from '../support/oracle.ts';
import { type CommandResult, createPipeline, describeResult, type Pipeline, type RunningProcess } from '../support/pipeline.ts';
import { createPrivateDirectory, GROUPS, PEOPLE, type PrivateDirectory, SUFFIX } from '../support/private-directory.ts';

export type FaultPipeline = Pipeline & { readonly directory: PrivateDirectory };

/** `servers`: other Kafka brokers / PostgreSQL (e.g. the private ones of servers.ts). */
export async function createFaultPipeline(
  label: string,
  sample: Partial<SampleOptions>,
  servers: { kafka?: Infra['kafka']; postgres?: Infra['postgres'] } = {},
  topics: { partitions?: number; kafka?: Record<string, unknown> } = {},
): Promise<FaultPipeline> {
  const directory = await createPrivateDirectory(label, sample);
  try {
    const pipeline = await createPipeline({
      label,
      infra: { ...directory.infra, ...servers },
      partitions: topics.partitions ?? 3,
      kafka: topics.kafka,
      profile: {
        connection: { pageSize: 500, timeoutMs: 20_000, connectTimeoutMs: 3_000 },
        users: { baseDn: PEOPLE, disabledFilter: '(employeeType=inactive)' },
        groups: { baseDn: GROUPS },
      },
      applier: { maxBatchSize: 1_000 },
    });
    return {
      ...pipeline,
      directory,
      async cleanup() {
        await pipeline.cleanup();
        await directory.cleanup();
      },
    };
  } catch (error) {
    await directory.cleanup();
    throw error;
  }
}

export async function snapshot(pipeline: FaultPipeline): Promise<DirectorySnapshot> {
  return snapshotDirectory({
    url: pipeline.directory.instance.url,
    bindDn: pipeline.directory.instance.adminDn,
    passwordFile: pipeline.passwordFile,
    usersBaseDn: PEOPLE,
    groupsBaseDn: GROUPS,
  });
}

/** The events of the entities a difference names, and the runs, to diagnose a failure. */
export async function history(pipeline: FaultPipeline, difference: string): Promise<string> {
  const ids = difference.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? [];
  if (ids.length === 0) return '';
  const codec = createCodec();
  const topics = topicNames(pipeline.prefix);
  const lines: string[] = [];
  try {
    const records = await readTopics(createKafka(pipeline.infra), [topics.users, topics.memberships, topics.syncRuns], {
      timeoutMs: 60_000,
    });
    for (const r of records) {
      const key = r.key?.toString() ?? '';
      if (r.topic === topics.syncRuns && r.value !== null) {
        const e = codec.decode('sync-run', r.value);
        lines.push(
          `run ${e.runId.slice(0, 8)} ${e.mode} ${e.status} read=${e.counts.entriesRead} +m${e.counts.membershipsAdded} -m${e.counts.membershipsRemoved}${e.reason ? ` (${e.reason.slice(0, 80)})` : ''}`,
        );
      } else if (ids.every((id) => key.includes(id))) {
        if (r.value === null) lines.push(`${r.topic} ${key}: tombstone @${r.offset}`);
        else if (r.topic === topics.users) {
          const e = codec.decode('user-event', r.value);
          lines.push(`user ${e.op} v${e.version} run ${e.source.runId.slice(0, 8)} dn=${e.state.dn} enabled=${e.state.enabled}`);
        } else {
          const e = codec.decode('membership-event', r.value);
          lines.push(`membership ${e.op} v${e.version} run ${e.source.runId.slice(0, 8)} @${r.partition}/${r.offset}`);
        }
      } else if (r.topic === topics.users && r.value !== null && ids.some((id) => key.endsWith(id))) {
        const e = codec.decode('user-event', r.value);
        lines.push(
          `user ${e.externalId.slice(0, 8)} ${e.op} v${e.version} run ${e.source.runId.slice(0, 8)} dn=${e.state.dn} enabled=${e.state.enabled}`,
        );
      }
    }
  } catch (error) {
    lines.push(`(history unavailable: ${String(error)})`);
  }
  return `history (topic order per partition):\n  ${lines.join('\n  ')}`;
}

/** Figures the long suite reports. */
export type Figures = {
  pollerKills: number;
  applierKills: number;
  slapdKills: number;
  postgresFaults: number;
  kafkaRestarts: number;
  pollerRuns: number;
  lifecycleEventsChecked: number;
  duplicateRecords: number;
  scenarios: number;
  /** Samples of the database's disabled users taken during the scenarios. */
  disabledSamples: number;
};

export function newFigures(): Figures {
  return {
    pollerKills: 0,
    applierKills: 0,
    slapdKills: 0,
    postgresFaults: 0,
    kafkaRestarts: 0,
    pollerRuns: 0,
    lifecycleEventsChecked: 0,
    duplicateRecords: 0,
    scenarios: 0,
    disabledSamples: 0,
  };
}

/**
 * Runs `poller --once [--full]` until it exits 0 (a killed or failed run is followed by another);
 * `attempts` bounds it. Returns the runs' results.
 */
export async function pollUntilSucceeded(pipeline: FaultPipeline, full: boolean, figures: Figures, attempts = 8): Promise<CommandResult[]> {
  const results: CommandResult[] = [];
  for (let i = 0; i < attempts; i++) {
    const result = await pipeline.runPoller(full ? ['--full'] : [], { timeoutMs: 600_000 });
    figures.pollerRuns++;
    results.push(result);
    if (result.code === 0) return results;
    await sleep(1_000);
  }
  throw new Error(`the poller did not succeed in ${attempts} runs; last:\n${describeResult(results[results.length - 1] as CommandResult)}`);
}

/**
 * `poller --once [--full]` killed with -9 after a random delay in [minMs, maxMs), `kills` times
 * (a run that finished before its kill counts as a run, not a kill).
 */
export async function killPollerRuns(
  pipeline: FaultPipeline,
  options: { kills: number; full: boolean; minMs: number; maxMs: number; rnd: () => number },
  figures: Figures,
): Promise<void> {
  let killed = 0;
  for (let attempt = 0; killed < options.kills && attempt < options.kills * 3; attempt++) {
    const child = pipeline.startPoller(['--once', ...(options.full ? ['--full'] : [])]);
    const delay = options.minMs + options.rnd() * (options.maxMs - options.minMs);
    const finished = await Promise.race([child.exited.then(() => true), sleep(delay).then(() => false)]);
    figures.pollerRuns++;
    if (finished) continue;
    await child.kill('SIGKILL');
    killed++;
    figures.pollerKills++;
  }
}

/** A background applier that is killed with -9 and restarted at random moments until stopped. */
export function chaosApplier(
  pipeline: FaultPipeline,
  options: { minMs: number; maxMs: number; rnd: () => number; maxKills: number },
  figures: Figures,
) {
  let current: RunningProcess = pipeline.startApplier();
  let stopped = false;
  const loop = (async () => {
    let kills = 0;
    while (!stopped && kills < options.maxKills) {
      await sleep(options.minMs + options.rnd() * (options.maxMs - options.minMs));
      if (stopped) break;
      await current.kill('SIGKILL');
      kills++;
      figures.applierKills++;
      current = pipeline.startApplier();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await current.stop();
    },
  };
}

/** Terminates every other connection to the pipeline's database (the applier's and the poller's). */
export async function terminateConnections(pipeline: FaultPipeline, figures: Figures): Promise<number> {
  const rows = await pipeline.query<{ n: string }>(
    'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
  );
  figures.postgresFaults++;
  return Number(rows[0]?.n ?? 0);
}

export type Expectation = {
  /** Users (entryUUIDs) that may legitimately have been disabled during the scenario. */
  readonly mayDisable: ReadonlySet<string>;
  /** Users whose enabled → disabled transition happened (each needs exactly one event ID). */
  readonly mustDisable: ReadonlySet<string>;
  /** Users the scenarios re-enabled (each needs exactly one user-enabled event ID); none other may be enabled. */
  readonly mustEnable?: ReadonlySet<string>;
};

/**
 * After a scenario: the database equals the oracle model of the directory; no user-disabled event
 * for a user outside `mayDisable`; one distinct event ID per user-disabled transition.
 */
export async function checkScenario(
  pipeline: FaultPipeline,
  name: string,
  model: ReturnType<typeof createModel>,
  expectation: Expectation,
  figures: Figures,
): Promise<void> {
  const snap = await snapshot(pipeline);
  model.observe(snap);
  const expected = model.expected();
  const actual = await readDatabase(pipeline.query, pipeline.profileId);
  const difference = firstDifference(expected, actual);
  if (difference !== null) {
    throw new Error(`${name}: database ≠ directory model: ${annotate(difference, snap, expected)}\n${await history(pipeline, difference)}`);
  }

  const codec = createCodec();
  const records = await readTopics(createKafka(pipeline.infra), [topicNames(pipeline.prefix).userLifecycle], { timeoutMs: 60_000 }).catch(
    (error: unknown) => {
      if (String(error).includes('does not host this topic') || String(error).includes('UNKNOWN_TOPIC')) return [];
      throw error;
    },
  );
  const events = records
    .filter((r) => r.value !== null)
    .map((r) => codec.decode('user-lifecycle', r.value as Buffer) as UserLifecycleEvent);
  figures.lifecycleEventsChecked = events.length;
  const disabled = events.filter((e) => e.type === 'user-disabled');
  const falsely = disabled.filter((e) => !expectation.mayDisable.has(e.externalId));
  if (falsely.length > 0) {
    const e = falsely[0] as UserLifecycleEvent;
    throw new Error(`${name}: ${falsely.length} users falsely disabled, e.g. ${e.loginName} (${e.externalId}, reason ${e.reason})`);
  }
  const idsByUser = new Map<string, Set<string>>();
  const recordsById = new Map<string, number>();
  for (const e of events) {
    const key = `${e.type}/${e.externalId}`;
    idsByUser.set(key, (idsByUser.get(key) ?? new Set()).add(e.eventId));
    recordsById.set(e.eventId, (recordsById.get(e.eventId) ?? 0) + 1);
  }
  for (const id of expectation.mustDisable) {
    const ids = idsByUser.get(`user-disabled/${id}`)?.size ?? 0;
    if (ids !== 1) throw new Error(`${name}: user ${id} was disabled once, but ${ids} distinct user-disabled event IDs were published`);
  }
  const enabled = events.filter((e) => e.type === 'user-enabled');
  if (expectation.mustEnable !== undefined) {
    const unexpected = enabled.filter((e) => !expectation.mustEnable?.has(e.externalId));
    if (unexpected.length > 0) {
      const e = unexpected[0] as UserLifecycleEvent;
      throw new Error(`${name}: ${unexpected.length} user-enabled events for users nobody enabled, e.g. ${e.loginName} (${e.externalId})`);
    }
    for (const id of expectation.mustEnable) {
      const ids = idsByUser.get(`user-enabled/${id}`)?.size ?? 0;
      if (ids !== 1) throw new Error(`${name}: user ${id} was enabled once, but ${ids} distinct user-enabled event IDs were published`);
    }
  }
  figures.duplicateRecords = [...recordsById.values()].reduce((sum, n) => sum + (n - 1), 0);
  console.log(
    `# ${name}: ok — ${describeState(expected)}; ${events.length} lifecycle events (${disabled.length} user-disabled, ${enabled.length} user-enabled, ${figures.duplicateRecords} re-sent records with an already published event ID)`,
  );
  figures.scenarios++;
}

export { createModel, sleep };

/**
 * What a fault suite carries from scenario to scenario: the seeded timings
 * (DIRSTREAM_FAULT_SEED=<n> replays them), the figures, the oracle model and who the scenarios
 * disabled, deleted or enabled.
 */
export type FaultRun = ReturnType<typeof createFaultRun>;

export function faultSeed(): number {
  return Number(process.env.DIRSTREAM_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
}

export function createFaultRun(seed: number) {
  const mayDisable = new Set<string>();
  const mustDisable = new Set<string>();
  const mustEnable = new Set<string>();
  const touched = new Set<string>();
  const rnd = random(seed);
  return {
    seed,
    rnd,
    figures: newFigures(),
    model: createModel(),
    mayDisable,
    mustDisable,
    mustEnable,
    expectation: (): Expectation => ({ mayDisable, mustDisable, mustEnable }),
    /** Changes the directory (users not touched before) and records what the database must then show. */
    async change(pipeline: FaultPipeline, changes: DirectoryChanges): Promise<void> {
      const done = await changeDirectory(pipeline, changes, rnd, touched);
      for (const id of [...done.disabled, ...done.deleted]) {
        mayDisable.add(id);
        mustDisable.add(id);
      }
      for (const id of done.enabled) mustEnable.add(id);
    },
  };
}

/** The applier killed -9 at random moments of the scenario (the run's seeded timings). */
export function chaos(pipeline: FaultPipeline, run: FaultRun, options: { minMs: number; maxMs: number; maxKills: number }) {
  return chaosApplier(pipeline, { ...options, rnd: run.rnd }, run.figures);
}

/**
 * One scenario: watches for false disables while `body` runs beside the applier `startApplier`
 * starts (stopped when `body` ends), then applies what is left and checks database = model.
 */
export async function runScenario<A extends { stop(): Promise<unknown> }>(
  pipeline: FaultPipeline,
  run: FaultRun,
  scenario: { readonly name: string; readonly startApplier: () => A; readonly applyTimeoutMs: number },
  body: (applier: A) => Promise<void>,
): Promise<void> {
  const watch = await watchFalseDisables(pipeline, run.mayDisable);
  const applier = scenario.startApplier();
  try {
    await body(applier);
  } finally {
    await applier.stop();
  }
  run.figures.disabledSamples += await watch.stop('during the scenario');
  await pipeline.applyUntilCaughtUp([], { timeoutMs: scenario.applyTimeoutMs });
  await checkScenario(pipeline, scenario.name, run.model, run.expectation(), run.figures);
}

export type DirectoryChanges = { disable?: number; remove?: number; enable?: number; rename?: number; move?: number };

/**
 * Applies changes to users picked at random from the current directory (never a user touched
 * before in this file: `touched`); returns who was disabled or deleted (each an enabled → disabled
 * transition).
 */
export async function changeDirectory(
  pipeline: FaultPipeline,
  changes: DirectoryChanges,
  rnd: () => number,
  touched: Set<string>,
): Promise<{ disabled: string[]; deleted: string[]; enabled: string[] }> {
  const { Attribute, Change, Client } = await import('ldapts');
  const snap = await snapshot(pipeline);
  const untouched = [...snap.users].filter(([id]) => !touched.has(id));
  // A seeded shuffle.
  for (let i = untouched.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [untouched[i], untouched[j]] = [untouched[j] as (typeof untouched)[number], untouched[i] as (typeof untouched)[number]];
  }
  const enabled = untouched.filter(([, u]) => u.enabled);
  const inactive = untouched.filter(([, u]) => !u.enabled);
  const take = <T>(list: T[], n: number) => list.splice(0, n);
  const client = new Client({ url: pipeline.directory.instance.url, timeout: 30_000 });
  await client.bind(pipeline.directory.instance.adminDn, pipeline.directory.instance.adminPassword);
  const replace = (type: string, values: string[]) => new Change({ operation: 'replace', modification: new Attribute({ type, values }) });
  const out = { disabled: [] as string[], deleted: [] as string[], enabled: [] as string[] };
  try {
    for (const [id, user] of take(enabled, changes.disable ?? 0)) {
      await client.modify(user.dn, [replace('employeeType', ['inactive'])]);
      touched.add(id);
      out.disabled.push(id);
    }
    for (const [id, user] of take(enabled, changes.remove ?? 0)) {
      await client.del(user.dn);
      touched.add(id);
      out.deleted.push(id);
    }
    for (const [id, user] of take(inactive, changes.enable ?? 0)) {
      await client.modify(user.dn, [replace('employeeType', [])]);
      touched.add(id);
      out.enabled.push(id);
    }
    for (const [id, user] of take(enabled, changes.rename ?? 0)) {
      const parent = user.dn.slice(user.dn.indexOf(',') + 1);
      // The new RDN keeps its attribute type: dropping the old cn value would leave a person without cn.
      const rdn = user.dn.toLowerCase().startsWith('cn=') ? `cn=Renamed ${id.slice(0, 8)}` : `uid=renamed-${id.slice(0, 8)}`;
      await client.modifyDN(user.dn, `${rdn},${parent}`);
      touched.add(id);
    }
    const ous = ['staff', 'contractors', 'sales'].map((ou) => `ou=${ou},${PEOPLE}`);
    for (const [id, user] of take(enabled, changes.move ?? 0)) {
      const rdn = user.dn.slice(0, user.dn.indexOf(','));
      const parent = user.dn.slice(user.dn.indexOf(',') + 1).toLowerCase();
      const target = ous.find((ou) => ou.toLowerCase() !== parent) as string;
      await client.modifyDN(user.dn, `${rdn},${target}`);
      touched.add(id);
    }
  } finally {
    await client.unbind().catch(() => undefined);
  }
  await settleRefint(pipeline);
  return out;
}

/** Waits until refint rewrote every group of the private directory (see oracle.ts waitForRefint). */
export function settleRefint(pipeline: FaultPipeline): Promise<number> {
  return waitForRefint({
    url: pipeline.directory.instance.url,
    bindDn: pipeline.directory.instance.adminDn,
    passwordFile: pipeline.passwordFile,
    baseDn: SUFFIX,
    placeholders: [pipeline.directory.instance.adminDn],
  });
}

/** Waits until the shared PostgreSQL answers again (after a restart). */
export async function waitForPostgres(pipeline: FaultPipeline, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await pipeline.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

/**
 * "No user falsely disabled at any moment", on the database side: samples the disabled users of
 * the profile every 300 ms while a scenario runs. A user may be disabled if it was disabled in the
 * directory or in the database when the scenario started (a user being re-enabled stays disabled
 * until its event is applied) or is in `mayDisable` (the scenario disabled or deleted it).
 * Sampling errors (connections being terminated, PostgreSQL restarting) are skipped.
 */
export async function watchFalseDisables(pipeline: FaultPipeline, mayDisable: ReadonlySet<string>) {
  const before = await snapshot(pipeline);
  const allowed = new Set([...before.users].filter(([, u]) => !u.enabled).map(([id]) => id));
  const stored = await pipeline
    .query<{ external_id: string }>('select external_id from users where profile_id = $1 and not enabled', [pipeline.profileId])
    .catch(() => []);
  for (const row of stored) allowed.add(row.external_id);
  const violations = new Map<string, string>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const rows = await pipeline.query<{ external_id: string; login_name: string }>(
          'select external_id, login_name from users where profile_id = $1 and not enabled',
          [pipeline.profileId],
        );
        samples++;
        for (const row of rows) {
          if (!allowed.has(row.external_id) && !mayDisable.has(row.external_id)) violations.set(row.external_id, row.login_name);
        }
      } catch {
        // the database is being faulted: the next sample will tell
      }
      await sleep(300);
    }
  })();
  return {
    /** Stops sampling; throws if any user was seen disabled without reason. */
    async stop(name: string): Promise<number> {
      stopped = true;
      await loop;
      if (violations.size > 0) {
        const [id, login] = [...violations][0] as [string, string];
        throw new Error(
          `${name}: ${violations.size} users were disabled in the database at some moment without reason, e.g. ${login} (${id})`,
        );
      }
      return samples;
    },
  };
}
