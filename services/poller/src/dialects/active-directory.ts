import type { GroupState, UserState } from '@dirstream/events';
import { AD_MAX_PAGE_SIZE, domainDnOf } from '../ad/domain.ts';
import { escapeBinaryFilterValue, guidStringToBytes, isGuidString, objectGuidToString } from '../ad/guid.ts';
import { parseRangedAttribute, type RangedAttribute, rangeRequest } from '../ad/range.ts';
import { sidRid, sidStringToBytes, sidToString } from '../ad/sid.ts';
import { accountStatus } from '../ad/user-account-control.ts';
import type { DirectoryConnection } from '../directory/client.ts';
import type { Dialect, GroupMembers } from '../directory/dialect.ts';
import { createTimestampDelta } from '../directory/delta-timestamp.ts';
import { escapeFilterValue } from '../directory/dn.ts';
import { firstString, type LdapEntry, stringValues, values } from '../directory/entry.ts';
import { createDirSyncDelta, createUsnDelta } from './active-directory-delta.ts';

/**
 * Active Directory (and Samba AD): objectGUID / objectSid identity, userAccountControl for the
 * enabled flag, range retrieval of large `member` values, the primary group as a membership, and
 * uSNChanged (or DirSync) deltas pinned to the DC that was read.
 */
export type ActiveDirectoryOptions = {
  /**
   * Read `member` in explicit ranges of this many values (`member;range=0-999`, …) even when
   * the server would answer unranged. AD ranges by itself above MaxValRange (1,500); Samba
   * never does unless asked, so tests set this to prove the range path.
   */
  readonly memberRangeStep?: number;
  /** Count the implicit primary group (primaryGroupID, usually Domain Users) as a membership. Default true. */
  readonly primaryGroupMembership?: boolean;
  /** DirSync request flags (e.g. DIRSYNC_FLAGS.OBJECT_SECURITY for accounts without the replication right). */
  readonly dirSyncFlags?: number;
  /** Clock for the expiry attributes (tests). */
  readonly now?: () => number;
};

const UAC_DISABLED_FILTER = '(userAccountControl:1.2.840.113556.1.4.803:=2)';

function binaryToText(value: string | Buffer): string | null {
  if (typeof value === 'string') return value;
  if (value.length === 16) return objectGuidToString(value);
  try {
    return sidToString(value);
  } catch {
    return null;
  }
}

/**
 * The ranged chunk of `attribute` in an entry (`member;range=0-1499`), or null when the server
 * answered unranged. ldapts adds an empty placeholder for each requested name the server did not
 * return (`member;range=1500-2999` when the answer is `member;range=1500-*`): those are skipped.
 */
function rangedChunk(entry: LdapEntry, attribute: string): { values: string[]; range: RangedAttribute } | null {
  const wanted = attribute.toLowerCase();
  for (const [name, list] of entry.attributes) {
    if (list.length === 0) continue;
    const range = parseRangedAttribute(name);
    if (range && range.attribute.toLowerCase() === wanted) return { values: stringValues(entry, name), range };
  }
  return null;
}

/**
 * Reads every value of `attribute` of `dn` with range retrieval, starting at `low`. `step`
 * bounds each request; without it each request asks for the rest (`-*`) and the server's
 * MaxValRange cuts it.
 */
export async function readRangedAttribute(
  connection: DirectoryConnection,
  dn: string,
  attribute: string,
  options: { low?: number; step?: number } = {},
): Promise<string[]> {
  const out: string[] = [];
  let request: string | null = rangeRequest(attribute, options.low ?? 0, options.step);
  let lastLow = -1;
  while (request !== null) {
    const [entry] = await connection.searchAll({ baseDn: dn, scope: 'base', filter: '(objectClass=*)', attributes: [request] });
    if (!entry) break;
    const chunk = rangedChunk(entry, attribute);
    if (chunk === null) {
      // Answered unranged: everything there is, in one go.
      for (const value of stringValues(entry, attribute)) out.push(value);
      break;
    }
    for (const value of chunk.values) out.push(value);
    // A server that does not move forward would loop for ever: stop.
    if (chunk.range.low <= lastLow) break;
    lastLow = chunk.range.low;
    request = chunk.range.high === null ? null : rangeRequest(attribute, chunk.range.high + 1, options.step);
  }
  return out;
}

export { AD_MAX_PAGE_SIZE, domainDnOf };

