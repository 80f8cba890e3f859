import type { KafkaConfig } from '@dirstream/config';
import { KAFKA_RETRY } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through our pino logger (warnings and errors only). */
export function createKafkaClient(config: KafkaConfig, logger: Logger, clientId?: string): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  let sasl: SASLOptions | undefined;
  if (config.sasl !== undefined) {
    sasl = {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      password: config.sasl.password,
    } as SASLOptions;
  }
  return new Kafka({
    clientId: clientId ?? config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...fields } = log;
        kafkaLogger[LEVELS[level] ?? 'info'](fields, message);
      },
    retry: KAFKA_RETRY,
  });
}
