import { createError } from '@dirstream/errors';
import type { DeltaSource } from './dialect.ts';
import { chunkedIdClauses } from './delta-timestamp.ts';

/**
 * RFC 4533 refreshOnly against the syncprov overlay: the cookie is the cursor; each base of the
 * profile (users, groups) has its own. Changed entries come back as entryUUIDs and are re-read
 * through the profile's filters; deletions (and entries leaving the base) come back in the delete
 * phase. A server without a session log answers with a present phase instead: that cannot list
 * deletions without enumerating everything, so the run becomes a full pass.
 */
const NOTHING = '(&(objectClass=*)(!(objectClass=*)))';

type Cursor = { readonly v: 1; readonly cookies: Record<string, string | null> };

function parseCursor(cursor: string): Cursor {
  try {
    const parsed = JSON.parse(cursor) as Cursor;
    if (parsed.v === 1 && typeof parsed.cookies === 'object' && parsed.cookies !== null) return parsed;
  } catch {
    // fall through
  }
  throw createError('DELTA_CURSOR_INVALID', 'not a syncrepl cursor: full pass', { retriable: true });
}

export function createSyncreplDelta(options: { bases: readonly string[]; idFilter: (id: string) => string }): DeltaSource {
  const bases = [...new Set(options.bases)];
  return {
    kind: 'syncrepl',
    async startCursor(connection) {
      const cookies: Record<string, string | null> = {};
      for (const base of bases) {
        const r = await connection.syncRefresh({ baseDn: base, scope: 'sub', filter: NOTHING }, null);
        cookies[base] = r.cookie === null ? null : r.cookie.toString('base64');
      }
      return JSON.stringify({ v: 1, cookies } satisfies Cursor);
    },
    async changesSince(connection, cursor, _overlapSeconds, limit) {
      const before = parseCursor(cursor);
      const changed = new Set<string>();
      const deleted = new Set<string>();
      const cookies: Record<string, string | null> = {};
      for (const base of bases) {
        const cookie = before.cookies[base];
        if (cookie === undefined || cookie === null)
          throw createError('DELTA_CURSOR_INVALID', `no syncrepl cookie for ${base}: full pass`, { retriable: true });
        const r = await connection.syncRefresh(
          { baseDn: base, scope: 'sub', filter: '(objectClass=*)', sizeLimit: limit + 1 },
          Buffer.from(cookie, 'base64'),
        );
        if (r.presentPhase) {
          throw createError(
            'DELTA_CURSOR_INVALID',
            `${connection.url} answered the sync cookie with a present phase (no syncprov session log): full pass`,
            {
              retriable: true,
            },
          );
        }
        for (const id of r.changed) changed.add(id);
        for (const id of r.deleted) deleted.add(id);
        if (changed.size + deleted.size > limit) {
          throw createError('DELTA_TOO_LARGE', `more than ${limit} changed entries since the last sync cookie: a full pass is cheaper`, {
            retriable: true,
          });
        }
        cookies[base] = r.cookie === null ? cookie : r.cookie.toString('base64');
      }
      // Each base reports what left *it*: a user changed below the users base is "deleted" from
      // the groups base's point of view (syncprov sends entries outside the search as deletes).
      // An entry some base still reports as changed is there: it is re-read, not removed.
      for (const id of changed) deleted.delete(id);
      const ids = [...changed].sort();
      return {
        clauses: chunkedIdClauses(ids, options.idFilter),
        requestedIds: ids,
        deletedIds: [...deleted],
        nextCursor: JSON.stringify({ v: 1, cookies } satisfies Cursor),
        records: changed.size + deleted.size,
      };
    },
  };
}
