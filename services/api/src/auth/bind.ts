import type { ProfileConfig } from '@dirstream/config';
import { createError, type DirstreamError, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { openLdapClient } from '@dirstream/poller';
import { type Client, ResultCodeError } from 'ldapts';
import { type BindRefusal, refusalOf } from './ad-codes.ts';

/**
 * User binds for one profile. Each directory server of the profile has its own small pool of
 * connections used for nothing but user binds (never the service account's connection: a
 * connection's authorization state is whoever bound last). At most `maxPerServer` binds are in
 * flight per server (LDAP allows one bind at a time per connection, so that is also the number
 * of connections kept); further binds wait for a free connection.
 *
 * Failover follows the profile's URL order. A server that fails at the transport level is
 * skipped for a short while; a refused bind is an answer, never a reason to try the next server
 * (every replica would refuse the same password, and each try counts towards lockout).
 */
export type BindOutcome<T> =
  | { readonly ok: true; readonly url: string; readonly value: T }
  | { readonly ok: false; readonly refusal: BindRefusal; readonly url: string };

export type BindPool = {
  /**
   * Binds as `dn` with `password`; on success runs `then` on the same connection (still bound as
   * the user) before it goes back to the pool. Throws AUTH_DIRECTORY_UNAVAILABLE when no server
   * of the profile answered.
   */
  bind<T>(dn: string, password: string, then?: (client: Client) => Promise<T>): Promise<BindOutcome<T | undefined>>;
  close(): Promise<void>;
};

export type BindPoolOptions = {
  readonly profile: ProfileConfig;
  readonly maxPerServer: number;
  readonly logger: Logger;
  /** Called on every transport failure (metrics). */
  readonly onServerError?: (url: string, err: DirstreamError) => void;
  readonly now?: () => number;
};

type Server = {
  readonly url: string;
  readonly idle: Client[];
  active: number;
  readonly waiting: (() => void)[];
  /** Skipped until then after a transport failure (unless every server is). */
  downUntil: number;
};

/** How long a server that failed at the transport level is passed over. */
const DOWN_MS = 5_000;
// LDAP result codes (RFC 4511 §4.1.9) that answer a bind for this DN and password.
const INVALID_CREDENTIALS = 49;
const NO_SUCH_OBJECT = 32;
const INVALID_DN_SYNTAX = 34;
const UNWILLING_TO_PERFORM = 53;
const INAPPROPRIATE_AUTHENTICATION = 48;

function isEncrypted(client: Client): boolean {
  const socket = (client as unknown as { socket?: { encrypted?: boolean } }).socket;
  return socket?.encrypted === true;
}

/** The refusal a failed bind stands for, or null when it is not an answer about these credentials. */
function refusalFor(cause: unknown): BindRefusal | null {
  if (!(cause instanceof ResultCodeError)) return null;
  const code = cause.code;
  if (code === INVALID_CREDENTIALS) return refusalOf(cause.message);
  if (code === NO_SUCH_OBJECT || code === INVALID_DN_SYNTAX || code === INAPPROPRIATE_AUTHENTICATION) return 'invalid-credentials';
  // ppolicy servers may answer a locked account with 53 (OpenLDAP answers 49 and logs why).
  if (code === UNWILLING_TO_PERFORM) return refusalOf(cause.message);
  return null;
}

export function createBindPool(options: BindPoolOptions): BindPool {
  const { profile, maxPerServer, logger } = options;
  const now = options.now ?? Date.now;
  const connection = profile.connection;
  const needsTls = connection.startTls;
  const servers: Server[] = connection.urls.map((url) => ({ url, idle: [], active: 0, waiting: [], downUntil: 0 }));
  let closed = false;

  async function acquire(server: Server): Promise<void> {
    while (server.active >= maxPerServer) await new Promise<void>((resolve) => server.waiting.push(resolve));
    server.active++;
  }

  function release(server: Server, client: Client | null): void {
    server.active--;
    if (client !== null) {
      if (closed) void client.unbind().catch(() => {});
      else server.idle.push(client);
    }
    server.waiting.shift()?.();
  }

  /** A pooled connection that is still up (and still encrypted when the profile uses StartTLS). */
  async function connectionFor(server: Server): Promise<Client> {
    for (let client = server.idle.pop(); client !== undefined; client = server.idle.pop()) {
      // ldapts reconnects a dropped connection by itself on the next operation, without StartTLS:
      // a password must never go out on such a connection, so a dropped one is thrown away.
      if (client.isConnected && (!needsTls || isEncrypted(client))) return client;
      void client.unbind().catch(() => {});
    }
    return openLdapClient(connection, server.url);
  }

  async function bindOn<T>(
    server: Server,
    dn: string,
    password: string,
    then?: (client: Client) => Promise<T>,
  ): Promise<BindOutcome<T | undefined>> {
    await acquire(server);
    let client: Client | null = null;
    try {
      client = await connectionFor(server);
      if (needsTls && client.isConnected && !isEncrypted(client)) {
        throw createError('LDAP_CONNECTION_FAILED', `connection to ${server.url} lost StartTLS`, { retriable: true });
      }
      try {
        await client.bind(dn, password);
      } catch (cause) {
        const refusal = refusalFor(cause);
        if (refusal !== null) return { ok: false, url: server.url, refusal };
        throw cause;
      }
      const value = then === undefined ? undefined : await then(client);
      return { ok: true, url: server.url, value };
    } catch (cause) {
      // Transport failure (connect, StartTLS, socket) or an unexpected result: this connection is not reused.
      const err = createError('LDAP_CONNECTION_FAILED', `user bind on ${server.url} failed: ${toError(cause).message}`, {
        retriable: true,
        cause: toError(cause),
        details: { url: server.url },
      });
      void client?.unbind().catch(() => {});
      client = null;
      throw err;
    } finally {
      release(server, client);
    }
  }

  return {
    async bind(dn, password, then) {
      const t = now();
      const up = servers.filter((s) => s.downUntil <= t);
      // When every server failed lately, try them all again rather than refuse outright.
      const order = up.length > 0 ? up : servers;
      let last: DirstreamError | undefined;
      for (const server of order) {
        try {
          const outcome = await bindOn(server, dn, password, then);
          server.downUntil = 0;
          return outcome;
        } catch (cause) {
          last = cause as DirstreamError;
          server.downUntil = now() + DOWN_MS;
          options.onServerError?.(server.url, last);
          logger.warn(
            { profileId: profile.id, url: server.url, err: last },
            'directory server did not answer a user bind, trying the next',
          );
        }
      }
      throw createError('AUTH_DIRECTORY_UNAVAILABLE', `no directory server of profile ${profile.name} answered`, {
        retriable: true,
        cause: last,
        details: { profileId: profile.id, urls: connection.urls },
      });
    },
    async close() {
      closed = true;
      await Promise.all(servers.flatMap((s) => s.idle.splice(0).map((c) => c.unbind().catch(() => {}))));
    },
  };
}
