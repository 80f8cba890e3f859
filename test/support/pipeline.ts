/**
 * A whole pipeline (directory → poller → Kafka → applier → PostgreSQL) for cross-service tests,
 * the demo and the benchmark, driven through the real `dirstream` command line.
 *
 *   const pipeline = await createPipeline({ label: 'oracle', profile: { users: { disabledFilter: '(employeeType=inactive)' } } });
 *   await pipeline.ldap.addUser('alice');
 *   const poll = await pipeline.runPoller(['--full']);     // `dirstream poller --once --full`
 *   await pipeline.applyUntilCaughtUp();                    // `dirstream applier --until-caught-up`
 *   const rows = await pipeline.query('select login_name from users');
 *   await pipeline.cleanup();
 *
 * Each pipeline owns an LDAP subtree (ou=people and ou=groups under a unique OU), a fresh
 * database (poller state and applier tables both live in it), a topic prefix and a consumer
 * group, so files run in parallel and twice in a row. The configuration is a real
 * dirstream.yaml in a temp folder; the bind password is read from a file next to it
 * (`{ file: ldap-password }`), never written inline.
 *
 * `infra` defaults to loadInfra(); pass a copy whose `openldap` points at a private slapd (same
 * suffix and admin, e.g. from infra/local/openldap.ts slapdInstance) to use that server instead.
 * `profile` is merged into the one openldap profile (connection, users, groups, schedule,
 * policies; `groups: null` drops the groups section). Children log at `logLevel` (default warn).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type DirstreamConfig, loadConfig } from '@dirstream/config';
import {
  createKafka,
  createLdapSubtree,
  createTestDatabase,
  deleteTopics,
  type Infra,
  type LdapSubtree,
  loadInfra,
  type TestDatabase,
  uniquePrefix,
} from '@dirstream/testing';
import pg from 'pg';
import { stringify } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(ROOT, 'services', 'cli', 'src', 'main.ts');

export type ProfileOverrides = {
  readonly connection?: Record<string, unknown>;
  readonly users?: Record<string, unknown>;
  /** `null`: no groups section (users only). */
  readonly groups?: Record<string, unknown> | null;
  readonly schedule?: Record<string, unknown>;
  readonly policies?: Record<string, unknown>;
};

export type PipelineOptions = {
  readonly label: string;
  readonly infra?: Infra;
  readonly profile?: ProfileOverrides;
  /** Profile id (default: a random UUID). */
  readonly profileId?: string;
  readonly partitions?: number;
  /** Merged into the `kafka` section (e.g. replicationFactor, minInsyncReplicas on a cluster). */
  readonly kafka?: Record<string, unknown>;
  readonly logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Merged into the `applier` section (groupId and metricsPort 0 are set already). */
  readonly applier?: Record<string, unknown>;
  /**
   * Another directory for the profile (e.g. the Samba AD DC): its type, URLs, TLS settings and
   * service account. Default: the openldap of `infra` with its admin. The subtree is still created
   * on that openldap (unused then).
   */
  readonly directory?: {
    readonly type: 'openldap' | 'active-directory' | 'ldap';
    readonly urls: readonly string[];
    readonly bindDn: string;
    readonly bindPassword: string;
    readonly tls?: Record<string, unknown>;
    readonly pageSize?: number;
  };
};

export type CommandResult = {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
};

export type RunningProcess = {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process exited (never rejects). */
  readonly exited: Promise<CommandResult>;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  /** SIGKILL (default) or another signal; resolves when it exited. */
  kill(signal?: NodeJS.Signals): Promise<CommandResult>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 20 s); resolves when it exited. */
  stop(graceMs?: number): Promise<CommandResult>;
};

export type Pipeline = {
  readonly infra: Infra;
  readonly dir: string;
  readonly configPath: string;
  /** The profile's bind password, alone in a file (for `ldapsearch -y`). */
  readonly passwordFile: string;
  readonly config: DirstreamConfig;
  readonly profileId: string;
  readonly ldap: LdapSubtree;
  readonly database: TestDatabase;
  /** Topic prefix; the applier's consumer group is `${prefix}-applier`. */
  readonly prefix: string;
  readonly groupId: string;
  /** Any `dirstream` command with this pipeline's --config; resolves on exit. */
  cli(args: readonly string[], options?: { timeoutMs?: number }): Promise<CommandResult>;
  /** `dirstream poller --once …args`; resolves on exit (check `.code`). */
  runPoller(args?: readonly string[], options?: { timeoutMs?: number }): Promise<CommandResult>;
  /** Starts `dirstream poller …args` (add '--once' yourself if wanted) in the background. */
  startPoller(args?: readonly string[]): RunningProcess;
  /** Starts `dirstream applier …args` in the background. */
  startApplier(args?: readonly string[]): RunningProcess;
  /** `dirstream applier --until-caught-up`; throws with the output when it does not exit 0. */
  applyUntilCaughtUp(args?: readonly string[], options?: { timeoutMs?: number }): Promise<CommandResult>;
  /** A query on the pipeline's database. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Stops children still running, drops the database, topics, subtree and temp folder. */
  cleanup(): Promise<void>;
};

/** Keep only the end of a child's output: a long run logs a lot. */
const OUTPUT_LIMIT = 2_000_000;

