/**
 * Faults on a replicated Kafka (`npm run test:faults`): a PRIVATE three-node KRaft cluster
 * (infra/local/kafka-cluster.ts, free loopback ports, a temp folder), topics with RF 3 and
 * min.insync.replicas 2, a private slapd with 20,000 users. Scenarios:
 *   1. full sync: kill -9 the node leading the most partitions, restart it, kill the node then
 *      leading the most, restart it;
 *   2. a stream of changes (delta passes): the same two kills;
 *   3. a stream of changes: kill -9 the active controller (quorum leader), restart it.
 * The applier runs throughout and must survive. After each: database = directory (oracle model),
 * each user-disabled / user-enabled transition once by event ID, nothing in the dead-letter topic,
 * the applier group Stable with every partition assigned exactly once. Prints the figures: kills,
 * events checked, the longest pause in database writes during the full sync, and during the
 * change streams the end-to-end latency of probe changes (LDAP modify → delta pass → row in
 * PostgreSQL), one after the other while the brokers are killed.
 * DIRSTREAM_FAULT_SEED=<n> replays the timings; DIRSTREAM_FAULT_USERS sets the size.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { topicNames } from '@dirstream/events';
import { createKafka, freePort, readTopics } from '@dirstream/testing';
import { AssignerProtocol } from 'kafkajs';
import { createKafkaCluster, type KafkaCluster, kafkaClusterOptions } from '../../infra/local/kafka-cluster.ts';
import { createFaultPipeline, createFaultRun, type FaultPipeline, faultSeed, pollUntilSucceeded, runScenario, sleep } from './support.ts';

const SEED = faultSeed();
const USERS = Number(process.env.DIRSTREAM_FAULT_USERS ?? 20_000);
const faults = createFaultRun(SEED);
const { rnd, figures } = faults;
const cluster = {
  nodeKills: 0,
  controllerKills: 0,
  maxPauseMs: 0,
  maxProducePauseMs: 0,
  deadLetters: 0,
  rebalanceChecks: 0,
  probes: 0,
  probeMedianMs: 0,
  probeMaxMs: 0,
  baselineMedianMs: 0,
};
let kafka: KafkaCluster;
let kafkaDir = '';
let pipeline: FaultPipeline;
const started = Date.now();

before(async () => {
  console.log(`# cluster fault seed ${SEED} (replay with DIRSTREAM_FAULT_SEED=${SEED})`);
  kafkaDir = await mkdtemp(join(tmpdir(), 'dirstream-faults-cluster-kafka-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const controllerPorts = [await freePort(), await freePort(), await freePort()];
  kafka = createKafkaCluster({ ...kafkaClusterOptions(), dir: kafkaDir, ports, controllerPorts, heap: '320m' });
  await kafka.up((line) => console.log(`# [cluster] ${line}`));
  pipeline = await createFaultPipeline(
    'faults-cluster',
    { users: USERS, groups: 100, largeGroups: 1, largeGroupSize: 5_000 },
    { kafka: { brokers: kafka.brokers } },
    { partitions: 6, kafka: { replicationFactor: 3, minInsyncReplicas: 2 } },
  );
});

after(async () => {
  console.log(
    `# cluster fault figures after ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify({ ...figures, ...cluster })}`,
  );
  await pipeline?.cleanup();
  await kafka?.down();
  if (kafkaDir) await rm(kafkaDir, { recursive: true, force: true });
});

function topics(): string[] {
  const names = topicNames(pipeline.prefix);
  return [names.users, names.groups, names.memberships, names.syncRuns, names.userLifecycle, names.deadLetters];
}

/** Node ID → partitions it leads among the pipeline's topics (metadata from any live node). */
async function leadersByNode(): Promise<Map<number, number>> {
  const admin = createKafka(pipeline.infra).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: topics() });
    const counts = new Map<number, number>(kafka.nodes.map((n) => [n.id, 0]));
    for (const topic of metadata.topics) for (const p of topic.partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
    return counts;
  } finally {
    await admin.disconnect();
  }
}

