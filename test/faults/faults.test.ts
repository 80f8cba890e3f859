/**
 * The short fault suite (in `npm test`; the long one is faults.long.test.ts): a private slapd with
 * 3,000 users, the poller and the applier killed with -9 during full syncs, the database's
 * connections terminated, slapd killed mid-page. After each scenario the database equals the
 * oracle model, nobody was falsely disabled and each user-disabled transition has exactly one
 * event ID. Shared servers (Kafka, PostgreSQL) are never restarted here: other files run in parallel.
 * DIRSTREAM_FAULT_SEED=<n> replays the random timings.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
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
} from './support.ts';

const SEED = faultSeed();
const faults = createFaultRun(SEED);
const { rnd, figures, model } = faults;
let pipeline: FaultPipeline;

before(async () => {
  console.log(`# fault seed ${SEED} (replay with DIRSTREAM_FAULT_SEED=${SEED})`);
  pipeline = await createFaultPipeline('faults', { users: 3_000, groups: 60 });
});
after(async () => {
  console.log(`# figures: ${JSON.stringify(figures)}`);
  await pipeline?.cleanup();
});

test('initial full sync with the poller and the applier killed -9', async () => {
  const startApplier = () => chaos(pipeline, faults, { minMs: 800, maxMs: 2_500, maxKills: 2 });
  await runScenario(pipeline, faults, { name: 'initial full sync', startApplier, applyTimeoutMs: 300_000 }, async () => {
    await killPollerRuns(pipeline, { kills: 2, full: true, minMs: 700, maxMs: 1_900, rnd }, figures);
    await pollUntilSucceeded(pipeline, true, figures);
  });
  assert.ok(figures.pollerKills >= 1, 'the poller was never killed mid-run');
});

test('disables, deletions, enables, renames, moves synced through kills and terminated connections', async () => {
  await faults.change(pipeline, { disable: 40, remove: 10, enable: 10, rename: 10, move: 10 });
  const startApplier = () => chaos(pipeline, faults, { minMs: 600, maxMs: 1_500, maxKills: 2 });
  await runScenario(pipeline, faults, { name: 'changes under kills', startApplier, applyTimeoutMs: 300_000 }, async () => {
    await killPollerRuns(pipeline, { kills: 1, full: true, minMs: 600, maxMs: 1_400, rnd }, figures);
    const running = pipeline.runPoller(['--full']);
    await sleep(500 + rnd() * 700);
    await terminateConnections(pipeline, figures);
    figures.pollerRuns++;
    if ((await running).code !== 0) await pollUntilSucceeded(pipeline, true, figures);
  });
});

test('slapd killed mid-page: the run fails, nothing is disabled, the next pass converges', async () => {
  const watch = await watchFalseDisables(pipeline, faults.mayDisable);
  let hit = false;
  // Adaptive: too early (nothing read yet) → later; too late (the run finished) → earlier.
  let delayMs = 900;
  for (let attempt = 0; attempt < 8 && !hit; attempt++) {
    const poller = pipeline.startPoller(['--once', '--full']);
    await sleep(delayMs + rnd() * 200);
    pipeline.directory.kill();
    figures.slapdKills++;
    const result = await poller.exited;
    await pipeline.directory.start();
    await pipeline.applyUntilCaughtUp();
    const [run] = await pipeline.query<{ status: string; read: string }>(
      `select status, counts->>'entriesRead' as read from sync_runs order by finished_at desc limit 1`,
    );
    // Mid-page: the run had read entries, not all of them, and failed.
    hit = result.code !== 0 && run?.status === 'failed' && Number(run.read) > 0 && Number(run.read) < pipeline.directory.users;
    if (!hit) delayMs = result.code === 0 ? Math.max(300, delayMs - 250) : delayMs + 250;
    await checkScenario(
      pipeline,
      `slapd killed (attempt ${attempt + 1}, ${hit ? 'mid-page' : `exit ${result.code}, read ${run?.read}`})`,
      model,
      faults.expectation(),
      figures,
    );
  }
  assert.ok(hit, 'slapd was never killed in the middle of a paged read');
  figures.disabledSamples += await watch.stop('while slapd was killed');
  await pollUntilSucceeded(pipeline, true, figures);
  await pipeline.applyUntilCaughtUp();
  await checkScenario(pipeline, 'after slapd came back', model, faults.expectation(), figures);
});
