import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ProfileConfig } from '@dirstream/config';
import { createError, DirstreamError, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { Client, type Control, ResultCodeError } from 'ldapts';
import { parseLdapFilter } from '../ad/binary-filter.ts';
import { type LdapEntry, toLdapEntry } from './entry.ts';
import { type SyncRefreshResult, syncRefresh } from './syncrepl.ts';

export type SearchRequest = {
  readonly baseDn: string;
  readonly scope: 'base' | 'one' | 'sub';
  readonly filter: string;
  readonly attributes: readonly string[];
  /** Attributes returned as Buffers. */
  readonly binary?: readonly string[];
  readonly pageSize?: number;
  /** Request controls besides paging (AD: Show Deleted, DirSync). */
  readonly controls?: readonly Control[];
  /**
   * Continuation references are skipped instead of failing the read. AD answers a subtree search
   * from the domain root with references to the other naming contexts (CN=Configuration): they
   * are not part of the domain and not a sign of an incomplete read.
   */
  readonly ignoreReferrals?: boolean;
};

/** A bound connection to one directory server of a profile. */
export type DirectoryConnection = {
  /** The URL that answered (no credentials in it). */
  readonly url: string;
  /**
   * False once the connection dropped: ldapts would reconnect by itself on the next operation,
   * unauthenticated (and without StartTLS), so a long-lived holder checks this and reconnects.
   */
  readonly bound: boolean;
  /**
   * A paged search, one page at a time: memory holds one page, never the whole result. Throws a
   * DirstreamError when the read is incomplete (error, limit, referral, lost connection).
   */
  searchPages(request: SearchRequest, signal?: AbortSignal): AsyncGenerator<LdapEntry[]>;
  /** A small, unpaged search (base-scope lookups, accesslog chunks). */
  searchAll(request: SearchRequest): Promise<LdapEntry[]>;
  /** One RFC 4533 refreshOnly synchronisation (IDs only): directory/syncrepl.ts. */
  syncRefresh(
    request: Pick<SearchRequest, 'baseDn' | 'scope' | 'filter'> & { readonly sizeLimit?: number },
    cookie: Buffer | null,
  ): Promise<SyncRefreshResult>;
  close(): Promise<void>;
};

// LDAP result codes (RFC 4511 §4.1.9) that mean "the read is incomplete or impossible".
const NO_SUCH_OBJECT = 32;
const INVALID_CREDENTIALS = 49;
const SIZE_LIMIT = 4;
const TIME_LIMIT = 3;
const ADMIN_LIMIT = 11;

/** Turns an ldapts / socket failure into a coded, password-free DirstreamError. */
export function ldapError(cause: unknown, what: string, context: { url: string; baseDn?: string }): DirstreamError {
  if (cause instanceof DirstreamError) return cause;
  const err = toError(cause);
  const details = { url: context.url, baseDn: context.baseDn };
  if (err instanceof ResultCodeError) {
    const code =
      err.code === NO_SUCH_OBJECT
        ? 'LDAP_NO_SUCH_OBJECT'
        : err.code === SIZE_LIMIT || err.code === ADMIN_LIMIT
          ? 'LDAP_SIZE_LIMIT_EXCEEDED'
          : err.code === TIME_LIMIT
            ? 'LDAP_TIME_LIMIT_EXCEEDED'
            : err.code === INVALID_CREDENTIALS
              ? 'LDAP_BIND_FAILED'
              : 'LDAP_OPERATION_FAILED';
    return createError(code, `${what} failed on ${context.url}: ${err.message} (LDAP result ${err.code})`, {
      retriable: code !== 'LDAP_BIND_FAILED' && code !== 'LDAP_NO_SUCH_OBJECT',
      cause: err,
      details: { ...details, resultCode: err.code },
    });
  }
  return createError('LDAP_CONNECTION_FAILED', `${what} failed on ${context.url}: ${err.message}`, {
    retriable: true,
    cause: err,
    details,
  });
}

function tlsOptions(connection: ProfileConfig['connection'], url: string): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: connection.tls.rejectUnauthorized };
  if (connection.tls.caFile) options.ca = readFileSync(connection.tls.caFile);
  const host = new URL(url).hostname;
  options.servername = connection.tls.serverName ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
  return options;
}

