/**
 * A three-node KRaft cluster on loopback (each node broker + controller, one JVM each), from the
 * same cached jars as the single broker (kafka.ts). Production-like replication: internal topics
 * with RF 3 and min ISR 2, unclean leader election off. `npm run infra:up -- --kafka-brokers 3`
 * (or DIRSTREAM_KAFKA_BROKERS=3) starts it beside the single broker, which stays the default.
 * The fault suite starts a private one on free ports and kills its nodes (kill(), start()).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Component } from './component.ts';
import { ensureJars, KAFKA_LOG4J, kafkaAnswers, kafkaOptions } from './kafka.ts';
import { STATE_DIR } from './paths.ts';
import { isAlive, isRunning, readPid, run, startDaemon, stopDaemon, waitFor } from './process.ts';

export type KafkaClusterOptions = {
  readonly version: string;
  readonly dir: string;
  /** Client (PLAINTEXT) port of each node, node IDs 1…n in order. */
  readonly ports: readonly number[];
  readonly controllerPorts: readonly number[];
  /** Heap of each JVM (three share a small machine). */
  readonly heap?: string;
};

/** Client ports 39191–39193, controller ports 39291–39293: clear of the single broker's 39092/39093. */
export function kafkaClusterOptions(env: NodeJS.ProcessEnv = process.env, size = 3): KafkaClusterOptions {
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  return {
    version: kafkaOptions(env).version,
    dir: join(STATE_DIR, 'kafka-cluster'),
    ports: ids.map((id) => 39190 + id),
    controllerPorts: ids.map((id) => 39290 + id),
  };
}

export type KafkaNode = {
  readonly id: number;
  readonly broker: string;
  readonly pidFile: string;
  pid(): number | undefined;
  /** kill -9, no shutdown: the node's partitions lose their leader until the controller moves them. */
  kill(): void;
  start(): Promise<void>;
  stop(): Promise<boolean>;
};

export type KafkaCluster = {
  readonly brokers: string[];
  readonly nodes: readonly KafkaNode[];
  up(log?: (line: string) => void): Promise<{ brokers: string[] }>;
  down(): Promise<boolean>;
  /** The node leading the KRaft quorum (the active controller), from the quorum-state files. */
  activeController(): number | undefined;
};

function nodeProperties(options: KafkaClusterOptions, index: number): string {
  const id = index + 1;
  const voters = options.controllerPorts.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const replicas = Math.min(3, options.ports.length);
  return [
    'process.roles=broker,controller',
    `node.id=${id}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${options.ports[index]},CONTROLLER://127.0.0.1:${options.controllerPorts[index]}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${options.ports[index]}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${join(options.dir, `node-${id}`, 'data')}`,
    'num.partitions=1',
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${Math.min(2, replicas)}`,
    'unclean.leader.election.enable=false',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'group.initial.rebalance.delay.ms=0',
    `offsets.topic.replication.factor=${replicas}`,
    'offsets.topic.num.partitions=12',
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${Math.min(2, replicas)}`,
    // A killed node's partitions move within seconds, as in a production cluster's defaults.
    'broker.session.timeout.ms=6000',
    'broker.heartbeat.interval.ms=1000',
    'log.cleaner.backoff.ms=1000',
    'log.segment.bytes=67108864',
    'num.network.threads=2',
    'num.io.threads=2',
    '',
  ].join('\n');
}