/** kill -9 the live node leading the most partitions (never `except`); returns its ID. */
async function killLeaderOfMost(except?: number): Promise<number> {
  const counts = [...(await leadersByNode())].filter(
    ([id]) => id !== except && kafka.nodes.some((n) => n.id === id && n.pid() !== undefined),
  );
  counts.sort((a, b) => b[1] - a[1]);
  const [id, led] = counts[0] as [number, number];
  console.log(`# [${elapsed()}] kill -9 node ${id} (leads ${led} of the pipeline's partitions)`);
  kafka.nodes.find((n) => n.id === id)?.kill();
  cluster.nodeKills++;
  return id;
}

async function restart(id: number): Promise<void> {
  await kafka.nodes.find((n) => n.id === id)?.start();
  console.log(`# [${elapsed()}] node ${id} restarted`);
}

const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/**
 * The longest time the database took no write while `pending()` said work was left (after the
 * first write of the scenario): how long a broker kill stalled the pipeline, seen from the end.
 */
function watchPauses(pending: () => Promise<boolean>) {
  let stopped = false;
  let longest = 0;
  let last = '';
  let since = Date.now();
  // The same for the users topic's end offsets: tells a stalled poller from a stalled applier.
  let producedLongest = 0;
  const produced = (async () => {
    const admin = createKafka(pipeline.infra).admin();
    let lastEnd = '';
    let endSince = Date.now();
    let connected = false;
    while (!stopped) {
      try {
        if (!connected) {
          await admin.connect();
          connected = true;
        }
        const offsets = await admin.fetchTopicOffsets(topicNames(pipeline.prefix).users);
        const end = offsets.map((o) => o.high).join(',');
        if (end !== lastEnd) {
          if (lastEnd !== '') {
            const pause = Date.now() - endSince;
            producedLongest = Math.max(producedLongest, pause);
            if (pause > 5_000) console.log(`# [${elapsed()}] produce resumed after a ${(pause / 1000).toFixed(1)} s pause`);
          }
          lastEnd = end;
          endSince = Date.now();
        } else if (!(await pending())) endSince = Date.now();
      } catch {
        // a broker is down: the next sample tells
      }
      await sleep(500);
    }
    await admin.disconnect().catch(() => undefined);
  })();
  const loop = (async () => {
    while (!stopped) {
      try {
        const [row] = await pipeline.query<{ n: string; v: string }>('select count(*) as n, coalesce(sum(version), 0) as v from users');
        const now = `${row?.n}/${row?.v}`;
        if (now !== last) {
          if (last !== '') {
            const pause = Date.now() - since;
            longest = Math.max(longest, pause);
            if (pause > 5_000) console.log(`# [${elapsed()}] writes resumed after a ${(pause / 1000).toFixed(1)} s pause`);
          }
          last = now;
          since = Date.now();
        } else if (!(await pending())) since = Date.now();
      } catch {
        // a sample lost: the next one tells
      }
      await sleep(200);
    }
  })();
  return async (name: string) => {
    stopped = true;
    await Promise.all([loop, produced]);
    cluster.maxPauseMs = Math.max(cluster.maxPauseMs, longest);
    cluster.maxProducePauseMs = Math.max(cluster.maxProducePauseMs, producedLongest);
    console.log(
      `# ${name}: longest pause in database writes ${(longest / 1000).toFixed(1)} s, in produced user events ${(producedLongest / 1000).toFixed(1)} s`,
    );
  };
}

