import { resolve as resolvePath } from 'node:path';
import { type ConfigEnv, configJsonSchema, configWarnings, type DirstreamConfig, loadConfig, maskConfig } from '@dirstream/config';
import { createError, errorCode, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import type { SyncControl } from '@dirstream/poller';
import type { Tracing } from '@dirstream/tracing';
import { stringify } from 'yaml';
import { type Command, parseCommand, usageError } from './args.ts';
import { HELP } from './help.ts';
import { formatDuration, formatStatusTable } from './status-table.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export type CliContext = {
  readonly argv: readonly string[];
  readonly env: ConfigEnv;
  readonly cwd: string;
  readonly signal: AbortSignal;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /**
   * The process's one pino root logger, created once the config (and so the level) is known.
   * Services log NDJSON to stdout; commands whose stdout is a report for people log to stderr.
   */
  readonly createLogger: (level: DirstreamConfig['logLevel'], output: 'stdout' | 'stderr') => Logger;
  /** Loads a service package; tests pass their own. Default: dynamic import(). */
  readonly importModule?: (specifier: string) => Promise<unknown>;
};

/** What services receive: the validated config, the root logger, the shutdown signal and, when on, tracing. */
export type ServiceDeps = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly tracing?: Tracing;
};
export type RunOutcome = { readonly ok: boolean; readonly reason?: string };

/*
 * The contracts of the service packages, checked when they are imported (dynamically, so that
 * `config check` works even when a service package does not load).
 */
type PollerModule = {
  checkProfileConnections(deps: ServiceDeps): Promise<readonly { readonly ok: boolean; readonly line: string }[]>;
  runPoller(
    deps: ServiceDeps,
    options: { once: boolean; profileId: string | undefined; full: boolean; allowMassDisable: boolean },
  ): Promise<RunOutcome>;
  planProfile(deps: ServiceDeps, options: { profileId: string; full: boolean }): Promise<string>;
  createSyncControl(config: DirstreamConfig['database']): Promise<SyncControl>;
  migratePollerSchema(config: DirstreamConfig['database']): Promise<readonly string[]>;
};
type ApplierModule = {
  runApplier(deps: ServiceDeps, options: { replay: boolean; untilCaughtUp: boolean; groupId: string | undefined }): Promise<RunOutcome>;
  migrate(deps: ServiceDeps): Promise<unknown>;
};
type ApiModule = {
  runServe(deps: ServiceDeps): Promise<RunOutcome>;
};
type KafkaModule = {
  connectAdmin(config: DirstreamConfig['kafka'], logger: Logger): Promise<{ disconnect(): Promise<void> }>;
  ensureTopics(
    admin: unknown,
    options: { prefix: string; partitions: number; replicationFactor: number; minInsyncReplicas: number | undefined },
  ): Promise<{ readonly created: readonly string[]; readonly existing: readonly string[] }>;
};

const dynamicImport = (specifier: string): Promise<unknown> => import(specifier);

