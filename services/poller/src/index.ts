/**
 * @dirstream/poller: directory → events. `runPoller` is `dirstream poller`, `planProfile` is
 * `dirstream plan`; the rest is exported for the benchmark and for dialect authors.
 */
export { planProfile, runPoller, type PollerDeps, type PollerOptions } from './run/poller.ts';
export type { Dialect, DeltaSource, DeltaChanges, DeltaKind, GroupMembers } from './directory/dialect.ts';
export { dialectFor } from './dialects/index.ts';
export { normaliseDn, parseDn, escapeDnValue, escapeFilterValue } from './directory/dn.ts';
export { connectDirectory, ldapError, openLdapClient, type DirectoryConnection, type SearchRequest } from './directory/client.ts';
export { firstString, stringValues, type LdapEntry } from './directory/entry.ts';
export { mapUser } from './directory/mapping.ts';
export { createKafkaClient } from './delivery/sink.ts';
