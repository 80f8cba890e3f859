import { ACCESS_CHANGED_CHANNEL, ACCESS_CHANGED_TRIGGERS, type Database } from '@dirstream/applier';
import type { DirstreamConfig, ProfileConfig } from '@dirstream/config';
import { listen } from '@dirstream/db';
import { toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { type Candidate, findCandidates } from './lookup.ts';

/**
 * Each typed login's candidates (user rows with effective groups and roles) in memory, so that a
 * sign-in of a known login costs no database round trip (docs/authentication.md, "Lookup cache").
 *
 * The database says when to forget: the application tables a sign-in reads notify
 * ACCESS_CHANGED_CHANNEL from a statement-level trigger (applier migration 20261126170000), and
 * every notification clears the whole cache. It is used only while the LISTEN is in place and the
 * triggers exist: while the connection is down (a notification may be missed) every lookup reads
 * the database, and each change of state clears it. An entry read while a notification arrived is
 * not kept (it may predate the change). Bounded: the least recently used login goes first.
 */
export type AccessLookup = {
  readonly candidates: Candidate[];
  /**
   * The cache generation when the candidates came from memory, null when they were read from the
   * database now. A decision made from memory is re-made from the database when the generation
   * moved meanwhile (`changedSince`).
   */
  readonly generation: number | null;
};

export type AccessCache = {
  lookup(login: string, profiles: readonly ProfileConfig[]): Promise<AccessLookup>;
  /** Reads the database, never the cache. */
  read(login: string, profiles: readonly ProfileConfig[]): Promise<Candidate[]>;
  /** True when something a sign-in reads may have changed since `generation`. */
  changedSince(generation: number): boolean;
  /** Whether lookups are answered from memory now (the LISTEN is up and the triggers exist). */
  readonly live: boolean;
  /** Lookups answered so far from memory and from the database (metrics, the bench). */
  counts(): { readonly cache: number; readonly database: number };
  close(): Promise<void>;
};

export type AccessCacheOptions = {
  readonly db: Database;
  readonly database: DirstreamConfig['database'];
  readonly enabled: boolean;
  readonly maxEntries: number;
  readonly logger: Logger;
  /** Called for every lookup with where it was answered from (metrics). */
  readonly onLookup?: (source: 'cache' | 'database') => void;
};

export function createAccessCache(options: AccessCacheOptions): AccessCache {
  const { db, logger, maxEntries } = options;
  const entries = new Map<string, Candidate[]>();
  let generation = 0;
  let live = false;
  let closed = false;
  let hits = 0;
  let reads = 0;

  const read = (login: string, profiles: readonly ProfileConfig[]) => {
    reads++;
    options.onLookup?.('database');
    return findCandidates(db, login, profiles);
  };
  const forget = () => {
    generation++;
    entries.clear();
  };

  /** Live only when every trigger is there: a database not migrated yet would never say "changed". */
  async function goLive(): Promise<void> {
    const at = generation;
    try {
      const rows = await db.query<{ n: number }>('select count(*)::int as n from pg_trigger where tgname = any($1::text[])', [
        ACCESS_CHANGED_TRIGGERS,
      ]);
      if ((rows[0]?.n ?? 0) < ACCESS_CHANGED_TRIGGERS.length) {
        logger.warn(
          { missing: ACCESS_CHANGED_TRIGGERS },
          'sign-in lookup cache off: the database lacks its change triggers (run dirstream migrate)',
        );
        return;
      }
      // Still the same LISTEN session: nothing went down while the check ran.
      if (at === generation && listener?.listening === true && !closed) live = true;
    } catch (cause) {
      logger.warn({ err: toError(cause) }, 'sign-in lookup cache off: the trigger check failed');
    }
  }

  const listener = options.enabled
    ? listen(options.database, ACCESS_CHANGED_CHANNEL, {
        onNotification: forget,
        onListening: (listening) => {
          live = false;
          forget();
          if (listening) void goLive();
        },
        onError: (err, phase) =>
          logger.warn({ err, phase }, 'sign-in lookup cache: LISTEN connection lost; reading the database meanwhile'),
      })
    : null;

  const keyOf = (login: string, profiles: readonly ProfileConfig[]) => `${profiles.map((p) => p.id).join(',')}\n${login}`;

  return {
    get live() {
      return live;
    },
    counts: () => ({ cache: hits, database: reads }),
    read,
    async lookup(login, profiles) {
      if (!live) return { candidates: await read(login, profiles), generation: null };
      const key = keyOf(login, profiles);
      const hit = entries.get(key);
      if (hit !== undefined) {
        // Most recently used last: Map keeps insertion order.
        entries.delete(key);
        entries.set(key, hit);
        hits++;
        options.onLookup?.('cache');
        return { candidates: hit, generation };
      }
      const at = generation;
      const candidates = await read(login, profiles);
      if (live && at === generation) {
        entries.set(key, candidates);
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      }
      return { candidates, generation: null };
    },
    changedSince(at) {
      return at !== generation;
    },
    async close() {
      closed = true;
      live = false;
      entries.clear();
      await listener?.close();
    },
  };
}