/** Every partition of the applier's topics assigned to exactly one member of a Stable group. */
async function checkGroupRebalanced(): Promise<void> {
  const admin = createKafka(pipeline.infra).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const { groups } = await admin.describeGroups([pipeline.groupId]);
      const group = groups[0];
      const assigned = new Map<string, number>();
      for (const member of group?.members ?? []) {
        const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
        for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) {
          for (const p of partitions) assigned.set(`${topic}/${p}`, (assigned.get(`${topic}/${p}`) ?? 0) + 1);
        }
      }
      const subscribed = new Set([...assigned.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))));
      const metadata = subscribed.size === 0 ? { topics: [] } : await admin.fetchTopicMetadata({ topics: [...subscribed] });
      const all = metadata.topics.flatMap((t) => t.partitions.map((p) => `${t.name}/${p.partitionId}`));
      const ok = group?.state === 'Stable' && all.length > 0 && all.every((k) => assigned.get(k) === 1) && assigned.size === all.length;
      if (ok) {
        cluster.rebalanceChecks++;
        return;
      }
      if (Date.now() > deadline) {
        assert.fail(
          `applier group ${group?.state}: ${assigned.size} of ${all.length} partitions assigned (${[...assigned.values()].filter((n) => n > 1).length} twice)`,
        );
      }
      await sleep(1_000);
    }
  } finally {
    await admin.disconnect();
  }
}

async function checkNoDeadLetters(): Promise<void> {
  const records = await readTopics(createKafka(pipeline.infra), [topicNames(pipeline.prefix).deadLetters], {
    timeoutMs: 60_000,
  });
  cluster.deadLetters += records.length;
  assert.equal(records.length, 0, `${records.length} records in the dead-letter topic`);
}

test('topics are created replicated: RF 3, min.insync.replicas 2', async () => {
  const created = await pipeline.cli(['topics', 'create']);
  assert.equal(created.code, 0, created.stderr);
  const admin = createKafka(pipeline.infra).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: topics() });
    for (const t of metadata.topics) for (const p of t.partitions) assert.equal(p.replicas.length, 3, `${t.name}/${p.partitionId}`);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics().map((name) => ({ type: 2, name, configNames: ['min.insync.replicas'] })),
    });
    for (const r of configs.resources) assert.equal(r.configEntries[0]?.configValue, '2', r.resourceName);
  } finally {
    await admin.disconnect();
  }
});

/**
 * A stream of changes with a latency probe: until `stop()` is called (and then once more, so the
 * last directory change is polled), set a probe user's title, run a delta pass, wait until the
 * row in PostgreSQL has it. Each round's time is one probe change's end-to-end latency.
 */
function probeStream() {
  const latencies: number[] = [];
  let stopping = false;
  const loop = (async () => {
    const { Attribute, Change, Client } = await import('ldapts');
    const client = new Client({ url: pipeline.directory.instance.url, timeout: 30_000 });
    await client.bind(pipeline.directory.instance.adminDn, pipeline.directory.instance.adminPassword);
    try {
      for (let round = 0, last = false; !last; round++) {
        last = stopping;
        const [probe] = await pipeline.query<{ external_id: string; dn: string }>(
          'select external_id, dn from users where profile_id = $1 and enabled order by external_id limit 1',
          [pipeline.profileId],
        );
        assert.ok(probe, 'a probe user');
        const title = `probe ${round} ${Date.now()}`;
        const t0 = Date.now();
        await client.modify(probe.dn, [
          new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: [title] }) }),
        ]);
        await pollUntilSucceeded(pipeline, false, figures);
        const passMs = Date.now() - t0;
        for (;;) {
          const [row] = await pipeline.query<{ title: string | null }>(
            'select title from users where profile_id = $1 and external_id = $2',
            [pipeline.profileId, probe.external_id],
          );
          if (row?.title === title) break;
          if (Date.now() - t0 > 300_000) assert.fail(`probe change ${round} not applied after 300 s`);
          await sleep(100);
        }
        latencies.push(Date.now() - t0);
        console.log(
          `# [${elapsed()}] probe ${round}: ${((Date.now() - t0) / 1000).toFixed(1)} s (delta pass ${(passMs / 1000).toFixed(1)} s)`,
        );
      }
    } finally {
      await client.unbind().catch(() => undefined);
    }
  })();
  return {
    async stop(name: string): Promise<void> {
      stopping = true;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
      const max = sorted[sorted.length - 1] ?? 0;
      if (name.startsWith('baseline')) cluster.baselineMedianMs = median;
      else {
        cluster.probes += latencies.length;
        cluster.probeMedianMs = Math.max(cluster.probeMedianMs, median);
        cluster.probeMaxMs = Math.max(cluster.probeMaxMs, max);
      }
      console.log(
        `# ${name}: ${latencies.length} probe changes, LDAP → PostgreSQL median ${(median / 1000).toFixed(1)} s, max ${(max / 1000).toFixed(1)} s`,
      );
    },
  };
}

