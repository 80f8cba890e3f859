import type { GroupMapping as ConfigGroupMapping } from '@dirstream/config';
import type { DirectoryType, GroupState, UserState } from '@dirstream/events';
import type { DirectoryConnection } from './client.ts';
import type { LdapEntry } from './entry.ts';

/**
 * What differs between directory servers, kept behind one small seam: identity normalisation,
 * the disabled rule, the delta mechanism and how members are read. The run logic
 * (services/poller/src/run) only talks to a Dialect; `active-directory` adds itself in
 * src/dialects/active-directory.ts and registers in src/dialects/index.ts.
 */

export type DeltaKind = 'none' | 'timestamp' | 'accesslog' | 'syncrepl' | 'usn' | 'dirsync';

/** The group mapping of config plus what the poller reads besides (description, modified). */
export type GroupMapping = ConfigGroupMapping & {
  readonly description: string;
  readonly modified: string;
};

/** The members one group entry states: DNs (member/uniqueMember) and login names (memberUid). */
export type GroupMembers = { readonly dns: readonly string[]; readonly loginNames: readonly string[] };

/** What changed since a cursor, as re-read instructions plus deletions. */
export type DeltaChanges = {
  /** Filter clauses ANDed with the user/group filter; every matching entry is re-read. */
  readonly clauses: readonly string[];
  /**
   * The external IDs the clauses ask for, when the mechanism knows them (accesslog): an ID
   * known to the state but not found on re-read has left the scope (moved out, filter).
   */
  readonly requestedIds: readonly string[] | null;
  /** External IDs deleted from the directory. */
  readonly deletedIds: readonly string[];
  readonly nextCursor: string;
  /** Change records read (for logs and the run summary). */
  readonly records: number;
};

export type DeltaSource = {
  readonly kind: DeltaKind;
  /** The cursor to store after a full pass that started at `startedAtMs` (taken before reading). */
  startCursor(connection: DirectoryConnection, startedAtMs: number, overlapSeconds: number): Promise<string>;
  changesSince(connection: DirectoryConnection, cursor: string, overlapSeconds: number, limit: number): Promise<DeltaChanges>;
};

export type Dialect = {
  readonly name: DirectoryType;
  readonly defaultUserFilter: string;
  readonly defaultGroupFilter: string;
  /** Attributes that must be read as bytes (objectGUID, objectSid …). */
  readonly binaryAttributes: readonly string[];
  /** Attributes the dialect reads besides the mapping (objectSid, userAccountControl …). */
  readonly extraUserAttributes: readonly string[];
  readonly extraGroupAttributes: readonly string[];
  /** Skip continuation references instead of failing the read (AD: CN=Configuration from the domain root). */
  readonly ignoreReferrals?: boolean;
  /** The server's page size cap (AD: MaxPageSize 1000); the run never asks for more. */
  readonly maxPageSize?: number;
  /** Directory-specific state fields (AD: sid, sidHistory) set on a mapped entity. */
  enrichUser?(entry: LdapEntry, state: UserState): UserState;
  enrichGroup?(entry: LdapEntry, state: GroupState): GroupState;
  readonly defaultDelta: DeltaKind;
  readonly supportedDeltas: readonly DeltaKind[];
  /** The canonical external-ID string of an identifier attribute value. */
  normaliseId(value: string | Buffer): string;
  /** A filter clause matching the entry whose identifier attribute holds `externalId`. */
  idFilter(attribute: string, externalId: string): string;
  /**
   * The filter of disabled users: the profile's `disabledFilter` combined with the directory's
   * own flag (AD: userAccountControl bit 0x2), or null when no rule applies.
   */
  disabledFilter(profileFilter: string | undefined): string | null;
  /** Reads the members of one group entry (AD range retrieval needs the connection). */
  readMembers(entry: LdapEntry, mapping: GroupMapping, connection: DirectoryConnection): Promise<GroupMembers>;
  /** `modifiedAttribute`: the mapping's modification marker (`users.attributes.modified`), which timestamp deltas compare. */
  createDelta(
    kind: DeltaKind,
    context: { usersBaseDn: string; groupsBaseDn: string | null; idAttribute: string; modifiedAttribute?: string },
  ): DeltaSource | null;
};
