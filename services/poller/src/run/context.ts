import type { ProfileConfig, UserMapping } from '@dirstream/config';
import type { EventSource, RunCounts, RunError, SyncMode } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import type { OrderedDelivery } from '../delivery/ordered-delivery.ts';
import type { DirectoryConnection } from '../directory/client.ts';
import type { Mapped } from '../directory/mapping.ts';
import type { Dialect, GroupMapping } from '../directory/dialect.ts';
import type { ResolvedMember, RunScratch, StateStore } from '../state/store.ts';
import type { createProgress } from './progress.ts';

export type Counts = { -readonly [K in keyof RunCounts]: number };

/**
 * What member values resolve to beyond the state. A disabling change waits for the safety decision
 * before it reaches the state, but a group read in the same pass may already list the user under
 * its new DN or login: those held-back identities answer member resolution too (only renamed or
 * moved ones, so this stays small). `changed`: this run changed what a member DN or login resolves
 * to, so no member list is skipped.
 */
export type MemberResolution = {
  changed: boolean;
  readonly heldByDn: Map<string, ResolvedMember>;
  readonly heldByLogin: Map<string, ResolvedMember>;
};

/** What the reading phases found, for the removals. */
export type ReadTally = {
  /** IDs a delta read (a requested ID not among them left the filter). */
  readonly found: Set<string>;
  /** Entries without an external ID: absence cannot be decided. */
  idless: number;
  usersRead: number;
  /** The users base DN does not exist (reads as "no users"). */
  usersBaseMissing: boolean;
};

/** The state one run's phases share: fixed by the time the first phase starts, except the tallies. */
export type RunContext = {
  readonly runId: string;
  readonly profile: ProfileConfig;
  readonly dialect: Dialect;
  readonly conn: DirectoryConnection;
  readonly store: StateStore;
  readonly scratch: RunScratch;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly mode: SyncMode;
  readonly userMapping: UserMapping;
  readonly groupMapping: GroupMapping | null;
  /** The profile's page size, capped by the server's own limit (AD: MaxPageSize 1000). */
  readonly pageSize: number;
  /** Filter clauses of this pass: `[null]` for a full pass, the delta's clauses otherwise. */
  readonly clauses: readonly (string | null)[];
  readonly delivery: OrderedDelivery;
  /** When each changed entry changed in the directory, until its event is produced. */
  readonly changedAt: Map<string, number | null>;
  readonly resolution: MemberResolution;
  readonly tally: ReadTally;
  readonly counts: Counts;
  readonly recordError: (error: RunError) => void;
  readonly progress: ReturnType<typeof createProgress>;
  readonly source: () => EventSource;
  /** Ends the current phase's timing under `name`. */
  readonly phaseDone: (name: string) => void;
};

/**
 * The external IDs of a mapped page. An entry that failed to map is an entry error (and counted
 * when it has no ID at all); a delta notes every ID it found, failed or not.
 */
export function idsOfMapped(ctx: RunContext, mapped: readonly Mapped<unknown>[]): string[] {
  const ids: string[] = [];
  for (const m of mapped) {
    if (m.externalId !== null) ids.push(m.externalId);
    if (!m.ok) {
      if (m.externalId === null) ctx.tally.idless++;
      ctx.recordError(m.error);
    }
  }
  if (ctx.mode === 'delta') for (const id of ids) ctx.tally.found.add(id);
  return ids;
}

export function zeroCounts(): Counts {
  return {
    created: 0,
    updated: 0,
    renamed: 0,
    moved: 0,
    disabled: 0,
    enabled: 0,
    groupsCreated: 0,
    groupsUpdated: 0,
    groupsRemoved: 0,
    membershipsAdded: 0,
    membershipsRemoved: 0,
    errors: 0,
    entriesRead: 0,
  };
}

/** The profile's page size, capped by the server's own limit (AD: MaxPageSize 1000). */
export function pageSizeFor(profile: ProfileConfig, dialect: Dialect): number {
  return dialect.maxPageSize === undefined ? profile.connection.pageSize : Math.min(profile.connection.pageSize, dialect.maxPageSize);
}

/** An LDAP AND of the given filters (parenthesised where bare), the empty ones left out. */
export function and(...filters: (string | null | undefined)[]): string {
  const parts = filters.filter((f): f is string => typeof f === 'string' && f.length > 0).map((f) => (f.startsWith('(') ? f : `(${f})`));
  if (parts.length === 1) return parts[0] as string;
  return `(&${parts.join('')})`;
}