function spawnCli(args: readonly string[], children: Set<RunningProcess>): RunningProcess {
  const env = { ...process.env };
  delete env.DIRSTREAM_CONFIG;
  const child = spawn(NODE, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout = (stdout + chunk).slice(-OUTPUT_LIMIT);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-OUTPUT_LIMIT);
  });
  const exited = new Promise<CommandResult>((done) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      children.delete(handle);
      done({ code, signal, stdout, stderr });
    };
    child.on('close', finish);
    child.on('error', (err) => {
      stderr += `\nspawn failed: ${err.message}`;
      finish(-1, null);
    });
  });
  const handle: RunningProcess = {
    child,
    pid: child.pid ?? -1,
    exited,
    output: () => ({ stdout, stderr }),
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async stop(graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  children.add(handle);
  return handle;
}

async function withTimeout(running: RunningProcess, timeoutMs: number, what: string): Promise<CommandResult> {
  const timer = setTimeout(() => {
    running.child.kill('SIGKILL');
  }, timeoutMs);
  try {
    const result = await running.exited;
    if (result.signal === 'SIGKILL' && result.code === null) {
      return { ...result, stderr: `${result.stderr}\n[pipeline] ${what} killed after ${timeoutMs} ms` };
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** The end of a command's output, for assertion messages. */
export function describeResult(result: CommandResult, lines = 30): string {
  const tail = (text: string) => text.trimEnd().split('\n').slice(-lines).join('\n');
  return `exit ${result.code ?? result.signal}\n--- stdout (tail)\n${tail(result.stdout)}\n--- stderr (tail)\n${tail(result.stderr)}`;
}

export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const infra = options.infra ?? loadInfra();
  const { label } = options;
  const overrides = options.profile ?? {};
  const dir = await mkdtemp(join(tmpdir(), `dirstream-${label}-`));
  const ldap = await createLdapSubtree(infra, label);
  let database: TestDatabase | undefined;
  try {
    database = await createTestDatabase(infra, label);
    const prefix = uniquePrefix(label);
    const groupId = `${prefix}-applier`;
    const profileId = options.profileId ?? randomUUID();
    // No trailing newline: the same file serves `ldapsearch -y` (which reads it whole).
    const passwordFile = join(dir, 'ldap-password');
    await writeFile(passwordFile, options.directory?.bindPassword ?? infra.openldap.adminPassword, { mode: 0o600 });
    const raw = {
      logLevel: options.logLevel ?? 'warn',
      kafka: {
        brokers: [...infra.kafka.brokers],
        clientId: `dirstream-${label}`,
        topicPrefix: prefix,
        partitions: options.partitions ?? 3,
        ...options.kafka,
      },
      database: { url: database.url, pollerSchema: 'dirstream_poller', poolSize: 6 },
      applier: { groupId, metricsPort: 0, ...options.applier },
      poller: { metricsPort: 0 },
      profiles: [
        {
          id: profileId,
          name: label,
          directory: options.directory?.type ?? 'openldap',
          connection: {
            urls: [...(options.directory?.urls ?? [infra.openldap.url])],
            ...(options.directory?.tls ? { tls: options.directory.tls } : {}),
            bindDn: options.directory?.bindDn ?? infra.openldap.adminDn,
            bindPassword: { file: 'ldap-password' },
            connectTimeoutMs: 5_000,
            timeoutMs: 30_000,
            pageSize: options.directory?.pageSize ?? 200,
            ...overrides.connection,
          },
          users: { baseDn: ldap.peopleDn, ...overrides.users },
          ...(overrides.groups === null ? {} : { groups: { baseDn: ldap.groupsDn, ...overrides.groups } }),
          schedule: { intervalSeconds: 5, fullEverySeconds: 86_400, delta: 'auto', overlapSeconds: 2, ...overrides.schedule },
          policies: { maxDisableCount: 1_000_000, maxDisablePercent: 100, ...overrides.policies },
        },
      ],
    };
    const configPath = join(dir, 'dirstream.yaml');
    await writeFile(configPath, `# written by test/support/pipeline.ts (${label})\n${stringify(raw)}`);
    const config = await loadConfig({ path: configPath, env: {} });

    const children = new Set<RunningProcess>();
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => undefined); // a test may terminate backends on purpose
    const db = database;

    const cli = (args: readonly string[], opts: { timeoutMs?: number } = {}) =>
      withTimeout(spawnCli([...args, '--config', configPath], children), opts.timeoutMs ?? 180_000, `dirstream ${args.join(' ')}`);

    return {
      infra,
      dir,
      configPath,
      passwordFile,
      config,
      profileId,
      ldap,
      database,
      prefix,
      groupId,
      cli,
      runPoller: (args = [], opts = {}) => cli(['poller', '--once', ...args], opts),
      startPoller: (args = []) => spawnCli(['poller', ...args, '--config', configPath], children),
      startApplier: (args = []) => spawnCli(['applier', ...args, '--config', configPath], children),
      async applyUntilCaughtUp(args = [], opts = {}) {
        const result = await cli(['applier', '--until-caught-up', ...args], opts);
        if (result.code !== 0) throw new Error(`dirstream applier --until-caught-up failed: ${describeResult(result)}`);
        return result;
      },
      async query<T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
        return (await pool.query(sql, [...params])).rows as T[];
      },
      async cleanup() {
        await Promise.all([...children].map((c) => c.kill('SIGKILL')));
        await pool.end().catch(() => undefined);
        const admin = createKafka(infra).admin();
        try {
          await admin.connect();
          await deleteTopics(admin, prefix);
        } catch {
          // the broker may be down after a fault test; topics are uniquely named anyway
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
        await db.drop().catch(() => undefined);
        await ldap.cleanup().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await database?.drop().catch(() => undefined);
    await ldap.cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
