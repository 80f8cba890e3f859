import type { RawConfig, ProfileConfigRaw } from './schema.ts';

/**
 * The validated configuration with secrets resolved. Secrets are plain strings here; they are
 * never logged (see maskConfig) and never part of an error message.
 */
type Resolve<T> = T extends { env: string } | { file: string }
  ? string
  : T extends readonly (infer U)[]
    ? readonly Resolve<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Resolve<T[K]> }
      : T;

export type DirstreamConfig = Resolve<RawConfig>;
export type ProfileConfig = Resolve<ProfileConfigRaw>;
export type KafkaConfig = DirstreamConfig['kafka'];
export type DatabaseConfig = DirstreamConfig['database'];
export type PollerServiceConfig = DirstreamConfig['poller'];
export type ApplierConfig = DirstreamConfig['applier'];
export type ServeConfig = DirstreamConfig['serve'];
