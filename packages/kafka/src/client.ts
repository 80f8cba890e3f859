import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { KafkaConfig } from '@dirstream/config';
import type { Logger } from '@dirstream/logging';
import { type Admin, Kafka, type KafkaConfig as KafkaClientConfig, logLevel, type SASLOptions } from 'kafkajs';
import { kafkaLogCreator } from './logs.ts';
import { KAFKA_RETRY } from './produce.ts';

/** The Kafka settings a client needs; the rest of `kafka:` (topics, sizes) is not the client's. */
export type KafkaClientSettings = Pick<KafkaConfig, 'brokers' | 'clientId' | 'ssl' | 'tls' | 'sasl'>;

/** `true`, TLS options, or `false` (plain): `kafka.tls` turns TLS on as `kafka.ssl: true` does. */
export function tlsOptions(config: Pick<KafkaConfig, 'ssl' | 'tls'>): boolean | ConnectionOptions {
  const { tls } = config;
  if (tls === undefined) return config.ssl;
  // Paths are absolute and checked readable by the config loader (packages/config/src/secrets.ts).
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.caFile === undefined ? {} : { ca: [readFileSync(tls.caFile, 'utf8')] }),
    ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, 'utf8') }),
    ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, 'utf8') }),
    ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
  };
}

/** kafkajs client options from the validated configuration (secrets already resolved), without logging. */
export function kafkaClientConfig(config: KafkaClientSettings, clientId = config.clientId): KafkaClientConfig {
  const sasl =
    config.sasl === undefined
      ? undefined
      : ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions);
  return {
    clientId,
    brokers: [...config.brokers],
    ssl: tlsOptions(config),
    ...(sasl === undefined ? {} : { sasl }),
    retry: KAFKA_RETRY,
  };
}

export type CreateKafkaOptions = {
  /** Default: `kafka.clientId`. The console and the auth-events producer add a suffix. */
  readonly clientId?: string;
};

/**
 * The one way dirstream gets a Kafka client: brokers, TLS, SASL and client ID from the config,
 * kafkajs' logs through `logger` (warn and up), retries at least every 3 s (KAFKA_RETRY).
 */
export function createKafkaClient(config: KafkaClientSettings, logger: Logger, options: CreateKafkaOptions = {}): Kafka {
  return new Kafka({ ...kafkaClientConfig(config, options.clientId), logLevel: logLevel.WARN, logCreator: kafkaLogCreator(logger) });
}

/** A connected admin client of a new Kafka client; the caller disconnects it. */
export async function connectAdmin(config: KafkaClientSettings, logger: Logger, options: CreateKafkaOptions = {}): Promise<Admin> {
  const admin = createKafkaClient(config, logger, options).admin();
  await admin.connect();
  return admin;
}
