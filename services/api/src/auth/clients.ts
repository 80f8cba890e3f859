import { createHash, timingSafeEqual } from 'node:crypto';
import type { DirstreamConfig } from '@dirstream/config';

/**
 * Which application is calling sign-in: the bearer token of `Authorization`, compared with each
 * configured client's token in constant time (digests of equal length, every client compared).
 * With no clients configured, sign-in is open to whoever reaches the listener.
 */
export type ClientCheck = {
  readonly open: boolean;
  /** The calling client's name, or null when the header names none of them. */
  identify(authorization: string | undefined): string | null;
};

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function createClientCheck(clients: DirstreamConfig['serve']['auth']['clients']): ClientCheck {
  const known = clients.map((c) => ({ name: c.name, digest: digest(c.token) }));
  return {
    open: known.length === 0,
    identify(authorization) {
      const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
      const presented = digest(match?.[1] ?? '');
      let found: string | null = null;
      for (const client of known) if (timingSafeEqual(client.digest, presented) && match !== null) found ??= client.name;
      return found;
    },
  };
}
