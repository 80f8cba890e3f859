import { pino, destination, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they appear in a logged object. */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  'bindPassword',
  'secret',
  'token',
  'authorization',
  '*.password',
  '*.bindPassword',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.bindPassword',
  '*.*.secret',
  'config.profiles[*].connection.bindPassword',
  'unicodePwd',
  '*.unicodePwd',
  'userPassword',
  '*.userPassword',
];

export type LoggerOptions = {
  readonly name: string;
  readonly level?: string;
  readonly destination?: DestinationStream;
};

/** The one root logger of a process: NDJSON to stdout, errors under `err`, secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
    },
    options.destination ?? destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything (tests, dry runs). */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
