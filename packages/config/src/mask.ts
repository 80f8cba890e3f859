import type { DirstreamConfig } from './types.ts';

export const MASK = '***';

/** `scheme://user:password@host` → `scheme://user:***@host`; anything else unchanged. */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/, `$1${MASK}@`);
}

function maskUrls<T>(value: T): T {
  if (typeof value === 'string') return maskUrlPassword(value) as T;
  if (Array.isArray(value)) return value.map(maskUrls) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, maskUrls(item)])) as T;
  }
  return value;
}

/**
 * A copy safe to print or log: every value that came from a secret (bindPassword,
 * database.password, kafka.sasl.password) is `***`, and so is any password embedded in a URL.
 */
export function maskConfig(config: DirstreamConfig): DirstreamConfig {
  const masked = maskUrls(config);
  const { sasl } = masked.kafka;
  return {
    ...masked,
    kafka: { ...masked.kafka, sasl: sasl === undefined ? undefined : { ...sasl, password: MASK } },
    database: { ...masked.database, password: masked.database.password === undefined ? undefined : MASK },
    serve: {
      ...masked.serve,
      admin: { ...masked.serve.admin, tokens: masked.serve.admin.tokens.map((t) => ({ ...t, token: MASK })) },
      auth: { ...masked.serve.auth, clients: masked.serve.auth.clients.map((c) => ({ ...c, token: MASK })) },
    },
    profiles: masked.profiles.map((profile) => ({
      ...profile,
      connection: { ...profile.connection, bindPassword: MASK },
    })),
  };
}