export function createKafkaCluster(options: KafkaClusterOptions = kafkaClusterOptions()): KafkaCluster {
  const brokers = options.ports.map((port) => `127.0.0.1:${port}`);
  let libs: string | undefined;
  const nodeDir = (id: number) => join(options.dir, `node-${id}`);

  const startNode = async (index: number) => {
    const id = index + 1;
    const dir = nodeDir(id);
    const props = join(dir, 'server.properties');
    const classpath = `${libs}/*`;
    startDaemon({
      name: `kafka-${id}`,
      command: 'java',
      args: [
        `-Xms${options.heap ?? '384m'}`,
        `-Xmx${options.heap ?? '384m'}`,
        '-XX:+UseG1GC',
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${join(options.dir, 'log4j.properties')}`,
        `-Dkafka.logs.dir=${dir}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        props,
      ],
      logFile: join(dir, 'kafka.log'),
      pidFile: join(dir, 'kafka.pid'),
    });
  };

  const nodes: KafkaNode[] = options.ports.map((port, index) => {
    const id = index + 1;
    const pidFile = join(nodeDir(id), 'kafka.pid');
    return {
      id,
      broker: `127.0.0.1:${port}`,
      pidFile,
      pid: () => readPid(pidFile),
      kill() {
        const pid = readPid(pidFile);
        if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
      },
      async start() {
        if (isRunning(pidFile)) return;
        await startNode(index);
        await waitFor(async () => isRunning(pidFile) && (await kafkaAnswers([`127.0.0.1:${port}`])), {
          timeoutMs: 90_000,
          intervalMs: 500,
          what: `Kafka node ${id} on 127.0.0.1:${port}`,
          logFile: join(nodeDir(id), 'kafka.log'),
        });
      },
      stop: () => stopDaemon(pidFile, { timeoutMs: 30_000 }),
    };
  });

  return {
    brokers,
    nodes,
    async up(log = () => {}) {
      libs = await ensureJars({ ...kafkaOptions(), version: options.version }, log);
      if (nodes.every((n) => isRunning(n.pidFile)) && (await kafkaAnswers(brokers))) return { brokers };
      mkdirSync(options.dir, { recursive: true });
      writeFileSync(join(options.dir, 'log4j.properties'), KAFKA_LOG4J);
      const classpath = `${libs}/*`;
      const idFile = join(options.dir, 'cluster-id');
      if (!existsSync(idFile)) {
        const { stdout } = await run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid']);
        writeFileSync(idFile, stdout.trim().split('\n').pop() ?? '');
      }
      const clusterId = readFileSync(idFile, 'utf8').trim();
      for (const [index, node] of nodes.entries()) {
        const dir = nodeDir(node.id);
        mkdirSync(dir, { recursive: true });
        const props = join(dir, 'server.properties');
        writeFileSync(props, nodeProperties(options, index));
        if (!existsSync(join(dir, 'data', 'meta.properties'))) {
          await run('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props]);
        }
      }
      log(`starting a ${nodes.length}-node Kafka ${options.version} cluster on ${brokers.join(', ')}`);
      // All at once: a controller quorum needs a majority of its voters before anything answers.
      for (const [index, node] of nodes.entries()) if (!isRunning(node.pidFile)) await startNode(index);
      await waitFor(
        async () => {
          if (!nodes.every((n) => isRunning(n.pidFile))) throw new Error('a node exited');
          for (const node of nodes) if (!(await kafkaAnswers([node.broker]))) return false;
          return true;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: `the ${nodes.length}-node Kafka cluster`, logFile: join(nodeDir(1), 'kafka.log') },
      );
      return { brokers };
    },
    async down() {
      const stopped = await Promise.all(nodes.map((n) => n.stop()));
      return stopped.some(Boolean);
    },
    activeController() {
      let best: { leaderId: number; leaderEpoch: number } | undefined;
      for (const node of nodes) {
        if (!isRunning(node.pidFile)) continue;
        const file = join(nodeDir(node.id), 'data', '__cluster_metadata-0', 'quorum-state');
        if (!existsSync(file)) continue;
        try {
          const state = JSON.parse(readFileSync(file, 'utf8')) as { leaderId: number; leaderEpoch: number };
          if (state.leaderId > 0 && (best === undefined || state.leaderEpoch > best.leaderEpoch)) best = state;
        } catch {
          // written while we read: the other nodes' files tell
        }
      }
      return best?.leaderId;
    },
  };
}

/** The cluster as an infra component (`npm run infra:up -- --kafka-brokers 3`). */
export function createKafkaClusterComponent(options: KafkaClusterOptions = kafkaClusterOptions()): Component {
  const cluster = createKafkaCluster(options);
  return {
    name: 'kafka-cluster',
    up: (log) => cluster.up(log),
    down: () => cluster.down(),
    async status() {
      const running = cluster.nodes.every((n) => isRunning(n.pidFile)) && (await kafkaAnswers(cluster.brokers));
      return {
        running,
        detail: `Kafka ${options.version} ${cluster.nodes.length} nodes ${cluster.brokers.join(', ')} (data ${options.dir})`,
      };
    },
  };
}
