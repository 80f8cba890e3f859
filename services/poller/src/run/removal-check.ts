import type { DirectoryConnection } from '../directory/client.ts';
import type { Dialect } from '../directory/dialect.ts';
import { lookahead } from '../directory/lookahead.ts';
import { readExternalId } from '../directory/mapping.ts';
import type { RunScratch } from '../state/store.ts';

/**
 * The removal check of timestamp deltas: a timestamp query cannot list entries that were deleted
 * or left the filter, so the delta pages through the IDs only (one attribute per entry) and marks
 * them seen, exactly as a full pass does; absence is then computed in the database, page by page.
 * Returns how many IDs were read (zero where many were known is an incomplete read).
 */
export async function markPresentIds(
  connection: DirectoryConnection,
  scratch: RunScratch,
  request: {
    readonly kind: 'user' | 'group';
    readonly baseDn: string;
    readonly scope: 'base' | 'one' | 'sub';
    readonly filter: string;
    readonly idAttribute: string;
    readonly dialect: Dialect;
    readonly pageSize: number;
  },
  signal: AbortSignal,
): Promise<number> {
  let read = 0;
  for await (const page of lookahead(
    connection.searchPages(
      {
        baseDn: request.baseDn,
        scope: request.scope,
        filter: request.filter,
        attributes: [request.idAttribute],
        binary: request.dialect.binaryAttributes,
        ignoreReferrals: request.dialect.ignoreReferrals,
        pageSize: request.pageSize,
      },
      signal,
    ),
  )) {
    const ids: string[] = [];
    for (const entry of page) {
      const id = readExternalId(entry, request.idAttribute, request.dialect);
      if (id !== null) ids.push(id);
    }
    read += page.length;
    await scratch.markSeen(request.kind, ids);
  }
  return read;
}
