export { runApplier, measureLag, readLag, syncConfiguration } from './run.ts';
export type { PartitionLag, RunApplierDeps, RunApplierOptions, RunApplierResult } from './run.ts';
export { createApplierMetrics } from './metrics.ts';
export {
  migrate,
  openDatabase,
  closeDatabase,
  findUser,
  findUsersByLoginName,
  findUserRoles,
  findEffectiveGroups,
  parsePgArray,
  createLocalUser,
  toPgArray,
} from './database.ts';
export type { Database, Sql, UserRow } from './database.ts';
export { ACCESS_CHANGED_CHANNEL, ACCESS_CHANGED_TRIGGERS } from './migrations/Migration20261126170000_access_changed_notify.ts';
export { canonicalDump } from './canonical.ts';
export type { CanonicalDump } from './canonical.ts';
export { applyBatch } from './apply.ts';
export type { ApplyInput, ApplyResult } from './apply.ts';
export { relayOnce, outboxBacklog } from './outbox.ts';
export * from './entities.ts';
export {
  planUsers,
  planGroups,
  planMemberships,
  logMembershipChanges,
  planSyncRuns,
  latestByKey,
  lifecycleEventFor,
  validateUserEvent,
  validateGroupEvent,
  validateMembershipEvent,
  validateSyncRun,
} from './plan.ts';
export type { PlanContext, ConflictPolicy, CurrentUser, UserLookup, UserPlan, OutboxRow, LogRow } from './plan.ts';