/**
 * An unbound client for one URL of a profile, with its TLS and timeouts (StartTLS done when the
 * profile asks for it). The poller binds it as the service account; `dirstream serve` binds its
 * own clients as the users signing in.
 */
export async function openLdapClient(connection: ProfileConfig['connection'], url: string): Promise<Client> {
  const tls = tlsOptions(connection, url);
  const client = new Client({
    url,
    timeout: connection.timeoutMs,
    connectTimeout: connection.connectTimeoutMs,
    tlsOptions: url.startsWith('ldaps:') ? tls : undefined,
  });
  try {
    if (connection.startTls) await client.startTLS(tls);
  } catch (cause) {
    await client.unbind().catch(() => {});
    throw cause;
  }
  return client;
}

/**
 * Connects and binds to the first URL of the profile that answers (failover in order). A wrong
 * password stops the failover at once: every server would refuse it, and retrying locks accounts.
 */
export async function connectDirectory(connection: ProfileConfig['connection'], logger: Logger): Promise<DirectoryConnection> {
  const failures: Error[] = [];
  for (const url of connection.urls) {
    let client: Client | undefined;
    try {
      client = await openLdapClient(connection, url);
      await client.bind(connection.bindDn, connection.bindPassword);
      logger.debug({ url }, 'directory connected');
      return createConnection(client, url, connection.pageSize);
    } catch (cause) {
      await client?.unbind().catch(() => {});
      const err = ldapError(cause, 'bind', { url });
      if (err.code === 'LDAP_BIND_FAILED') throw err;
      logger.warn({ url, err }, 'directory server unreachable, trying the next');
      failures.push(err);
    }
  }
  throw createError('LDAP_CONNECTION_FAILED', `no directory server answered (${connection.urls.join(', ')})`, {
    retriable: true,
    cause: failures[failures.length - 1],
    details: { urls: connection.urls },
  });
}

function createConnection(client: Client, url: string, defaultPageSize: number): DirectoryConnection {
  const options = (request: SearchRequest) => ({
    scope: request.scope,
    // `\xx` escapes as raw bytes (binary objectGUID / objectSid assertions); see parseLdapFilter.
    filter: parseLdapFilter(request.filter),
    attributes: [...request.attributes],
    explicitBufferAttributes: [...(request.binary ?? [])],
  });
  const checkReferrals = (references: readonly string[], request: SearchRequest) => {
    // A referral we do not follow means entries we did not read: the read is incomplete.
    if (references.length > 0 && request.ignoreReferrals !== true) {
      throw createError('LDAP_REFERRAL_NOT_FOLLOWED', `search below ${request.baseDn} returned referrals on ${url}`, {
        retriable: false,
        details: { url, baseDn: request.baseDn, referrals: references.slice(0, 5) },
      });
    }
  };
  return {
    url,
    get bound() {
      return client.isBound;
    },
    async *searchPages(request, signal) {
      const pages = client.searchPaginated(
        request.baseDn,
        { ...options(request), paged: { pageSize: request.pageSize ?? defaultPageSize } },
        request.controls ? [...request.controls] : undefined,
      );
      while (true) {
        if (signal?.aborted) {
          await pages.return(undefined).catch(() => undefined);
          throw createError('RUN_ABORTED', 'search abandoned: shutting down', { retriable: true });
        }
        let next: IteratorResult<{ searchEntries: import('ldapts').Entry[]; searchReferences: string[] }>;
        try {
          next = await pages.next();
        } catch (cause) {
          throw ldapError(cause, 'search', { url, baseDn: request.baseDn });
        }
        if (next.done) return;
        checkReferrals(next.value.searchReferences, request);
        yield next.value.searchEntries.map(toLdapEntry);
      }
    },
    async searchAll(request) {
      try {
        const result = await client.search(request.baseDn, options(request), request.controls ? [...request.controls] : undefined);
        checkReferrals(result.searchReferences, request);
        return result.searchEntries.map(toLdapEntry);
      } catch (cause) {
        throw ldapError(cause, 'search', { url, baseDn: request.baseDn });
      }
    },
    async syncRefresh(request, cookie) {
      try {
        return await syncRefresh(client, request, cookie);
      } catch (cause) {
        throw ldapError(cause, 'sync search', { url, baseDn: request.baseDn });
      }
    },
    async close() {
      await client.unbind().catch(() => {});
    },
  };
}