/** Two kills of the node leading the most partitions, each restarted, while `work` runs. */
async function twoLeaderKills(work: Promise<unknown>): Promise<void> {
  await sleep(1_500 + rnd() * 1_500);
  const first = await killLeaderOfMost();
  await sleep(3_000 + rnd() * 2_000);
  await restart(first);
  await sleep(1_000 + rnd() * 1_000);
  const second = await killLeaderOfMost(first);
  await sleep(3_000 + rnd() * 2_000);
  await restart(second);
  await work;
}

test(`full sync of ${USERS} users: the leader of most partitions killed -9, restarted, then another`, async () => {
  let done = false;
  const stopWatch = watchPauses(async () => !done);
  let survived = true;
  await runScenario(
    pipeline,
    faults,
    { name: 'cluster: full sync, two leader kills', startApplier: () => pipeline.startApplier(), applyTimeoutMs: 600_000 },
    async (applier) => {
      const sync = (async () => {
        await pollUntilSucceeded(pipeline, true, figures);
      })();
      await twoLeaderKills(sync);
      await checkGroupRebalanced();
      done = true;
      survived = applier.child.exitCode === null;
    },
  );
  await stopWatch('full sync, two leader kills');
  assert.ok(survived, 'the applier exited during the broker kills');
  await checkNoDeadLetters();
});

test('baseline: probe changes with every broker up', async () => {
  const applier = pipeline.startApplier();
  try {
    const stream = probeStream();
    await sleep(5_000);
    await stream.stop('baseline, no fault');
  } finally {
    await applier.stop();
  }
});

test('a stream of changes: the leader of most partitions killed -9, restarted, then another', async () => {
  await faults.change(pipeline, { disable: 100, remove: 30, enable: 30, rename: 30, move: 30 });
  await runScenario(
    pipeline,
    faults,
    { name: 'cluster: changes, two leader kills', startApplier: () => pipeline.startApplier(), applyTimeoutMs: 600_000 },
    async () => {
      const stream = probeStream();
      const more = (async () => {
        await sleep(4_000);
        await faults.change(pipeline, { disable: 40, enable: 10, rename: 10 });
      })();
      await twoLeaderKills(more);
      await sleep(3_000);
      await stream.stop('changes, two leader kills');
      await checkGroupRebalanced();
    },
  );
  await checkNoDeadLetters();
});

test('a stream of changes: the active controller killed -9 and restarted', async () => {
  await faults.change(pipeline, { disable: 60, remove: 10, enable: 20, rename: 10 });
  await runScenario(
    pipeline,
    faults,
    { name: 'cluster: changes, controller failover', startApplier: () => pipeline.startApplier(), applyTimeoutMs: 600_000 },
    async () => {
      const stream = probeStream();
      await sleep(1_500 + rnd() * 1_500);
      const controller = kafka.activeController();
      assert.ok(controller !== undefined, 'no active controller found in the quorum-state files');
      console.log(`# [${elapsed()}] kill -9 the active controller, node ${controller}`);
      kafka.nodes.find((n) => n.id === controller)?.kill();
      cluster.controllerKills++;
      const killedAt = Date.now();
      let next = kafka.activeController();
      while ((next === undefined || next === controller) && Date.now() - killedAt < 30_000) {
        await sleep(200);
        next = kafka.activeController();
      }
      console.log(`# new active controller: node ${next} after ${Date.now() - killedAt} ms`);
      assert.ok(next !== undefined && next !== controller, 'the quorum elected another controller');
      await sleep(2_000 + rnd() * 2_000);
      await restart(controller);
      await faults.change(pipeline, { disable: 20, enable: 5 });
      await sleep(3_000);
      await stream.stop('changes, controller failover');
      await checkGroupRebalanced();
    },
  );
  await checkNoDeadLetters();
});
