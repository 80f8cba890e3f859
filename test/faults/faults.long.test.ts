/**
 * The long fault suite (`npm run test:faults`; not in `npm test`): a private slapd with 20,000
 * users and 200 groups (two of 5,000 members), full and delta syncs while the poller and the
 * applier are killed with -9 at random moments (at least 10 kills each), the database's
 * connections terminated, PostgreSQL restarted, the Kafka broker restarted, slapd killed
 * mid-page. After every scenario: database = oracle model, nobody falsely disabled (from the
 * user-lifecycle topic), one event ID per user-disabled transition. Prints the figures at the end.
 *
 * PostgreSQL and Kafka are PRIVATE to this file (test/faults/servers.ts: a throw-away cluster and
 * a single KRaft broker on free ports), so restarting them breaks nothing else on the machine.
 * DIRSTREAM_FAULT_SEED=<n> replays the random timings; DIRSTREAM_FAULT_USERS sets the size.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PrivateServer, startPrivateKafka, startPrivatePostgres } from './servers.ts';
import {
  chaos,
  checkScenario,
  createFaultPipeline,
  createFaultRun,
  type FaultPipeline,
  faultSeed,
  killPollerRuns,
  pollUntilSucceeded,
  runScenario,
  sleep,
  terminateConnections,
  watchFalseDisables,
  waitForPostgres,
} from './support.ts';

const SEED = faultSeed();
const USERS = Number(process.env.DIRSTREAM_FAULT_USERS ?? 20_000);
const faults = createFaultRun(SEED);
const { rnd, figures, model } = faults;
let pipeline: FaultPipeline;
let kafka: PrivateServer & { brokers: string[] };
let postgres: PrivateServer & { url: string };
const started = Date.now();

before(async () => {
  console.log(`# long fault seed ${SEED} (replay with DIRSTREAM_FAULT_SEED=${SEED})`);
  [kafka, postgres] = await Promise.all([startPrivateKafka('faults-long'), startPrivatePostgres('faults-long')]);
  pipeline = await createFaultPipeline(
    'faults-long',
    { users: USERS, groups: 200, largeGroups: 2, largeGroupSize: 5_000 },
    { kafka: { brokers: kafka.brokers }, postgres: { url: postgres.url } },
  );
});
after(async () => {
  console.log(`# long fault figures after ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(figures)}`);
  await pipeline?.cleanup();
  await kafka?.stop();
  await postgres?.stop();
});

test('initial full sync: 6 poller kills, applier killed throughout', async () => {
  const startApplier = () => chaos(pipeline, faults, { minMs: 1_500, maxMs: 4_000, maxKills: 6 });
  await runScenario(pipeline, faults, { name: 'initial full sync', startApplier, applyTimeoutMs: 600_000 }, async () => {
    await killPollerRuns(pipeline, { kills: 6, full: true, minMs: 1_000, maxMs: 6_000, rnd }, figures);
    await pollUntilSucceeded(pipeline, true, figures);
    await sleep(3_000);
  });
});

test('disables, deletions, enables, renames, moves: full pass under kills and terminated connections', async () => {
  await faults.change(pipeline, { disable: 150, remove: 50, enable: 50, rename: 40, move: 40 });
  const startApplier = () => chaos(pipeline, faults, { minMs: 1_000, maxMs: 3_000, maxKills: 5 });
  await runScenario(pipeline, faults, { name: 'changes, full pass', startApplier, applyTimeoutMs: 600_000 }, async () => {
    await killPollerRuns(pipeline, { kills: 4, full: true, minMs: 800, maxMs: 3_500, rnd }, figures);
    const running = pipeline.runPoller(['--full'], { timeoutMs: 600_000 });
    await sleep(800 + rnd() * 1_500);
    await terminateConnections(pipeline, figures);
    await sleep(500 + rnd() * 1_000);
    await terminateConnections(pipeline, figures);
    figures.pollerRuns++;
    if ((await running).code !== 0) await pollUntilSucceeded(pipeline, true, figures);
    await sleep(2_000);
  });
});

test('changes through delta passes with kills', async () => {
  await faults.change(pipeline, { disable: 80, remove: 20, enable: 20, rename: 20, move: 20 });
  const startApplier = () => chaos(pipeline, faults, { minMs: 800, maxMs: 2_000, maxKills: 3 });
  await runScenario(pipeline, faults, { name: 'changes, delta passes', startApplier, applyTimeoutMs: 600_000 }, async () => {
    await killPollerRuns(pipeline, { kills: 2, full: false, minMs: 500, maxMs: 1_200, rnd }, figures);
    await pollUntilSucceeded(pipeline, false, figures);
    await sleep(2_000);
  });
});

test('PostgreSQL restarted while the poller and the applier work', async () => {
  await faults.change(pipeline, { disable: 60, remove: 10, enable: 10 });
  const startApplier = () => pipeline.startApplier();
  await runScenario(pipeline, faults, { name: 'PostgreSQL restart', startApplier, applyTimeoutMs: 600_000 }, async (applier) => {
    const running = pipeline.runPoller(['--full'], { timeoutMs: 600_000 });
    await sleep(1_000 + rnd() * 1_500);
    await postgres.restart();
    await waitForPostgres(pipeline);
    figures.postgresFaults++;
    figures.pollerRuns++;
    if ((await running).code !== 0) await pollUntilSucceeded(pipeline, true, figures);
    await sleep(3_000);
    // The applier waits an outage out (issue 5); it must still be running.
    assert.equal(
      applier.child.exitCode,
      null,
      `the applier exited during the PostgreSQL restart:\n${applier.output().stderr.slice(-2_000)}`,
    );
  });
});

test('Kafka broker restarted while the poller and the applier work', async () => {
  await faults.change(pipeline, { disable: 60, remove: 10, enable: 10 });
  let applierSurvived = true;
  let applierOutput = '';
  const startApplier = () => pipeline.startApplier();
  await runScenario(pipeline, faults, { name: 'Kafka restart', startApplier, applyTimeoutMs: 600_000 }, async (applier) => {
    const running = pipeline.runPoller(['--full'], { timeoutMs: 600_000 });
    await sleep(1_000 + rnd() * 1_500);
    await kafka.restart();
    figures.kafkaRestarts++;
    figures.pollerRuns++;
    if ((await running).code !== 0) await pollUntilSucceeded(pipeline, true, figures);
    await sleep(5_000);
    applierSurvived = applier.child.exitCode === null;
    applierOutput = applier.output().stderr.slice(-2_000);
  });
  assert.ok(applierSurvived, `the applier exited during the broker restart (issue 5: a broker outage is waited out):\n${applierOutput}`);
});

test('slapd killed mid-page three times: each run fails, nobody is disabled, then the pass converges', async () => {
  // No pending directory change: any user-disabled event or row change from a killed read is false.
  const watch = await watchFalseDisables(pipeline, faults.mayDisable);
  let hits = 0;
  let delayMs = 1_500;
  for (let attempt = 0; attempt < 10 && hits < 3; attempt++) {
    const poller = pipeline.startPoller(['--once', '--full']);
    await sleep(delayMs + rnd() * 500);
    pipeline.directory.kill();
    figures.slapdKills++;
    const result = await poller.exited;
    figures.pollerRuns++;
    await pipeline.directory.start();
    await pipeline.applyUntilCaughtUp();
    const [run] = await pipeline.query<{ status: string; read: string }>(
      `select status, counts->>'entriesRead' as read from sync_runs order by finished_at desc limit 1`,
    );
    const hit = result.code !== 0 && run?.status === 'failed' && Number(run.read) > 0 && Number(run.read) < USERS;
    if (hit) hits++;
    else delayMs = result.code === 0 ? Math.max(500, delayMs - 700) : delayMs + 500;
    const what = hit ? `mid-page after ${run?.read} entries` : result.code === 0 ? 'run finished first' : 'before the first page';
    await checkScenario(pipeline, `slapd kill ${attempt + 1} (${what})`, model, faults.expectation(), figures);
  }
  assert.ok(hits >= 1, 'slapd was never killed in the middle of a paged read');
  figures.disabledSamples += await watch.stop('while slapd was killed');
  await pollUntilSucceeded(pipeline, true, figures);
  await pipeline.applyUntilCaughtUp([], { timeoutMs: 600_000 });
  await checkScenario(pipeline, 'after slapd kills', model, faults.expectation(), figures);
  assert.ok(figures.pollerKills >= 10, `only ${figures.pollerKills} poller kills`);
  assert.ok(figures.applierKills >= 10, `only ${figures.applierKills} applier kills`);
});
