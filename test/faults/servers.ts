/**
 * A private Kafka broker and a private PostgreSQL cluster for the long fault suite, so it can
 * restart them without breaking the tests and services that share the machine's servers. Both on
 * free loopback ports, in temp folders, removed by stop().
 */
import { spawnSync } from 'node:child_process';
import { chownSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@dirstream/testing';
import { createKafkaComponent, kafkaOptions } from '../../infra/local/kafka.ts';

export type PrivateServer = {
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/** A single KRaft broker (jars from the shared cache of infra/local/kafka.ts). */
export async function startPrivateKafka(label: string): Promise<PrivateServer & { readonly brokers: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), `dirstream-${label}-kafka-`));
  const component = createKafkaComponent({ ...kafkaOptions(), port: await freePort(), controllerPort: await freePort(), dir });
  const log = (line: string) => console.log(`# [private kafka] ${line}`);
  const endpoints = (await component.up(log)) as { brokers: string[] };
  return {
    brokers: endpoints.brokers,
    async restart() {
      await component.down();
      await component.up(log);
    },
    async stop() {
      await component.down();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user. */
function asPostgres(command: string, args: readonly string[]): void {
  const quoted = [command, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const result =
    process.getuid?.() === 0
      ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { encoding: 'utf8', timeout: 120_000 })
      : spawnSync(command, [...args], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

/** A throw-away cluster (initdb, trust on loopback, fsync off), url `postgres://postgres@127.0.0.1:PORT/postgres`. */
export async function startPrivatePostgres(label: string): Promise<PrivateServer & { readonly url: string }> {
  const dir = await mkdtemp(join(tmpdir(), `dirstream-${label}-pg-`));
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const data = join(dir, 'data');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres']);
  asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'log'), '-m', 'fast', '-w', 'restart']);
    },
    async stop() {
      try {
        asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
