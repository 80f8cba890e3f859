/**
 * Requests page N+1 from the directory while page N is diffed, produced and checkpointed: the
 * LDAP round trip overlaps the Kafka and PostgreSQL ones. At most two pages are held.
 */
export async function* lookahead<T>(source: AsyncGenerator<T>): AsyncGenerator<T> {
  let pending = source.next();
  // The prefetch may fail while the consumer is busy: keep the rejection for the next await.
  pending.catch(() => undefined);
  try {
    while (true) {
      const current = await pending;
      if (current.done) return;
      pending = source.next();
      pending.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await source.return(undefined as never).catch(() => undefined);
  }
}
