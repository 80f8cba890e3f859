import { resolve as resolvePath } from 'node:path';
import { toError } from '@dirstream/errors';
import { createConfigError, type ConfigIssue, type IssueLocator, locateIssues } from './issues.ts';
import type { RawConfig, Secret } from './schema.ts';
import type { DirstreamConfig, ProfileConfig } from './types.ts';

export type ConfigEnv = Readonly<Record<string, string | undefined>>;
export type ReadTextFile = (path: string) => Promise<string>;

export type ResolveOptions = {
  readonly sourceName: string;
  readonly env: ConfigEnv;
  /** Relative file paths in the config (secret files, CA files) resolve against this folder. */
  readonly baseDir: string;
  readonly readFile: ReadTextFile;
  readonly locate?: IssueLocator;
};

/** Where secrets live in the schema; maskConfig masks exactly these. */
export const SECRET_KEY_PATHS = [
  'profiles[*].connection.bindPassword',
  'database.password',
  'kafka.sasl.password',
  'serve.admin.tokens[*].token',
  'serve.auth.clients[*].token',
] as const;

function describeReadFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'is not readable (permission denied)';
  if (code === 'EISDIR') return 'is a directory';
  return `cannot be read (${typeof code === 'string' ? code : toError(error).name})`;
}

/** A secret file usually ends with one newline that is not part of the secret (`echo pw > file`). */
function trimOneNewline(value: string): string {
  if (value.endsWith('\r\n')) return value.slice(0, -2);
  if (value.endsWith('\n')) return value.slice(0, -1);
  return value;
}

/**
 * Replaces every `{ env }` / `{ file }` secret by its value and makes file paths absolute.
 * All missing secrets are reported at once; no message ever contains a secret value.
 */
export async function resolveConfigSecrets(raw: RawConfig, options: ResolveOptions): Promise<DirstreamConfig> {
  const secretIssues: ConfigIssue[] = [];
  const fileIssues: ConfigIssue[] = [];

  const secret = async (value: Secret, path: readonly PropertyKey[]): Promise<string> => {
    if ('env' in value) {
      const found = options.env[value.env];
      if (found === undefined) secretIssues.push({ path, message: `environment variable ${value.env} is not set` });
      else if (found === '') secretIssues.push({ path, message: `environment variable ${value.env} is empty` });
      return found ?? '';
    }
    const file = resolvePath(options.baseDir, value.file);
    try {
      const content = trimOneNewline(await options.readFile(file));
      if (content === '') secretIssues.push({ path, message: `secret file ${file} is empty` });
      return content;
    } catch (error) {
      secretIssues.push({ path, message: `secret file ${file} ${describeReadFailure(error)}` });
      return '';
    }
  };

  const existingFile = async (file: string | undefined, path: readonly PropertyKey[]): Promise<string | undefined> => {
    if (file === undefined) return undefined;
    const absolute = resolvePath(options.baseDir, file);
    try {
      await options.readFile(absolute);
    } catch (error) {
      fileIssues.push({ path, message: `file ${absolute} ${describeReadFailure(error)}` });
    }
    return absolute;
  };

  const profiles: ProfileConfig[] = [];
  for (const [index, profile] of raw.profiles.entries()) {
    const base = ['profiles', index, 'connection'] as const;
    profiles.push({
      ...profile,
      connection: {
        ...profile.connection,
        bindPassword: await secret(profile.connection.bindPassword, [...base, 'bindPassword']),
        tls: { ...profile.connection.tls, caFile: await existingFile(profile.connection.tls.caFile, [...base, 'tls', 'caFile']) },
      },
    });
  }
  const tokens: DirstreamConfig['serve']['admin']['tokens'][number][] = [];
  for (const [index, entry] of raw.serve.admin.tokens.entries()) {
    tokens.push({ ...entry, token: await secret(entry.token, ['serve', 'admin', 'tokens', index, 'token']) });
  }
  const clients: DirstreamConfig['serve']['auth']['clients'][number][] = [];
  for (const [index, entry] of raw.serve.auth.clients.entries()) {
    clients.push({ ...entry, token: await secret(entry.token, ['serve', 'auth', 'clients', index, 'token']) });
  }
  const tlsFiles = async (tls: RawConfig['serve']['listen']['tls'], path: readonly PropertyKey[]) =>
    tls === undefined
      ? undefined
      : {
          certFile: (await existingFile(tls.certFile, [...path, 'certFile'])) as string,
          keyFile: (await existingFile(tls.keyFile, [...path, 'keyFile'])) as string,
        };
  const serve: DirstreamConfig['serve'] = {
    ...raw.serve,
    listen: { ...raw.serve.listen, tls: await tlsFiles(raw.serve.listen.tls, ['serve', 'listen', 'tls']) },
    admin: { ...raw.serve.admin, tls: await tlsFiles(raw.serve.admin.tls, ['serve', 'admin', 'tls']), tokens },
    auth: { ...raw.serve.auth, clients },
  };
  const { sasl, tls: kafkaTls } = raw.kafka;
  const kafkaTlsPath = ['kafka', 'tls'] as const;
  const resolved: DirstreamConfig = {
    ...raw,
    kafka: {
      ...raw.kafka,
      tls:
        kafkaTls === undefined
          ? undefined
          : {
              ...kafkaTls,
              caFile: await existingFile(kafkaTls.caFile, [...kafkaTlsPath, 'caFile']),
              certFile: await existingFile(kafkaTls.certFile, [...kafkaTlsPath, 'certFile']),
              keyFile: await existingFile(kafkaTls.keyFile, [...kafkaTlsPath, 'keyFile']),
            },
      sasl: sasl === undefined ? undefined : { ...sasl, password: await secret(sasl.password, ['kafka', 'sasl', 'password']) },
    },
    database: {
      ...raw.database,
      password: raw.database.password === undefined ? undefined : await secret(raw.database.password, ['database', 'password']),
    },
    serve,
    profiles,
  };

  if (secretIssues.length > 0) {
    const issues = locateIssues([...secretIssues, ...fileIssues], options.locate);
    throw createConfigError('CONFIG_SECRET_MISSING', options.sourceName, 'Missing secret', issues);
  }
  if (fileIssues.length > 0) {
    throw createConfigError('CONFIG_INVALID', options.sourceName, 'Missing file', locateIssues(fileIssues, options.locate));
  }
  return resolved;
}
