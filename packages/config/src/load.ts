import { readFile as readFileFromDisk } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { createConfigError, locateIssues } from './issues.ts';
import { type ConfigEnv, type ReadTextFile, resolveConfigSecrets } from './secrets.ts';
import type { DirstreamConfig } from './types.ts';
import { validateConfig } from './validate.ts';
import { parseYamlSource } from './yaml-source.ts';

export type { ConfigEnv, ReadTextFile } from './secrets.ts';

export type LoadConfigOptions = {
  /** The YAML file; a relative path resolves against the current directory. */
  readonly path: string;
  /** Where `{ env: NAME }` secrets come from. Code under packages/ never reads process.env itself. */
  readonly env: ConfigEnv;
  /** Reads the config file, secret files and CA files (tests pass their own). */
  readonly readFile?: ReadTextFile;
};

export type LoadConfigFromTextOptions = {
  /** Named in every error message (usually the file path). */
  readonly sourceName: string;
  readonly env: ConfigEnv;
  /** Relative secret/CA file paths resolve against this; default: the folder of sourceName. */
  readonly baseDir?: string;
  readonly readFile?: ReadTextFile;
};

const readUtf8: ReadTextFile = (path) => readFileFromDisk(path, 'utf8');

/**
 * Reads, validates and resolves a dirstream.yaml. Throws a DirstreamError with code
 * CONFIG_NOT_FOUND, CONFIG_INVALID or CONFIG_SECRET_MISSING whose message names the file, the key
 * path and line of every problem, and never contains a secret value.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<DirstreamConfig> {
  const file = resolvePath(options.path);
  const readFile = options.readFile ?? readUtf8;
  let text: string;
  try {
    text = await readFile(file);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${typeof code === 'string' ? code : 'error'})`;
    throw createConfigError('CONFIG_NOT_FOUND', file, `Configuration file ${problem}`, [], error);
  }
  return loadConfigFromText(text, { sourceName: file, env: options.env, baseDir: dirname(file), readFile });
}

/** The same as loadConfig for a YAML text already in memory (tests, stdin). */
export async function loadConfigFromText(text: string, options: LoadConfigFromTextOptions): Promise<DirstreamConfig> {
  const source = parseYamlSource(text, options.sourceName);
  const validated = validateConfig(source.data);
  if (!validated.ok) {
    throw createConfigError('CONFIG_INVALID', options.sourceName, 'Invalid configuration', locateIssues(validated.issues, source.locate));
  }
  return resolveConfigSecrets(validated.value, {
    sourceName: options.sourceName,
    env: options.env,
    baseDir: options.baseDir ?? dirname(resolvePath(options.sourceName)),
    readFile: options.readFile ?? readUtf8,
    locate: source.locate,
  });
}