async function importService<T>(ctx: CliContext, specifier: string, functionName: keyof T & string): Promise<T> {
  let module: Record<string, unknown>;
  try {
    module = (await (ctx.importModule ?? dynamicImport)(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw createError('CLI_MODULE_UNAVAILABLE', `cannot load ${specifier}`, { cause: error });
  }
  if (typeof module[functionName] !== 'function') {
    throw createError('CLI_MODULE_UNAVAILABLE', `${specifier} does not export a function ${functionName}`);
  }
  return module as T;
}

/**
 * Runs a service with OpenTelemetry tracing when `tracing.otlpEndpoint` or OTEL_EXPORTER_OTLP_ENDPOINT
 * names a collector; otherwise the SDK is not even loaded. Spans still buffered are exported at the end.
 */
async function withTracing<T>(ctx: CliContext, deps: ServiceDeps, serviceName: string, run: (deps: ServiceDeps) => Promise<T>): Promise<T> {
  const endpoint = deps.config.tracing?.otlpEndpoint ?? ctx.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (endpoint === undefined || endpoint === '') return run(deps);
  const { createTracing } = (await (ctx.importModule ?? dynamicImport)('@dirstream/tracing')) as typeof import('@dirstream/tracing');
  const tracing = await createTracing({ serviceName, endpoint });
  deps.logger.info({ endpoint }, 'tracing on: spans go to the OTLP collector');
  try {
    return await run({ ...deps, tracing });
  } finally {
    await tracing.shutdown().catch((err: unknown) => deps.logger.warn({ err: toError(err) }, 'tracing: the last spans were not exported'));
  }
}

/** --config, else $DIRSTREAM_CONFIG, else ./dirstream.yaml; relative to the working directory. */
export function configPathFor(configPath: string | undefined, env: ConfigEnv, cwd: string): string {
  const chosen = configPath ?? (env.DIRSTREAM_CONFIG === undefined || env.DIRSTREAM_CONFIG === '' ? undefined : env.DIRSTREAM_CONFIG);
  return resolvePath(cwd, chosen ?? 'dirstream.yaml');
}

/** `--profile` takes a profile's id or its name; services get the id. */
function profileIdFor(config: DirstreamConfig, wanted: string): string {
  const profile =
    config.profiles.find((p) => p.id.toLowerCase() === wanted.toLowerCase()) ?? config.profiles.find((p) => p.name === wanted);
  if (profile === undefined) {
    const known = config.profiles.map((p) => `${p.id} (${p.name})`).join(', ');
    throw usageError(`no profile "${wanted}" in the configuration${known === '' ? ' (it has no profiles)' : `; profiles: ${known}`}`);
  }
  return profile.id;
}

function errorMessage(error: unknown): string {
  const err = toError(error);
  const causes: string[] = [];
  let cause: unknown = err.cause;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    causes.push(cause.message);
    cause = cause.cause;
  }
  return causes.length === 0 ? err.message : `${err.message}\n  caused by: ${causes.join('\n  caused by: ')}`;
}

function outcomeExit(ctx: CliContext, outcome: RunOutcome, what: string): number {
  if (outcome.ok) return EXIT_OK;
  ctx.stderr(`dirstream ${what} failed: ${outcome.reason ?? 'no reason given'}\n`);
  return EXIT_FAILED;
}

async function runCommand(ctx: CliContext, command: Exclude<Command, { name: 'help' } | { name: 'config schema' }>): Promise<number> {
  const file = configPathFor(command.configPath, ctx.env, ctx.cwd);
  const config = await loadConfig({ path: file, env: ctx.env });

  const warnings = configWarnings(config);
  if (command.name === 'config check') {
    for (const warning of warnings) ctx.stderr(`warning: ${warning.path}: ${warning.message}\n`);
    ctx.stdout(`# ${file}: valid (secrets masked)\n${stringify(maskConfig(config))}`);
    if (command.connect !== true) return EXIT_OK;
    const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'checkProfileConnections');
    const checks = await poller.checkProfileConnections({
      config,
      logger: ctx.createLogger(config.logLevel, 'stderr'),
      signal: ctx.signal,
    });
    for (const check of checks) ctx.stdout(`# ${check.ok ? 'ok' : 'FAILED'}: ${check.line}\n`);
    return checks.every((c) => c.ok) ? EXIT_OK : EXIT_FAILED;
  }

  const reportCommand =
    command.name === 'plan' ||
    command.name === 'topics create' ||
    command.name === 'migrate' ||
    command.name === 'sync' ||
    command.name === 'status';
  const logger = ctx.createLogger(config.logLevel, reportCommand ? 'stderr' : 'stdout');
  for (const warning of warnings) logger.warn({ key: warning.path, file }, `configuration: ${warning.message}`);
  const deps: ServiceDeps = { config, logger, signal: ctx.signal };
  try {
    switch (command.name) {
      case 'poller': {
        const profileId = command.profileId === undefined ? undefined : profileIdFor(config, command.profileId);
        const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'runPoller');
        const outcome = await withTracing(ctx, deps, 'dirstream-poller', (traced) =>
          poller.runPoller(traced, {
            once: command.once,
            profileId,
            full: command.full,
            allowMassDisable: command.allowMassDisable,
          }),
        );
        return outcomeExit(ctx, outcome, 'poller');
      }
      case 'plan': {
        const profileId = profileIdFor(config, command.profileId);
        const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'planProfile');
        const report = await poller.planProfile(deps, { profileId, full: command.full });
        ctx.stdout(report.endsWith('\n') ? report : `${report}\n`);
        return EXIT_OK;
      }
      case 'sync': {
        const profileId = profileIdFor(config, command.profileId);
        const profile = config.profiles.find((p) => p.id === profileId);
        const name = profile?.name ?? profileId;
        // No poller runs a disabled profile (`poller --profile` refuses it too): a request would wait for ever.
        if (profile?.enabled === false) {
          throw createError(
            'PROFILE_DISABLED',
            `profile ${name} (${profileId}) has enabled: false: no poller runs it (set enabled: true)`,
            { retriable: false },
          );
        }
        const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'createSyncControl');
        const control = await poller.createSyncControl(config.database);
        try {
          const holder = (await control.lockHolders()).get(profileId);
          const requestedBy = `dirstream sync (${ctx.env.USER ?? ctx.env.LOGNAME ?? 'unknown user'})`;
          const { runId, coalesced } = await control.requestSync({ profileId, full: command.full, reason: 'operator', requestedBy });
          // The run ID alone on stdout (for scripts); what it means on stderr.
          ctx.stdout(`${runId}\n`);
          ctx.stderr(
            coalesced
              ? `profile ${name}: joined run ${runId}, already requested and not started yet\n`
              : `profile ${name}: ${command.full ? 'full ' : ''}run ${runId} requested\n`,
          );
          if (!holder)
            ctx.stderr(
              `no poller holds the lock of profile ${name} now: the run starts when one does (dirstream poller, or poller --once)\n`,
            );
          else if (holder.mode === 'once')
            ctx.stderr(
              `dirstream poller --once (${holder.host}:${holder.pid}) is running this profile: the run follows it if it takes the request\n`,
            );
          if (!command.wait) return EXIT_OK;
          const state = await control.waitForRun(runId, { signal: ctx.signal });
          const took =
            state.startedAt && state.finishedAt ? ` in ${formatDuration(state.finishedAt.getTime() - state.startedAt.getTime())}` : '';
          ctx.stderr(`run ${runId} ${state.status}${took}${state.statusReason ? `: ${state.statusReason}` : ''}\n`);
          const last = (await control.profileStates()).find((p) => p.profileId === profileId)?.lastRun;
          if (last?.runId === runId) {
            const c = last.counts;
            ctx.stderr(
              `${last.mode} pass: ${c.entriesRead} entries read, ${c.created} created, ${c.updated + c.renamed + c.moved} updated, ` +
                `${c.disabled} disabled, ${c.enabled} enabled, ${c.membershipsAdded + c.membershipsRemoved} membership changes, ${c.errors} entry errors\n`,
            );
          }
          return state.status === 'succeeded' ? EXIT_OK : EXIT_FAILED;
        } finally {
          await control.close();
        }
      }
      case 'status': {
        const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'createSyncControl');
        const control = await poller.createSyncControl(config.database);
        try {
          ctx.stdout(formatStatusTable(config.profiles, await control.profileStates(), Date.now()));
          return EXIT_OK;
        } finally {
          await control.close();
        }
      }
      case 'applier': {
        const applier = await importService<ApplierModule>(ctx, '@dirstream/applier', 'runApplier');
        const outcome = await withTracing(ctx, deps, 'dirstream-applier', (traced) =>
          applier.runApplier(traced, {
            replay: command.replay,
            untilCaughtUp: command.untilCaughtUp,
            groupId: command.groupId,
          }),
        );
        return outcomeExit(ctx, outcome, 'applier');
      }
      case 'serve': {
        const api = await importService<ApiModule>(ctx, '@dirstream/api', 'runServe');
        return outcomeExit(ctx, await withTracing(ctx, deps, 'dirstream-serve', (traced) => api.runServe(traced)), 'serve');
      }
      case 'migrate': {
        const applier = await importService<ApplierModule>(ctx, '@dirstream/applier', 'migrate');
        const poller = await importService<PollerModule>(ctx, '@dirstream/poller', 'migratePollerSchema');
        await applier.migrate(deps);
        await poller.migratePollerSchema(config.database);
        ctx.stderr('migrations applied\n');
        return EXIT_OK;
      }
      case 'topics create': {
        const kafka = await importService<KafkaModule>(ctx, '@dirstream/kafka', 'ensureTopics');
        const admin = await kafka.connectAdmin(config.kafka, logger);
        try {
          const result = await kafka.ensureTopics(admin, {
            prefix: config.kafka.topicPrefix,
            partitions: config.kafka.partitions,
            replicationFactor: config.kafka.replicationFactor,
            minInsyncReplicas: config.kafka.minInsyncReplicas,
          });
          for (const topic of result.created) ctx.stdout(`created ${topic}\n`);
          for (const topic of result.existing) ctx.stdout(`exists  ${topic}\n`);
        } finally {
          await admin.disconnect();
        }
        return EXIT_OK;
      }
    }
  } finally {
    logger.flush();
  }
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(ctx: CliContext): Promise<number> {
  try {
    const command = parseCommand(ctx.argv);
    if (command.name === 'help') {
      ctx.stdout(HELP);
      return EXIT_OK;
    }
    if (command.name === 'config schema') {
      ctx.stdout(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return EXIT_OK;
    }
    return await runCommand(ctx, command);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'CLI_USAGE') {
      ctx.stderr(`dirstream: ${toError(error).message}\n`);
      return EXIT_USAGE;
    }
    if (code?.startsWith('CONFIG_')) {
      const hint = code === 'CONFIG_NOT_FOUND' ? '\n(choose the file with --config FILE or DIRSTREAM_CONFIG)' : '';
      ctx.stderr(`${toError(error).message}${hint}\n`);
      return EXIT_USAGE;
    }
    ctx.stderr(`dirstream: ${errorMessage(error)}\n`);
    return EXIT_FAILED;
  }
}
