import { chunkedIdClauses } from '../directory/delta-timestamp.ts';
import { escapeFilterValue } from '../directory/dn.ts';
import type { StateStore } from '../state/store.ts';

const PAGE = 1_000;

/**
 * Filter clauses matching the groups that list, under a DN-valued member attribute, a DN an
 * entity left in an earlier pass. Bounded by the renames of the previous passes (they are
 * forgotten after each succeeded pass), 50 DNs a clause.
 */
export async function formerDnClauses(store: StateStore, memberAttributes: readonly string[]): Promise<string[]> {
  const attributes = memberAttributes.filter((a) => a !== 'memberUid');
  if (attributes.length === 0) return [];
  const parts: string[] = [];
  for (let after = ''; ; ) {
    const page = await store.earlierFormerDnPage(after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1] as string;
    for (const dn of page) for (const attribute of attributes) parts.push(`(${attribute}=${escapeFilterValue(dn)})`);
  }
  return chunkedIdClauses(parts, (part) => part, 50 * attributes.length);
}
