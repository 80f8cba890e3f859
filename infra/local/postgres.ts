import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ensureAptPackages } from './apt.ts';
import type { Component } from './component.ts';
import { STATE_DIR } from './paths.ts';
import { run, waitFor } from './process.ts';

export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  return join(root, versions[0] as string, 'bin');
}

const PRIVATE_PORT = 35432;

/**
 * Uses the PostgreSQL at `url` (the machine's own, by default). When none answers: start the
 * system cluster if there is one, else a private cluster under .dirstream/postgres on 35432.
 */
export function createPostgresComponent(url: string): Component {
  const dir = join(STATE_DIR, 'postgres');
  const privateUrl = `postgres://postgres@127.0.0.1:${PRIVATE_PORT}/postgres`;
  let startedPrivate = false;
  return {
    name: 'postgres',
    async up(log) {
      if (await postgresAnswers(url)) return { url };
      if (existsSync('/etc/postgresql')) {
        for (const version of readdirSync('/etc/postgresql')) {
          log(`PostgreSQL at ${url} does not answer: starting the system cluster ${version}/main`);
          await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']).catch(() => undefined);
        }
        if (await postgresAnswers(url).catch(() => false)) return { url };
        try {
          await waitFor(() => postgresAnswers(url), { timeoutMs: 15_000, what: `PostgreSQL at ${url}` });
          return { url };
        } catch {
          // fall through to a private cluster
        }
      }
      if (await postgresAnswers(privateUrl)) return { url: privateUrl };
      await ensureAptPackages(['postgresql'], log);
      const bin = postgresBin();
      mkdirSync(dir, { recursive: true });
      // initdb refuses to run as root: the cluster belongs to the postgres user.
      await run('chown', ['postgres:postgres', dir]);
      if (!existsSync(join(dir, 'PG_VERSION'))) {
        log(`creating a private PostgreSQL cluster in ${dir}`);
        await run('runuser', ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', dir, '-U', 'postgres', '--auth=trust']);
      }
      await run('runuser', [
        '-u',
        'postgres',
        '--',
        join(bin, 'pg_ctl'),
        '-D',
        dir,
        '-l',
        join(dir, 'server.log'),
        '-o',
        `-p ${PRIVATE_PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        'start',
      ]);
      startedPrivate = true;
      await waitFor(() => postgresAnswers(privateUrl), { timeoutMs: 30_000, what: `private PostgreSQL on ${PRIVATE_PORT}` });
      return { url: privateUrl };
    },
    async down() {
      if (!existsSync(join(dir, 'postmaster.pid'))) return startedPrivate;
      await run('runuser', ['-u', 'postgres', '--', join(postgresBin(), 'pg_ctl'), '-D', dir, '-m', 'fast', 'stop']);
      return true;
    },
    async status() {
      if (await postgresAnswers(url)) return { running: true, detail: `PostgreSQL ${url}` };
      const running = await postgresAnswers(privateUrl);
      return { running, detail: running ? `PostgreSQL (private) ${privateUrl}` : `PostgreSQL ${url} (not answering)` };
    },
  };
}
