/**
 * The local infrastructure without Docker: `up` (idempotent), `down`, `status`.
 * Usage: node infra/local/cli.ts up|down|status [component …]   (components: postgres kafka openldap chromium samba)
 *        node infra/local/cli.ts up --kafka-brokers 3   (or DIRSTREAM_KAFKA_BROKERS=3): also a three-node
 *        KRaft cluster (component kafka-cluster, 127.0.0.1:39191-39193) beside the single broker
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createChromiumComponent } from './chromium.ts';
import type { Component } from './component.ts';
import { createKafkaComponent, kafkaOptions } from './kafka.ts';
import { createKafkaClusterComponent, kafkaClusterOptions } from './kafka-cluster.ts';
import { createOpenLdapComponent } from './openldap.ts';
import { INFRA_FILE, STATE_DIR } from './paths.ts';
import { createPostgresComponent } from './postgres.ts';
import { isAlive } from './process.ts';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function components(env: NodeJS.ProcessEnv, kafkaBrokers: number): Promise<Component[]> {
  const list = [
    createPostgresComponent(env.DATABASE_URL ?? DEFAULT_DATABASE_URL),
    createKafkaComponent(kafkaOptions(env)),
    createOpenLdapComponent(),
    createChromiumComponent(),
  ];
  // The cluster is opt-in for `up`; `down` and `status` see it whenever it has a data folder.
  if (kafkaBrokers > 1) list.push(createKafkaClusterComponent(kafkaClusterOptions(env, kafkaBrokers)));
  if (env.DIRSTREAM_SKIP_AD !== '1' && existsSync(join(import.meta.dirname, 'samba.ts'))) {
    const samba = (await import('./samba.ts')) as { sambaComponent: Component };
    list.push(samba.sambaComponent);
  }
  return list;
}

/** One `up` at a time across processes (test files and helpers may call it concurrently). */
async function withLock<T>(action: () => Promise<T>): Promise<T> {
  mkdirSync(STATE_DIR, { recursive: true });
  const lock = join(STATE_DIR, 'infra.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const owner = Number.parseInt(existsSync(lock) ? readFileSync(lock, 'utf8') : '', 10);
      if (!Number.isInteger(owner) || !isAlive(owner)) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`infra lock ${lock} held by pid ${owner} for too long`);
      else await sleep(500);
    }
  }
  try {
    return await action();
  } finally {
    rmSync(lock, { force: true });
  }
}

function readInfraFile(): Record<string, unknown> {
  return existsSync(INFRA_FILE) ? (JSON.parse(readFileSync(INFRA_FILE, 'utf8')) as Record<string, unknown>) : {};
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flag = argv.indexOf('--kafka-brokers');
  const [command, ...names] = flag < 0 ? argv : [...argv.slice(0, flag), ...argv.slice(flag + 2)];
  // Without the flag: `down` stops a cluster that has a data folder, `status` shows one that was
  // started (a pid file), so a stopped opt-in cluster does not make `status` fail.
  const clusterDir = kafkaClusterOptions(env).dir;
  const clusterSeen =
    command === 'down' ? existsSync(clusterDir) : command === 'status' && existsSync(join(clusterDir, 'node-1', 'kafka.pid'));
  const kafkaBrokers = Number(flag < 0 ? (env.DIRSTREAM_KAFKA_BROKERS ?? (clusterSeen ? 3 : 1)) : argv[flag + 1]);
  if (!Number.isInteger(kafkaBrokers) || kafkaBrokers < 1) {
    console.error(
      `--kafka-brokers / DIRSTREAM_KAFKA_BROKERS must be a positive integer, not "${flag < 0 ? env.DIRSTREAM_KAFKA_BROKERS : argv[flag + 1]}"`,
    );
    return 2;
  }
  const all = await components(env, kafkaBrokers);
  const selected = names.length === 0 ? all : all.filter((c) => names.includes(c.name));
  const unknown = names.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length > 0 || !command || !['up', 'down', 'status'].includes(command)) {
    console.error(
      `usage: infra/local/cli.ts up|down|status [${all.map((c) => c.name).join('|')} …]${unknown.length ? `\nunknown component: ${unknown.join(', ')}` : ''}`,
    );
    return 2;
  }
  const log = (line: string) => console.error(`[infra] ${line}`);
  if (command === 'up') {
    return withLock(async () => {
      const endpoints = readInfraFile();
      for (const component of selected) {
        const started = Date.now();
        try {
          endpoints[component.name] = await component.up(log);
        } catch (error) {
          console.error(`[infra] ${component.name} could not start: ${error instanceof Error ? error.message : String(error)}`);
          return 1;
        }
        log(`${component.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        writeFileSync(INFRA_FILE, `${JSON.stringify(endpoints, null, 2)}\n`);
      }
      for (const component of selected) console.log(`${component.name.padEnd(9)} ${(await component.status()).detail}`);
      console.log(`endpoints written to ${INFRA_FILE}`);
      return 0;
    });
  }
  if (command === 'down') {
    return withLock(async () => {
      for (const component of [...selected].reverse()) {
        const stopped = await component.down();
        console.log(`${component.name.padEnd(9)} ${stopped ? 'stopped' : 'was not running (or not ours)'}`);
      }
      return 0;
    });
  }
  let allRunning = true;
  for (const component of selected) {
    const status = await component.status();
    allRunning &&= status.running;
    console.log(`${component.name.padEnd(9)} ${status.running ? 'running ' : 'stopped '} ${status.detail}`);
  }
  return allRunning ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2), process.env);
