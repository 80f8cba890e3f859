import type { Logger } from '@dirstream/logging';
import { type LogEntry, type logCreator, logLevel } from 'kafkajs';

/**
 * kafkajs' own lines through the process's pino logger. kafkajs logs at ERROR every request it is
 * about to retry (a metadata refresh during a leader election, a broker restarting); when the
 * retries run out the caller gets the error and logs it at error with its code. So kafkajs' ERROR
 * and WARN both become warn: seen by an operator, not counted as failures.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR || level === logLevel.WARN) kafkaLogger.warn({ kafkajs: fields }, message);
      else if (level === logLevel.INFO) kafkaLogger.info({ kafkajs: fields }, message);
      else kafkaLogger.debug({ kafkajs: fields }, message);
    };
}
