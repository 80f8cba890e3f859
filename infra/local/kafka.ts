import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { REPO_ROOT, STATE_DIR } from './paths.ts';
import { isRunning, run, startDaemon, stopDaemon, waitFor } from './process.ts';
import type { Component } from './component.ts';

/** Default 3.9.x; DIRSTREAM_KAFKA_VERSION=4.1.1 tries the 4.x line (log4j2 binding instead). */
export type KafkaOptions = {
  readonly version: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly dir: string;
};

export function kafkaOptions(env: NodeJS.ProcessEnv = process.env): KafkaOptions {
  const version = env.DIRSTREAM_KAFKA_VERSION ?? '3.9.1';
  return { version, port: 39092, controllerPort: 39093, dir: join(STATE_DIR, 'kafka') };
}

function libsDir(options: KafkaOptions): string {
  return join(STATE_DIR, 'cache', `kafka-${options.version}`, 'libs');
}

/**
 * Jars come from Maven Central through infra/kafka/pom.xml and are cached per version; the cache
 * marker holds the pom's hash, so a changed pom (a new artifact) downloads again.
 */
export async function ensureJars(options: KafkaOptions, log: (line: string) => void): Promise<string> {
  const libs = libsDir(options);
  const marker = join(libs, '.complete');
  const pomHash = createHash('sha256')
    .update(readFileSync(resolve(REPO_ROOT, 'infra', 'kafka', 'pom.xml')))
    .digest('hex');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === pomHash) return libs;
  // Download beside the cache and swap it in: a broker may be running from the old jars.
  const staging = `${libs}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const major = Number.parseInt(options.version, 10);
  // Kafka 3.x logs through log4j 1 (reload4j); 4.x through log4j2, which brings its own binding.
  const binding = major >= 4 ? ['-Dslf4j.binding=slf4j-nop', '-Dslf4j.version=2.0.17'] : [];
  log(`downloading Kafka ${options.version} jars from Maven Central (mvn dependency:copy-dependencies)`);
  await run('mvn', [
    '-q',
    '-B',
    '-f',
    resolve(REPO_ROOT, 'infra', 'kafka', 'pom.xml'),
    `-Dkafka.version=${options.version}`,
    ...binding,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${staging}`,
  ]);
  if (!readdirSync(staging).some((name) => name.startsWith('kafka_2.13-'))) {
    throw new Error(`Kafka jars missing in ${staging} after mvn dependency:copy-dependencies`);
  }
  writeFileSync(join(staging, '.complete'), pomHash);
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
  return libs;
}

function serverProperties(options: KafkaOptions): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${options.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${options.port},CONTROLLER://127.0.0.1:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${options.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${join(options.dir, 'data')}`,
    'num.partitions=1',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    'group.initial.rebalance.delay.ms=0',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=12',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'log.cleaner.backoff.ms=1000',
    // Small test segments keep compaction observable; production brokers keep their own settings.
    'log.segment.bytes=67108864',
    'num.network.threads=2',
    'num.io.threads=4',
    '',
  ].join('\n');
}

/** The brokers' log4j configuration (single node and cluster alike): warnings, plus start-up and elections. */
export const KAFKA_LOG4J = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.server.KafkaServer=INFO',
  'log4j.logger.kafka.server.BrokerServer=INFO',
  'log4j.logger.org.apache.kafka.raft=INFO',
  '',
].join('\n');

export async function kafkaAnswers(brokers: readonly string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'dirstream-infra-probe',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export function createKafkaComponent(options: KafkaOptions = kafkaOptions()): Component {
  const pidFile = join(options.dir, 'kafka.pid');
  const logFile = join(options.dir, 'kafka.log');
  const brokers = [`127.0.0.1:${options.port}`];
  return {
    name: 'kafka',
    async up(log) {
      // A broker already answering on the port is reused, whoever started it (another checkout).
      if (await kafkaAnswers(brokers)) return { brokers };
      await stopDaemon(pidFile);
      const libs = await ensureJars(options, log);
      mkdirSync(options.dir, { recursive: true });
      const props = join(options.dir, 'server.properties');
      writeFileSync(props, serverProperties(options));
      writeFileSync(join(options.dir, 'log4j.properties'), KAFKA_LOG4J);
      const classpath = `${libs}/*`;
      const java = 'java';
      if (!existsSync(join(options.dir, 'data', 'meta.properties'))) {
        const { stdout } = await run(java, ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid']);
        const clusterId = stdout.trim().split('\n').pop() ?? '';
        await run(java, ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props]);
      }
      log(`starting Kafka ${options.version} on 127.0.0.1:${options.port}`);
      startDaemon({
        name: 'kafka',
        command: java,
        args: [
          '-Xms256m',
          '-Xmx1g',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          `-Dlog4j.configuration=file:${join(options.dir, 'log4j.properties')}`,
          `-Dkafka.logs.dir=${options.dir}`,
          '-cp',
          classpath,
          'kafka.Kafka',
          props,
        ],
        logFile,
        pidFile,
      });
      await waitFor(async () => isRunning(pidFile) && (await kafkaAnswers(brokers)), {
        timeoutMs: 90_000,
        intervalMs: 500,
        what: `Kafka broker on 127.0.0.1:${options.port} (a metadata request)`,
        logFile,
      });
      return { brokers };
    },
    async down() {
      return stopDaemon(pidFile, { timeoutMs: 30_000 });
    },
    async status() {
      const running = isRunning(pidFile) && (await kafkaAnswers(brokers));
      return { running, detail: `Kafka ${options.version} 127.0.0.1:${options.port} (data ${options.dir})` };
    },
  };
}
