/**
 * The pages of a keyset-paged query, read one at a time as the consumer asks: `read(after, limit)`
 * returns up to `limit` rows ordered by key, all after `after` (the empty string comes first).
 * The next page is read only after the consumer handled this one, so it sees the consumer's writes.
 */
export async function* keysetPages<T>(
  read: (after: string, limit: number) => Promise<readonly T[]>,
  keyOf: (row: T) => string,
  limit: number,
): AsyncGenerator<readonly T[]> {
  for (let after = ''; ; ) {
    const page = await read(after, limit);
    if (page.length === 0) return;
    after = keyOf(page[page.length - 1] as T);
    yield page;
  }
}
