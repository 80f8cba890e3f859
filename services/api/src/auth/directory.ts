import { type ProfileConfig, resolveUserMapping, type UserMapping, userMappingAttributes } from '@dirstream/config';
import { createError, isDirstreamError, retry } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { connectDirectory, type Dialect, type DirectoryConnection, dialectFor, escapeFilterValue, type LdapEntry } from '@dirstream/poller';

/**
 * The service account's side of sign-in, per profile: re-resolving a user's DN by its external
 * ID (a user moved since the last sync), finding a login the database does not know yet, and the
 * readiness probe. One lazily opened connection per profile (failover in URL order), reopened
 * once when it fails; it never carries a user's bind.
 */
export type ProfileDirectory = {
  readonly profile: ProfileConfig;
  readonly dialect: Dialect;
  readonly mapping: UserMapping;
  /** The entry of the user with this external ID inside the user base and filter, or null. */
  findById(externalId: string): Promise<LdapEntry | null>;
  /**
   * Entries whose login attribute equals `name` (or whose userPrincipalName equals `principal`), inside the user
   * base and filter. The value is escaped (RFC 4515): never raw input in a filter.
   */
  findByLogin(name: string, principal: string | null, limit: number): Promise<LdapEntry[]>;
  /** Resolves when a server of the profile answers a root DSE read. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export function createProfileDirectory(profile: ProfileConfig, logger: Logger): ProfileDirectory {
  const dialect = dialectFor(profile.directory);
  const mapping = resolveUserMapping(profile);
  const attributes = [...new Set([...userMappingAttributes(mapping), ...dialect.extraUserAttributes])];
  let current: Promise<DirectoryConnection> | null = null;

  const connection = () => {
    current ??= connectDirectory(profile.connection, logger.child({ profileId: profile.id, component: 'auth-service-account' }));
    const pending = current;
    pending.catch(() => {
      if (current === pending) current = null;
    });
    return pending;
  };

  /** Runs `fn` on the service connection; a connection failure reopens it and tries once more, at once. */
  function withConnection<T>(fn: (conn: DirectoryConnection) => Promise<T>): Promise<T> {
    const transport = (err: unknown) => isDirstreamError(err, 'LDAP_CONNECTION_FAILED');
    return retry(
      async () => {
        const pending = connection();
        const conn = await pending;
        const drop = () => {
          if (current === pending) current = null;
          void conn.close();
        };
        if (!conn.bound) {
          // Dropped while idle (server timeout): never let the client reconnect it anonymously.
          drop();
          throw createError('LDAP_CONNECTION_FAILED', `service account connection to ${conn.url} lost`, { retriable: true });
        }
        try {
          return await fn(conn);
        } catch (cause) {
          if (transport(cause)) drop();
          throw cause;
        }
      },
      { attempts: 2, baseMs: 0, shouldRetry: transport },
    );
  }

  const search = (filter: string, limit: number) =>
    withConnection(async (conn) => {
      const entries = await conn.searchAll({
        baseDn: profile.users.baseDn,
        scope: profile.users.scope,
        filter,
        attributes,
        binary: dialect.binaryAttributes,
        ignoreReferrals: dialect.ignoreReferrals === true,
      });
      return entries.slice(0, limit);
    });

  return {
    profile,
    dialect,
    mapping,
    async findById(externalId) {
      const [entry] = await search(`(&${mapping.filter}${dialect.idFilter(mapping.externalId, externalId)})`, 1);
      return entry ?? null;
    },
    async findByLogin(name, principal, limit) {
      const clauses = [`(${mapping.loginName}=${escapeFilterValue(name)})`];
      if (mapping.userPrincipalName !== undefined && principal !== null)
        clauses.push(`(${mapping.userPrincipalName}=${escapeFilterValue(principal)})`);
      const match = clauses.length === 1 ? clauses[0] : `(|${clauses.join('')})`;
      return search(`(&${mapping.filter}${match})`, limit);
    },
    async ping() {
      await withConnection((conn) => conn.searchAll({ baseDn: '', scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }));
    },
    async close() {
      const pending = current;
      current = null;
      if (pending) await (await pending.catch(() => null))?.close();
    },
  };
}