export function createActiveDirectoryDialect(options: ActiveDirectoryOptions = {}): Dialect {
  const now = options.now ?? Date.now;
  const binaryAttributes = ['objectGUID', 'objectSid', 'sIDHistory'];
  const dialect: Dialect = {
    name: 'active-directory',
    // Computers are users too in AD; they are not people.
    defaultUserFilter: '(&(objectClass=user)(!(objectClass=computer)))',
    defaultGroupFilter: '(objectClass=group)',
    binaryAttributes,
    ignoreReferrals: true,
    maxPageSize: AD_MAX_PAGE_SIZE,
    extraUserAttributes: [
      'objectSid',
      'sIDHistory',
      'userAccountControl',
      'msDS-User-Account-Control-Computed',
      'lockoutTime',
      'accountExpires',
      'primaryGroupID',
      'uSNChanged',
    ],
    extraGroupAttributes: ['objectSid', 'uSNChanged'],
    defaultDelta: 'usn',
    supportedDeltas: ['none', 'timestamp', 'usn', 'dirsync'],
    normaliseId(value) {
      if (typeof value !== 'string') return binaryToText(value) ?? value.toString('hex');
      const text = value.trim();
      return isGuidString(text.replace(/^\{|\}$/g, '')) ? text.replace(/^\{|\}$/g, '').toLowerCase() : text;
    },
    idFilter(attribute, externalId) {
      const name = attribute.toLowerCase();
      if (name === 'objectguid' && isGuidString(externalId)) {
        return `(${attribute}=${escapeBinaryFilterValue(guidStringToBytes(externalId))})`;
      }
      if ((name === 'objectsid' || name === 'sidhistory') && /^S-\d/i.test(externalId)) {
        return `(${attribute}=${escapeBinaryFilterValue(sidStringToBytes(externalId))})`;
      }
      return `(${attribute}=${escapeFilterValue(externalId)})`;
    },
    disabledFilter(profileFilter) {
      return profileFilter ? `(|${UAC_DISABLED_FILTER}${profileFilter})` : UAC_DISABLED_FILTER;
    },
    enrichUser(entry: LdapEntry, state: UserState): UserState {
      const sidValue = values(entry, 'objectSid')[0];
      const sid = sidValue === undefined ? null : binaryToText(sidValue);
      const sidHistory = values(entry, 'sIDHistory')
        .map(binaryToText)
        .filter((s): s is string => s !== null)
        .sort();
      const uacText = firstString(entry, 'userAccountControl');
      const attributes: Record<string, readonly string[]> = { ...state.attributes };
      let enabled = state.enabled;
      let disabledReason = state.disabledReason;
      if (uacText !== null && /^-?\d+$/.test(uacText)) {
        const computedText = firstString(entry, 'msDS-User-Account-Control-Computed');
        const status = accountStatus({
          userAccountControl: Number(uacText) >>> 0,
          computed: computedText === null ? null : Number(computedText) >>> 0,
          lockoutTime: firstString(entry, 'lockoutTime'),
          accountExpires: firstString(entry, 'accountExpires'),
          nowMs: now(),
        });
        attributes.lockedOut = [String(status.lockedOut)];
        attributes.passwordExpired = [String(status.passwordExpired)];
        attributes.accountExpired = [String(status.accountExpired)];
        // The UAC bit is authoritative for "disabled in the directory", whatever the profile filter says.
        if (!status.enabled && enabled) {
          enabled = false;
          disabledReason = 'directory-disabled';
        }
      }
      const primaryGroupId = firstString(entry, 'primaryGroupID');
      if (primaryGroupId !== null) attributes.primaryGroupID = [primaryGroupId];
      return { ...state, sid, sidHistory, enabled, disabledReason, attributes };
    },
    enrichGroup(entry: LdapEntry, state: GroupState): GroupState {
      const sidValue = values(entry, 'objectSid')[0];
      return { ...state, sid: sidValue === undefined ? null : binaryToText(sidValue) };
    },
    async readMembers(entry, mapping, connection): Promise<GroupMembers> {
      const dns: string[] = [];
      const loginNames: string[] = [];
      for (const attribute of mapping.memberAttributes) {
        if (attribute === 'memberUid') {
          for (const value of stringValues(entry, attribute)) loginNames.push(value);
          continue;
        }
        if (options.memberRangeStep !== undefined) {
          for (const value of await readRangedAttribute(connection, entry.dn, attribute, { step: options.memberRangeStep }))
            dns.push(value);
          continue;
        }
        const first = rangedChunk(entry, attribute);
        if (first === null) {
          for (const value of stringValues(entry, attribute)) dns.push(value);
          continue;
        }
        // AD answered `member;range=0-1499`: fetch the rest from where it stopped.
        for (const value of first.values) dns.push(value);
        if (first.range.high !== null) {
          for (const value of await readRangedAttribute(connection, entry.dn, attribute, { low: first.range.high + 1 })) dns.push(value);
        }
      }
      if (options.primaryGroupMembership !== false) {
        let sidValue = values(entry, 'objectSid')[0];
        if (sidValue === undefined) {
          // The run's member search reads only the ID and the member attributes.
          const [withSid] = await connection.searchAll({
            baseDn: entry.dn,
            scope: 'base',
            filter: '(objectClass=group)',
            attributes: ['objectSid'],
            binary: ['objectSid'],
          });
          sidValue = withSid ? values(withSid, 'objectSid')[0] : undefined;
        }
        const sid = sidValue === undefined ? null : binaryToText(sidValue);
        if (sid !== null && /^S-1-5-21-/.test(sid)) {
          // primaryGroupID is not in the group's `member`: the users that name this group's RID.
          for await (const page of connection.searchPages({
            baseDn: domainDnOf(entry.dn),
            scope: 'sub',
            filter: `(&(objectClass=user)(primaryGroupID=${sidRid(sid)}))`,
            attributes: ['1.1'],
            ignoreReferrals: true,
            pageSize: AD_MAX_PAGE_SIZE,
          })) {
            for (const user of page) dns.push(user.dn);
          }
        }
      }
      return { dns: [...new Set(dns)], loginNames };
    },
    createDelta(kind, context) {
      const idFilter = (id: string) => dialect.idFilter(context.idAttribute, id);
      if (kind === 'usn') return createUsnDelta({ ...context, idFilter, normaliseId: dialect.normaliseId });
      // whenChanged (the default marker) is kept per DC, not replicated: the profile's first URL should stay its DC.
      if (kind === 'timestamp') return createTimestampDelta(context.modifiedAttribute ?? 'whenChanged');
      if (kind === 'dirsync') {
        return createDirSyncDelta({ ...context, idFilter, normaliseId: dialect.normaliseId, flags: options.dirSyncFlags ?? 0 });
      }
      return null;
    },
  };
  return dialect;
}
