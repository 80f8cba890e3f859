import type { DeltaSource } from './dialect.ts';
import { formatGeneralizedTime, parseGeneralizedTime } from './entry.ts';

/**
 * The generic delta: entries whose modifyTimestamp is at or after the cursor minus an overlap
 * (clock skew between poller and server, writes within the same second). It cannot see
 * deletions or entries leaving the filter: the periodic full pass catches those.
 */
export function createTimestampDelta(attribute = 'modifyTimestamp'): DeltaSource {
  return {
    kind: 'timestamp',
    async startCursor(_connection, startedAtMs) {
      return formatGeneralizedTime(startedAtMs);
    },
    async changesSince(_connection, cursor, overlapSeconds) {
      // The next cursor is taken before reading, so a change made during this read is re-read next time.
      const nextCursor = formatGeneralizedTime(Date.now());
      const since = (parseGeneralizedTime(cursor) ?? 0) - overlapSeconds * 1000;
      return {
        clauses: [`(${attribute}>=${formatGeneralizedTime(Math.max(0, since))})`],
        requestedIds: null,
        deletedIds: [],
        nextCursor,
        records: 0,
      };
    },
  };
}

/** `(|(attr=v1)(attr=v2)…)` clauses of at most `size` values each. */
export function chunkedIdClauses(ids: readonly string[], idFilter: (id: string) => string, size = 100): string[] {
  const clauses: string[] = [];
  for (let i = 0; i < ids.length; i += size) {
    const chunk = ids.slice(i, i + size).map(idFilter);
    clauses.push(chunk.length === 1 ? (chunk[0] as string) : `(|${chunk.join('')})`);
  }
  return clauses;
}
