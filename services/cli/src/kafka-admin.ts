import type { KafkaConfig } from '@dirstream/config';
import type { Logger } from '@dirstream/logging';
import type { Admin, KafkaConfig as KafkaClientConfig, LogEntry, SASLOptions } from 'kafkajs';

/** kafkajs client options from the validated configuration (secrets already resolved). */
export function kafkaClientConfig(config: KafkaConfig): KafkaClientConfig {
  const sasl: SASLOptions | undefined =
    config.sasl === undefined
      ? undefined
      : ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions);
  return {
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(sasl === undefined ? {} : { sasl }),
  };
}

/** A connected kafkajs admin client whose own logs go through our logger; the caller disconnects it. */
export async function connectAdmin(config: KafkaConfig, logger: Logger): Promise<Admin> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const logCreator =
    () =>
    ({ level, log }: LogEntry): void => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR) kafkaLogger.error(fields, message);
      else kafkaLogger.warn(fields, message);
    };
  const admin = new Kafka({ ...kafkaClientConfig(config), logLevel: logLevel.WARN, logCreator }).admin();
  await admin.connect();
  return admin;
}
