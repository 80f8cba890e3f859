import { createError } from '@dirstream/errors';
import type { DeltaSource, Dialect } from '../directory/dialect.ts';
import { chunkedIdClauses, createTimestampDelta } from '../directory/delta-timestamp.ts';
import { escapeFilterValue } from '../directory/dn.ts';
import { firstString, formatGeneralizedTime, parseGeneralizedTime } from '../directory/entry.ts';
import { createLdapDialect } from './ldap.ts';

/**
 * OpenLDAP: entryUUID identity and the accesslog overlay as the delta (slapo-accesslog(5)).
 * Each successful write is an entry below `cn=accesslog` with reqType, reqStart and (2.5+)
 * reqEntryUUID, so deletions and renames are visible without a full scan.
 *
 * Preferred to RFC 4533 refreshOnly (directory/delta-syncrepl.ts) when both exist: it needs no
 * session log to list deletions. `auto` probes which one the server has (core/delta-choice.ts).
 */
export function createAccesslogDelta(options: { accesslogBase?: string; idFilter: (id: string) => string }): DeltaSource {
  const base = options.accesslogBase ?? 'cn=accesslog';
  return {
    kind: 'accesslog',
    async startCursor(_connection, startedAtMs, overlapSeconds) {
      return formatGeneralizedTime(startedAtMs - overlapSeconds * 1000);
    },
    async changesSince(connection, cursor, overlapSeconds, limit) {
      const since = formatGeneralizedTime((parseGeneralizedTime(cursor) ?? 0) - overlapSeconds * 1000);
      // id → [last reqStart, last operation]
      const last = new Map<string, { at: string; deleted: boolean }>();
      let maxStart = cursor;
      let records = 0;
      const filter = `(&(objectClass=auditWriteObject)(reqResult=0)(reqStart>=${escapeFilterValue(since)}))`;
      for await (const page of connection.searchPages({
        baseDn: base,
        scope: 'one',
        filter,
        attributes: ['reqType', 'reqStart', 'reqEntryUUID'],
      })) {
        for (const entry of page) {
          records++;
          const type = firstString(entry, 'reqType');
          const start = firstString(entry, 'reqStart') ?? '';
          const id = firstString(entry, 'reqEntryUUID')?.toLowerCase();
          if ((parseGeneralizedTime(start) ?? 0) > (parseGeneralizedTime(maxStart) ?? 0)) maxStart = start;
          if (!id || !type) continue;
          const previous = last.get(id);
          if (previous && previous.at > start) continue;
          last.set(id, { at: start, deleted: type === 'delete' });
        }
        if (last.size > limit) {
          throw createError('DELTA_TOO_LARGE', `more than ${limit} changed entries since ${cursor}: a full pass is cheaper`, {
            retriable: true,
          });
        }
      }
      const changed: string[] = [];
      const deleted: string[] = [];
      for (const [id, op] of last) (op.deleted ? deleted : changed).push(id);
      changed.sort();
      return {
        clauses: chunkedIdClauses(changed, options.idFilter),
        requestedIds: changed,
        deletedIds: deleted,
        // The cursor never moves backwards; the overlap re-reads the boundary (harmless: no diff).
        nextCursor: maxStart,
        records,
      };
    },
  };
}

export function createOpenLdapDialect(): Dialect {
  const base = createLdapDialect();
  return {
    ...base,
    name: 'openldap',
    defaultUserFilter: '(objectClass=inetOrgPerson)',
    defaultDelta: 'accesslog',
    supportedDeltas: ['none', 'timestamp', 'accesslog', 'syncrepl'],
    createDelta(kind, context) {
      if (kind === 'accesslog') {
        return createAccesslogDelta({ idFilter: (id) => base.idFilter(context.idAttribute, id) });
      }
      if (kind === 'syncrepl') return base.createDelta(kind, context);
      if (kind === 'timestamp') return createTimestampDelta(context.modifiedAttribute);
      return null;
    },
  };
}
