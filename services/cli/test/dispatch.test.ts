import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSilentLogger } from '@dirstream/logging';
import { parseCommand } from '../src/args.ts';
import { type CliContext, runCli } from '../src/run.ts';

const PROFILE_ID = '6f1c3a52-4a8e-4b7b-9a51-0f0d2f0e9c11';

describe('parseCommand', () => {
  const cases: readonly { argv: readonly string[]; expected: unknown }[] = [
    { argv: [], expected: { name: 'help' } },
    { argv: ['poller', '--help'], expected: { name: 'help' } },
    { argv: ['config', 'check'], expected: { name: 'config check', configPath: undefined } },
    { argv: ['config', 'check', '-c', 'x.yaml'], expected: { name: 'config check', configPath: 'x.yaml' } },
    { argv: ['--config=x.yaml', 'config', 'check'], expected: { name: 'config check', configPath: 'x.yaml' } },
    { argv: ['config', 'schema'], expected: { name: 'config schema' } },
    {
      argv: ['poller'],
      expected: { name: 'poller', configPath: undefined, once: false, profileId: undefined, full: false, allowMassDisable: false },
    },
    {
      argv: ['poller', '--once', '--profile', 'corp', '--full', '--allow-mass-disable'],
      expected: { name: 'poller', configPath: undefined, once: true, profileId: 'corp', full: true, allowMassDisable: true },
    },
    { argv: ['plan', '--profile', 'corp'], expected: { name: 'plan', configPath: undefined, profileId: 'corp', full: false } },
    {
      argv: ['applier', '--replay', '--until-caught-up', '--group', 'g1'],
      expected: { name: 'applier', configPath: undefined, replay: true, untilCaughtUp: true, groupId: 'g1' },
    },
    { argv: ['migrate', '-c', 'y.yaml'], expected: { name: 'migrate', configPath: 'y.yaml' } },
    { argv: ['sync', '--profile', 'corp'], expected: { name: 'sync', configPath: undefined, profileId: 'corp', full: false, wait: false } },
    {
      argv: ['sync', '--profile', 'corp', '--full', '--wait'],
      expected: { name: 'sync', configPath: undefined, profileId: 'corp', full: true, wait: true },
    },
    { argv: ['status'], expected: { name: 'status', configPath: undefined } },
    { argv: ['topics', 'create'], expected: { name: 'topics create', configPath: undefined } },
  ];
  for (const { argv, expected } of cases) {
    it(`dirstream ${argv.join(' ')}`, () => assert.deepEqual(parseCommand(argv), expected));
  }

  const errors: readonly { argv: readonly string[]; message: RegExp }[] = [
    { argv: ['frob'], message: /unknown command "frob"/ },
    { argv: ['topics'], message: /"topics" needs a subcommand: "topics create"/ },
    { argv: ['topics', 'delete'], message: /unknown command "topics delete"/ },
    { argv: ['config', 'check', 'extra'], message: /unexpected argument "extra"/ },
    { argv: ['poller', '--nope'], message: /Unknown option '--nope'/ },
    { argv: ['poller', '--profile'], message: /--profile/ },
    { argv: ['migrate', '--full'], message: /option --full is not valid for "dirstream migrate"/ },
    { argv: ['plan', '--full'], message: /"plan" needs --profile ID/ },
    { argv: ['config', 'schema', '--config', 'x'], message: /drop --config/ },
    { argv: ['sync', '--wait'], message: /"sync" needs --profile ID/ },
    { argv: ['status', '--wait'], message: /option --wait is not valid for "dirstream status"/ },
  ];
  for (const { argv, message } of errors) {
    it(`rejects dirstream ${argv.join(' ')}`, () => {
      assert.throws(
        () => parseCommand(argv),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'CLI_USAGE');
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe('runCli dispatches to the service packages', () => {
  let dir = '';
  let configPath = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirstream-dispatch-'));
    configPath = join(dir, 'dirstream.yaml');
    await writeFile(
      configPath,
      `kafka: { brokers: [127.0.0.1:39092] }
database: { url: postgres://postgres@127.0.0.1:5432/postgres }
logLevel: warn
profiles:
  - id: ${PROFILE_ID}
    name: corp
    directory: openldap
    connection: { urls: [ldap://127.0.0.1:38389], bindDn: cn=admin, bindPassword: { env: PW } }
    users: { baseDn: dc=x }
`,
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function context(argv: readonly string[], modules: Record<string, unknown>) {
    const out = { stdout: '', stderr: '', levels: [] as string[] };
    const ctx: CliContext = {
      argv: [...argv, '--config', configPath],
      env: { PW: 'pw' },
      cwd: dir,
      signal: new AbortController().signal,
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
      createLogger: (level, output) => {
        out.levels.push(`${level}>${output}`);
        return createSilentLogger();
      },
      importModule: async (specifier) => {
        if (!(specifier in modules)) throw new Error(`Cannot find package '${specifier}'`);
        return modules[specifier];
      },
    };
    return { ctx, out };
  }

  it('poller: options passed, profile name resolved to its id, not ok → exit 1 with the reason', async () => {
    const calls: unknown[] = [];
    const { ctx, out } = context(['poller', '--once', '--profile', 'corp', '--full'], {
      '@dirstream/poller': {
        runPoller: async (deps: { config: { profiles: unknown[] }; signal: AbortSignal }, options: unknown) => {
          calls.push({ profiles: deps.config.profiles.length, aborted: deps.signal.aborted, options });
          return { ok: false, reason: 'deletion threshold exceeded' };
        },
      },
    });
    assert.equal(await runCli(ctx), 1);
    assert.deepEqual(calls, [
      { profiles: 1, aborted: false, options: { once: true, profileId: PROFILE_ID, full: true, allowMassDisable: false } },
    ]);
    assert.match(out.stderr, /dirstream poller failed: deletion threshold exceeded/);
    assert.deepEqual(out.levels, ['warn>stdout'], 'one root logger at the configured level, NDJSON on stdout');
  });

  it('plan prints the report', async () => {
    const { ctx, out } = context(['plan', '--profile', PROFILE_ID.toUpperCase()], {
      '@dirstream/poller': {
        planProfile: async (_deps: unknown, options: { profileId: string; full: boolean }) =>
          `would create 3 users (${options.profileId}, full=${options.full})`,
      },
    });
    assert.equal(await runCli(ctx), 0, out.stderr);
    assert.equal(out.stdout, `would create 3 users (${PROFILE_ID}, full=false)\n`);
    assert.deepEqual(out.levels, ['warn>stderr'], 'logs stay out of the report');
  });

  it('applier: options passed, ok → exit 0', async () => {
    const calls: unknown[] = [];
    const { ctx } = context(['applier', '--until-caught-up', '--group', 'g2'], {
      '@dirstream/applier': {
        runApplier: async (_deps: unknown, options: unknown) => {
          calls.push(options);
          return { ok: true };
        },
      },
    });
    assert.equal(await runCli(ctx), 0);
    assert.deepEqual(calls, [{ replay: false, untilCaughtUp: true, groupId: 'g2' }]);
  });

  it('tracing: on with OTEL_EXPORTER_OTLP_ENDPOINT (the service gets it, shut down after), off without (not even loaded)', async () => {
    const created: unknown[] = [];
    const seen: unknown[] = [];
    const modules = {
      '@dirstream/applier': {
        runApplier: async (deps: { tracing?: { enabled: boolean } }) => {
          seen.push(deps.tracing?.enabled);
          return { ok: true };
        },
      },
      '@dirstream/tracing': {
        createTracing: async (options: unknown) => {
          created.push(options);
          return { enabled: true, shutdown: async () => void created.push('shut down') };
        },
      },
    };
    const on = context(['applier'], modules);
    assert.equal(await runCli({ ...on.ctx, env: { ...on.ctx.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' } }), 0);
    assert.deepEqual(created, [{ serviceName: 'dirstream-applier', endpoint: 'http://collector:4318' }, 'shut down']);
    assert.deepEqual(seen, [true]);

    created.length = 0;
    const off = context(['applier'], { '@dirstream/applier': modules['@dirstream/applier'] });
    assert.equal(await runCli(off.ctx), 0, off.out.stderr);
    assert.deepEqual(created, []);
    assert.deepEqual(seen, [true, undefined]);
  });

  it('migrate calls the applier migrate with the config', async () => {
    let url = '';
    let pollerSchema = '';
    const { ctx } = context(['migrate'], {
      '@dirstream/applier': {
        migrate: async (deps: { config: { database: { url: string } } }) => {
          url = deps.config.database.url;
        },
      },
      '@dirstream/poller': {
        migratePollerSchema: async (database: { pollerSchema: string }) => {
          pollerSchema = database.pollerSchema;
          return [];
        },
      },
    });
    assert.equal(await runCli(ctx), 0);
    assert.equal(url, 'postgres://postgres@127.0.0.1:5432/postgres');
    assert.equal(pollerSchema, 'dirstream_poller', 'and the poller migrations on its schema');
  });

  it('a service package that does not load or lacks the function → exit 1 naming it', async () => {
    const missing = context(['poller'], {});
    assert.equal(await runCli(missing.ctx), 1);
    assert.match(missing.out.stderr, /cannot load @dirstream\/poller/);
    const wrong = context(['applier'], { '@dirstream/applier': { somethingElse: 1 } });
    assert.equal(await runCli(wrong.ctx), 1);
    assert.match(wrong.out.stderr, /@dirstream\/applier does not export a function runApplier/);
  });

  it('a thrown error → exit 1 with its message and causes', async () => {
    const { ctx, out } = context(['poller'], {
      '@dirstream/poller': {
        runPoller: async () => {
          throw new Error('LDAP bind failed', { cause: new Error('invalid credentials (49)') });
        },
      },
    });
    assert.equal(await runCli(ctx), 1);
    assert.match(out.stderr, /LDAP bind failed\n {2}caused by: invalid credentials \(49\)/);
  });
});

describe('dirstream sync', () => {
  it('refuses a disabled profile without making a request nobody would run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dirstream-sync-'));
    try {
      const configPath = join(dir, 'dirstream.yaml');
      await writeFile(
        configPath,
        `kafka: { brokers: [127.0.0.1:39092] }
database: { url: postgres://postgres@127.0.0.1:5432/postgres }
profiles:
  - id: ${PROFILE_ID}
    name: lab
    enabled: false
    directory: openldap
    connection: { urls: [ldap://127.0.0.1:38389], bindDn: cn=admin, bindPassword: { env: PW } }
    users: { baseDn: dc=x }
`,
      );
      let opened = 0;
      let stderr = '';
      const code = await runCli({
        argv: ['sync', '--profile', 'lab', '--config', configPath],
        env: { PW: 'pw' },
        cwd: dir,
        signal: new AbortController().signal,
        stdout: () => undefined,
        stderr: (text) => {
          stderr += text;
        },
        createLogger: () => createSilentLogger(),
        importModule: async () => ({
          createSyncControl: async () => {
            opened++;
            throw new Error('not expected');
          },
        }),
      });
      assert.equal(code, 1);
      assert.match(stderr, /profile lab .* has enabled: false/);
      assert.equal(opened, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
