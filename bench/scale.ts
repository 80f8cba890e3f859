/**
 * Applier horizontal scale: 1, 2 and 4 applier processes in one consumer group over 12
 * partitions per topic, on the three-node KRaft cluster (infra/local/kafka-cluster.ts; started
 * for the part when it is not running, and stopped again), topics with RF 3 and min ISR 2. Each
 * scenario applies the same N pre-produced events (half users, half memberships) into a fresh
 * database: wall time, events/s, each instance's peak RSS, and where the CPU went (appliers,
 * PostgreSQL, the Kafka JVMs) — on a 2-core machine that says what limits the scale.
 *
 *   node bench/scale.ts --events 200000
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createCodec } from '@dirstream/events';
import { createIdempotentProducer, ensureTopics } from '@dirstream/kafka';
import { createKafka, createTestDatabase, deleteTopics, loadInfra, type TestDatabase, uniquePrefix } from '@dirstream/testing';
import { closeDatabase, migrate, openDatabase } from '@dirstream/applier';
import { createKafkaCluster, kafkaClusterOptions } from '../infra/local/kafka-cluster.ts';
import { isRunning } from '../infra/local/process.ts';
import { benchConfig, produceSyntheticEvents, runChild } from './applier.ts';

export type ScaleRow = {
  readonly instances: number;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly peakRssMiB: readonly number[];
  readonly cpuSeconds: { readonly appliers: number; readonly postgres: number; readonly kafka: number };
};

const PARTITIONS = 12;
const TICKS = 100; // USER_HZ on Linux

/** CPU ticks used so far by each process `match` selects, from /proc. */
function cpuTicks(match: (pid: number, comm: string) => boolean): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!match(pid, comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, Number(fields[11]) + Number(fields[12])); // utime, stime
    } catch {
      // the process exited meanwhile
    }
  }
  return ticks;
}

/**
 * CPU seconds the selected processes use from now until stop(), sampled every 200 ms: a database
 * backend exits with its client, so its time is read while it lives (its last 200 ms may be missed).
 */
function watchCpu(match: (pid: number, comm: string) => boolean) {
  const baseline = cpuTicks(match);
  const latest = new Map(baseline);
  const sample = () => {
    for (const [pid, ticks] of cpuTicks(match)) latest.set(pid, ticks);
  };
  const timer = setInterval(sample, 200);
  return () => {
    clearInterval(timer);
    sample();
    let used = 0;
    for (const [pid, ticks] of latest) used += ticks - (baseline.get(pid) ?? 0);
    return used / TICKS;
  };
}

export async function benchApplierScale(options: { events?: number; instances?: readonly number[] } = {}): Promise<ScaleRow[]> {
  const total = options.events ?? 200_000;
  const users = Math.ceil(total / 2);
  const edges = total - users;
  const infra = loadInfra();
  const cluster = createKafkaCluster(kafkaClusterOptions());
  const wasRunning = cluster.nodes.every((n) => isRunning(n.pidFile));
  await cluster.up((line) => console.error(`[scale] ${line}`));
  const kafkaPids = () => new Set(cluster.nodes.map((n) => n.pid()).filter((p): p is number => p !== undefined));
  const prefix = uniquePrefix('bench-scale');
  const kafka = createKafka({ ...infra, kafka: { brokers: cluster.brokers } }, `${prefix}-bench`);
  const admin = kafka.admin();
  await admin.connect();
  const databases: TestDatabase[] = [];
  const rows: ScaleRow[] = [];
  try {
    await ensureTopics(admin, { prefix, partitions: PARTITIONS, replicationFactor: 3 });
    const codec = createCodec();
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    await produceSyntheticEvents(producer, codec, prefix, users, edges);
    await producer.disconnect();

    for (const instances of options.instances ?? [1, 2, 4]) {
      const database = await createTestDatabase(infra, 'bench-scale');
      databases.push(database);
      const base = benchConfig(database.url, cluster.brokers, prefix, `${prefix}-x${instances}`, PARTITIONS);
      const config = { ...base, kafka: { ...base.kafka, replicationFactor: 3 } };
      await migrate({ config });
      const pids = kafkaPids();
      const postgresCpu = watchCpu((_, comm) => comm === 'postgres');
      const kafkaCpu = watchCpu((pid) => pids.has(pid));
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: instances }, () => runChild(config)));
      const seconds = (performance.now() - started) / 1000;
      const cpu = { postgres: postgresCpu(), kafka: kafkaCpu() };
      const failed = results.find((r) => !r.ok);
      if (failed !== undefined) throw new Error(`applier failed: ${failed.reason}`);
      const db = await openDatabase(config, { poolSize: 1 });
      const [count] = await db.query<{ u: string; m: string }>(
        'select (select count(*) from users) as u, (select count(*) from memberships) as m',
      );
      await closeDatabase(db);
      if (Number(count?.u) !== users || Number(count?.m) !== edges) {
        throw new Error(`${instances} appliers: expected ${users} users and ${edges} edges, found ${count?.u} and ${count?.m}`);
      }
      rows.push({
        instances,
        events: total,
        seconds,
        eventsPerSecond: total / seconds,
        peakRssMiB: results.map((r) => r.maxRssKiB / 1024),
        cpuSeconds: {
          appliers: results.reduce((sum, r) => sum + (r.cpuSeconds ?? 0), 0),
          postgres: cpu.postgres,
          kafka: cpu.kafka,
        },
      });
    }
    return rows;
  } finally {
    await deleteTopics(admin, prefix).catch(() => undefined);
    await admin.disconnect();
    for (const db of databases) await db.drop().catch(() => undefined);
    if (!wasRunning) await cluster.down();
  }
}

export function formatScaleTable(rows: readonly ScaleRow[]): string {
  const one = rows.find((r) => r.instances === 1)?.eventsPerSecond;
  const lines = [
    '| appliers | events | seconds | events/s | vs 1 | peak RSS per instance (MiB) | CPU s: appliers / PostgreSQL / Kafka |',
    '| ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const c = r.cpuSeconds;
    lines.push(
      `| ${r.instances} | ${r.events} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSecond)} | ${one ? `${(r.eventsPerSecond / one).toFixed(2)}×` : '–'} | ${r.peakRssMiB
        .map((m) => m.toFixed(0))
        .join(' / ')} | ${c.appliers.toFixed(1)} / ${c.postgres.toFixed(1)} / ${c.kafka.toFixed(1)} |`,
    );
  }
  return [
    ...lines,
    '',
    `One consumer group, ${PARTITIONS} partitions per topic, three-node KRaft cluster (RF 3, min ISR 2, acks=all), one fresh database per row; wall time includes process start, migrations check and group join. CPU seconds are summed over the run: the appliers' own, every PostgreSQL process on the machine (sampled every 200 ms), the three broker JVMs; load average ${loadavg()[0]?.toFixed(1)} at the end (other work shares the machine).`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--events');
  const rows = await benchApplierScale({ events: at > 0 ? Number(process.argv[at + 1]) : 200_000 });
  console.log(formatScaleTable(rows));
}
