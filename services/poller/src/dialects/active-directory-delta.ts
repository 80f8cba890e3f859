import { createError } from '@dirstream/errors';
import { AD_MAX_PAGE_SIZE, domainDnOf } from '../ad/domain.ts';
import { DirSyncControl, ShowDeletedControl } from '../ad/controls.ts';
import { objectGuidToString } from '../ad/guid.ts';
import { isDeletedFlag } from '../ad/tombstone.ts';
import { type DcIdentity, decideUsnPass, decodeUsnCursor, encodeUsnCursor, usnChangedFilter } from '../ad/usn-cursor.ts';
import type { DirectoryConnection } from '../directory/client.ts';
import type { DeltaSource } from '../directory/dialect.ts';
import { chunkedIdClauses } from '../directory/delta-timestamp.ts';
import { firstString, type LdapEntry, values } from '../directory/entry.ts';

type DeltaContext = {
  readonly usersBaseDn: string;
  readonly groupsBaseDn: string | null;
  readonly idAttribute: string;
  readonly idFilter: (id: string) => string;
  readonly normaliseId: (value: string | Buffer) => string;
};

/** Users and groups: the object classes whose changes the poller cares about. */
const OBJECTS = '(|(objectClass=user)(objectClass=group))';

/** The DC that answers: rootDSE dsServiceName + highestCommittedUSN, and its NTDS Settings' invocationId. */
export async function readDcIdentity(connection: DirectoryConnection): Promise<DcIdentity & { defaultNamingContext: string | null }> {
  const [root] = await connection.searchAll({
    baseDn: '',
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['dsServiceName', 'highestCommittedUSN', 'defaultNamingContext'],
  });
  const dsServiceName = root ? firstString(root, 'dsServiceName') : null;
  const highestCommittedUsn = root ? firstString(root, 'highestCommittedUSN') : null;
  if (!root || dsServiceName === null || highestCommittedUsn === null) {
    throw createError('AD_ROOTDSE_INCOMPLETE', `rootDSE of ${connection.url} has no dsServiceName / highestCommittedUSN: not an AD DC?`, {
      retriable: false,
      details: { url: connection.url },
    });
  }
  const [ntds] = await connection.searchAll({
    baseDn: dsServiceName,
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['invocationId'],
    binary: ['invocationId', 'invocationID'],
  });
  const raw = ntds ? values(ntds, 'invocationId')[0] : undefined;
  if (raw === undefined || typeof raw === 'string' || raw.length !== 16) {
    throw createError('AD_INVOCATION_ID_UNREADABLE', `cannot read invocationId of ${dsServiceName} on ${connection.url}`, {
      retriable: false,
      details: { url: connection.url, dsServiceName },
    });
  }
  return {
    dsServiceName,
    invocationId: objectGuidToString(raw),
    highestCommittedUsn,
    defaultNamingContext: firstString(root, 'defaultNamingContext'),
  };
}

function idOf(entry: LdapEntry, context: DeltaContext): string | null {
  const raw = values(entry, context.idAttribute)[0];
  return raw === undefined || raw.length === 0 ? null : context.normaliseId(raw);
}

function tooLarge(limit: number, cursor: string): never {
  throw createError('DELTA_TOO_LARGE', `more than ${limit} changed entries since ${cursor}: a full pass is cheaper`, { retriable: true });
}

/**
 * uSNChanged delta. The cursor is the DC's highestCommittedUSN taken before reading, pinned to
 * that DC's dsServiceName and invocationId; a cursor of another DC, of a restored DC or above the
 * DC's current USN throws DELTA_CURSOR_INVALID, which makes the run do a full pass.
 *
 * Changed objects are looked up domain-wide (so a user moved out of the synced OU is seen as
 * leaving the scope) and re-read by ID within the profile's bases; tombstones come from the
 * Show Deleted control.
 */
