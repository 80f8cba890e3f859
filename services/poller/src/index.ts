/**
 * @dirstream/poller: directory → events. `runPoller` is `dirstream poller`, `planProfile` is
 * `dirstream plan`; the rest is exported for the benchmark and for dialect authors.
 */
export { planProfile, runPoller, type PollerDeps, type PollerOptions } from './run/poller.ts';
/** The poller's metric registry factory (the observability test reads the metric names from it). */
export { createPollerMetrics, type PollerMetrics } from './run/metrics.ts';
export { checkProfileConnections, type ProfileCheck } from './run/check-connection.ts';
/** Sync now, run state, lock holders and profile states: for the admin API, the CLI and sign-in. */
export { createSyncControl, type ProfileStatus, type SyncControl } from './control/sync-control.ts';
export { migratePollerSchema } from './state/database.ts';
export type { HolderMode, LockHolder, RunSummary } from './state/activity.ts';
export {
  SYNC_REQUEST_CHANNEL,
  type RequestedRun,
  type RequestedRunState,
  type RunPhase,
  type SyncRequest,
  type SyncRequestReason,
} from './state/sync-requests.ts';
export type { Dialect, DeltaSource, DeltaChanges, DeltaKind, GroupMembers } from './directory/dialect.ts';
export { dialectFor } from './dialects/index.ts';
export { normaliseDn, parseDn, escapeDnValue, escapeFilterValue } from './directory/dn.ts';
export { connectDirectory, ldapError, openLdapClient, type DirectoryConnection, type SearchRequest } from './directory/client.ts';
export { firstString, stringValues, type LdapEntry } from './directory/entry.ts';
export { mapUser } from './directory/mapping.ts';
