import { chunkedIdClauses } from '../directory/delta-timestamp.ts';
import type { StateStore } from '../state/store.ts';
import { keysetPages } from './keyset-pages.ts';

const PAGE = 1_000;

/**
 * Filter clauses matching, by ID, the groups that hold an edge to an entity renamed in an earlier
 * pass: without refint such a group may still name the member's former DN, which is a dangling
 * reference now (DESIGN invariant 9). Bounded by the renames of the previous pass (they are
 * forgotten after each succeeded pass).
 */
export async function formerDnClauses(store: StateStore, idFilter: (id: string) => string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of keysetPages(
    (after, limit) => store.groupsNamingEarlierRenamed(after, limit),
    (id) => id,
    PAGE,
  )) {
    for (const id of page) ids.push(id);
  }
  return chunkedIdClauses(ids, idFilter);
}