export function createUsnDelta(context: DeltaContext): DeltaSource {
  const domainDn = domainDnOf(context.usersBaseDn);
  return {
    kind: 'usn',
    async startCursor(connection) {
      const dc = await readDcIdentity(connection);
      return encodeUsnCursor({ dsServiceName: dc.dsServiceName, invocationId: dc.invocationId, usn: dc.highestCommittedUsn });
    },
    async changesSince(connection, cursor, _overlapSeconds, limit) {
      const dc = await readDcIdentity(connection);
      const decision = decideUsnPass(decodeUsnCursor(cursor), dc);
      if (decision.mode === 'full') {
        throw createError('DELTA_CURSOR_INVALID', `the USN cursor does not apply to ${connection.url} (${decision.reason}): full pass`, {
          retriable: true,
          details: { url: connection.url, reason: decision.reason, dsServiceName: dc.dsServiceName, invocationId: dc.invocationId },
        });
      }
      // Taken before reading: a change made while we read has a higher USN and is read next time.
      const nextCursor = encodeUsnCursor({ dsServiceName: dc.dsServiceName, invocationId: dc.invocationId, usn: dc.highestCommittedUsn });
      const since = usnChangedFilter(decision.sinceUsn);
      const base = dc.defaultNamingContext ?? domainDn;
      const changed = new Set<string>();
      let records = 0;
      for await (const page of connection.searchPages({
        baseDn: base,
        scope: 'sub',
        filter: `(&${OBJECTS}${since})`,
        attributes: [context.idAttribute],
        binary: [context.idAttribute],
        ignoreReferrals: true,
        pageSize: AD_MAX_PAGE_SIZE,
      })) {
        for (const entry of page) {
          records++;
          const id = idOf(entry, context);
          if (id !== null) changed.add(id);
        }
        if (changed.size > limit) tooLarge(limit, cursor);
      }
      const deleted = new Set<string>();
      for await (const page of connection.searchPages({
        baseDn: base,
        scope: 'sub',
        filter: `(&(isDeleted=TRUE)${OBJECTS}${since})`,
        attributes: [context.idAttribute, 'isDeleted'],
        binary: [context.idAttribute],
        controls: [new ShowDeletedControl()],
        ignoreReferrals: true,
        pageSize: AD_MAX_PAGE_SIZE,
      })) {
        for (const entry of page) {
          records++;
          const id = idOf(entry, context);
          if (id !== null && isDeletedFlag(values(entry, 'isDeleted'))) deleted.add(id);
        }
      }
      for (const id of deleted) changed.delete(id);
      const ids = [...changed].sort();
      return {
        clauses: chunkedIdClauses(ids, context.idFilter),
        requestedIds: ids,
        deletedIds: [...deleted].sort(),
        nextCursor,
        records,
      };
    },
  };
}

const DIRSYNC_PREFIX = 'ad-dirsync:';

/**
 * DirSync delta (needs "Replicating Directory Changes" on the naming context, or the
 * OBJECT_SECURITY flag). The search base must be the naming-context root, paging is not allowed,
 * and changed objects come back with only their changed attributes: the poller takes the IDs
 * and re-reads those entries. The cookie is opaque and carries the DC's up-to-dateness vector.
 */
export function createDirSyncDelta(context: DeltaContext & { readonly flags: number }): DeltaSource {
  const domainDn = domainDnOf(context.usersBaseDn);
  async function drain(
    connection: DirectoryConnection,
    cookie: Buffer,
    limit: number,
    onEntry: (entry: LdapEntry) => void,
  ): Promise<Buffer> {
    let current = cookie;
    for (let round = 0; ; round++) {
      const control = new DirSyncControl({ flags: context.flags, cookie: current });
      const entries = await connection.searchAll({
        baseDn: domainDn,
        scope: 'sub',
        filter: OBJECTS,
        // Samba's DirSync returns an object only when one of the *requested* attributes changed:
        // ask for all of them (a narrower list would hide changes to unlisted attributes).
        attributes: [],
        binary: [context.idAttribute],
        controls: [control],
        ignoreReferrals: true,
      });
      entries.forEach(onEntry);
      if (!control.response) {
        throw createError('AD_DIRSYNC_NO_COOKIE', `DirSync search on ${connection.url} returned no DirSync response control`, {
          retriable: false,
        });
      }
      current = control.response.cookie;
      if (!control.response.moreResults) return current;
      if (round > limit) tooLarge(limit, 'the DirSync cookie');
    }
  }
  return {
    kind: 'dirsync',
    async startCursor(connection, _startedAtMs, _overlap) {
      // The only way to a current cookie is to read everything once (IDs only).
      const cookie = await drain(connection, Buffer.alloc(0), Number.MAX_SAFE_INTEGER, () => {});
      return DIRSYNC_PREFIX + cookie.toString('base64');
    },
    async changesSince(connection, cursor, _overlapSeconds, limit) {
      if (!cursor.startsWith(DIRSYNC_PREFIX)) {
        throw createError('DELTA_CURSOR_INVALID', 'not a DirSync cursor: full pass', { retriable: true });
      }
      const changed = new Set<string>();
      const deleted = new Set<string>();
      let records = 0;
      const cookie = await drain(connection, Buffer.from(cursor.slice(DIRSYNC_PREFIX.length), 'base64'), limit, (entry) => {
        records++;
        const id = idOf(entry, context);
        if (id === null) return;
        if (isDeletedFlag(values(entry, 'isDeleted'))) deleted.add(id);
        else changed.add(id);
        if (changed.size > limit) tooLarge(limit, cursor);
      });
      for (const id of deleted) changed.delete(id);
      const ids = [...changed].sort();
      return {
        clauses: chunkedIdClauses(ids, context.idFilter),
        requestedIds: ids,
        deletedIds: [...deleted].sort(),
        nextCursor: DIRSYNC_PREFIX + cookie.toString('base64'),
        records,
      };
    },
  };
}
