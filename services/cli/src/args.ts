import { parseArgs } from 'node:util';
import { createError, type DirstreamError } from '@dirstream/errors';

/** What the command line asked for, before any configuration is read. */
export type Command =
  | { readonly name: 'help' }
  | { readonly name: 'config check'; readonly configPath: string | undefined; readonly connect?: true }
  | { readonly name: 'config schema' }
  | {
      readonly name: 'poller';
      readonly configPath: string | undefined;
      readonly once: boolean;
      readonly profileId: string | undefined;
      readonly full: boolean;
      readonly allowMassDisable: boolean;
    }
  | { readonly name: 'plan'; readonly configPath: string | undefined; readonly profileId: string; readonly full: boolean }
  | {
      readonly name: 'applier';
      readonly configPath: string | undefined;
      readonly replay: boolean;
      readonly untilCaughtUp: boolean;
      readonly groupId: string | undefined;
    }
  | {
      readonly name: 'sync';
      readonly configPath: string | undefined;
      readonly profileId: string;
      readonly full: boolean;
      readonly wait: boolean;
    }
  | { readonly name: 'status'; readonly configPath: string | undefined }
  | { readonly name: 'migrate'; readonly configPath: string | undefined }
  | { readonly name: 'serve'; readonly configPath: string | undefined }
  | { readonly name: 'topics create'; readonly configPath: string | undefined };

export type CommandName = Command['name'];

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  once: { type: 'boolean' },
  profile: { type: 'string' },
  full: { type: 'boolean' },
  'allow-mass-disable': { type: 'boolean' },
  replay: { type: 'boolean' },
  'until-caught-up': { type: 'boolean' },
  group: { type: 'string' },
  connect: { type: 'boolean' },
  wait: { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

/** The options each command accepts besides --config and --help. */
const COMMAND_OPTIONS: Readonly<Record<Exclude<CommandName, 'help'>, readonly OptionName[]>> = {
  'config check': ['connect'],
  'config schema': [],
  poller: ['once', 'profile', 'full', 'allow-mass-disable'],
  plan: ['profile', 'full'],
  applier: ['replay', 'until-caught-up', 'group'],
  sync: ['profile', 'full', 'wait'],
  status: [],
  migrate: [],
  serve: [],
  'topics create': [],
};

const COMMANDS = Object.keys(COMMAND_OPTIONS) as readonly Exclude<CommandName, 'help'>[];

/** A mistake on the command line: exit code 2, message for the user, no stack. */
export function usageError(message: string): DirstreamError {
  return createError('CLI_USAGE', message);
}

function commandOf(positionals: readonly string[]): Exclude<CommandName, 'help'> {
  const [first, second, ...rest] = positionals;
  for (const name of COMMANDS) {
    const words = name.split(' ');
    if (words[0] !== first) continue;
    if (words.length === 1) {
      if (second !== undefined) throw usageError(`unexpected argument "${second}" after "${first}"`);
      return name;
    }
    if (second === undefined) {
      const choices = COMMANDS.filter((c) => c.startsWith(`${first} `)).map((c) => `"${c}"`);
      throw usageError(`"${first}" needs a subcommand: ${choices.join(' or ')}`);
    }
    if (words[1] !== second) continue;
    if (rest.length > 0) throw usageError(`unexpected argument "${rest[0]}" after "${name}"`);
    return name;
  }
  if (first !== undefined && second !== undefined && COMMANDS.some((c) => c.startsWith(`${first} `))) {
    throw usageError(`unknown command "${first} ${second}" (try --help)`);
  }
  throw usageError(`unknown command "${first}" (try --help)`);
}

function parseRaw(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // node:util's messages are clear ("Unknown option '--x'") and quote only what was typed.
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses argv (without node and script) into a Command; throws CLI_USAGE on any mistake. */
export function parseCommand(argv: readonly string[]): Command {
  const parsed = parseRaw(argv);
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0 || positionals[0] === 'help') return { name: 'help' };

  const name = commandOf(positionals);
  const allowed = COMMAND_OPTIONS[name];
  for (const option of Object.keys(values) as OptionName[]) {
    if (option === 'config' || option === 'help') continue;
    if (!allowed.includes(option)) throw usageError(`option --${option} is not valid for "dirstream ${name}" (try --help)`);
  }
  const configPath = values.config;
  if (configPath === '') throw usageError('--config needs a file path');

  switch (name) {
    case 'config check':
      return values.connect === true ? { name, configPath, connect: true } : { name, configPath };
    case 'config schema':
      if (configPath !== undefined) throw usageError('"config schema" reads no configuration: drop --config');
      return { name };
    case 'poller':
      return {
        name,
        configPath,
        once: values.once ?? false,
        profileId: values.profile,
        full: values.full ?? false,
        allowMassDisable: values['allow-mass-disable'] ?? false,
      };
    case 'plan':
      if (values.profile === undefined || values.profile === '') throw usageError('"plan" needs --profile ID');
      return { name, configPath, profileId: values.profile, full: values.full ?? false };
    case 'applier':
      return {
        name,
        configPath,
        replay: values.replay ?? false,
        untilCaughtUp: values['until-caught-up'] ?? false,
        groupId: values.group,
      };
    case 'sync':
      if (values.profile === undefined || values.profile === '') throw usageError('"sync" needs --profile ID');
      return { name, configPath, profileId: values.profile, full: values.full ?? false, wait: values.wait ?? false };
    case 'status':
      return { name, configPath };
    case 'migrate':
      return { name, configPath };
    case 'serve':
      return { name, configPath };
    case 'topics create':
      return { name, configPath };
  }
}
