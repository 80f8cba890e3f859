import type { DisabledReason, GroupState, MemberType, RenameInfo, UserOperation, UserState } from '@dirstream/events';
import { nextVersion } from '@dirstream/events';
import { dnChange, normaliseDn } from '../directory/dn.ts';
import { stableJson } from '@dirstream/events';
import { stateHash } from './hash.ts';
import type { EdgeChange, GroupChange, StoredEdge, StoredGroup, StoredUser, UserChange } from './types.ts';

/**
 * The pure heart of change detection: previous per-entity state + what the directory says now →
 * the events to emit (with the changed field names) and the state to store after Kafka
 * acknowledged them. No I/O, no clock: `nowMs` is passed in.
 */

/** Field names whose value differs; `attributes.<name>` for extra attributes. DN compared normalised. */
export function changedFields(previous: object, next: object): string[] {
  const prev = previous as Record<string, unknown>;
  const curr = next as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(prev), ...Object.keys(curr)])].sort();
  const changed: string[] = [];
  for (const key of keys) {
    if (key === 'attributes') {
      const a = (prev.attributes ?? {}) as Record<string, unknown>;
      const b = (curr.attributes ?? {}) as Record<string, unknown>;
      for (const name of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (stableJson(a[name] ?? null) !== stableJson(b[name] ?? null)) changed.push(`attributes.${name}`);
      }
      continue;
    }
    if (key === 'dn') {
      if (normaliseDn(String(prev.dn ?? '')) !== normaliseDn(String(curr.dn ?? ''))) changed.push('dn');
      continue;
    }
    if (stableJson(prev[key] ?? null) !== stableJson(curr[key] ?? null)) changed.push(key);
  }
  return changed;
}

function allFields(state: object): string[] {
  const fields = Object.keys(state).filter((k) => k !== 'attributes');
  for (const name of Object.keys((state as { attributes?: object }).attributes ?? {})) fields.push(`attributes.${name}`);
  return fields.sort();
}

function renameInfo(previousDn: string, previousLogin: string | null, nextDn: string): RenameInfo | null {
  if (normaliseDn(previousDn) === normaliseDn(nextDn)) return null;
  return { previousDn, previousLoginName: previousLogin };
}

function dnOperation(previousDn: string, nextDn: string): 'renamed' | 'moved' | null {
  const change = dnChange(previousDn, nextDn);
  return change === 'none' ? null : change;
}

/** A user or group the state has never seen: every field changed, first version. */
function created<S extends UserState | GroupState>(next: S, nowMs: number, hash: string) {
  return {
    op: 'created' as const,
    externalId: next.externalId,
    version: nextVersion(null, nowMs),
    state: next,
    changed: allFields(next),
    rename: null,
    hash,
  };
}

/**
 * One user as read now against what was last emitted. Returns null when nothing changed.
 * `hash`: `stateHash(next)` when the caller has it already.
 * Op precedence: enabled/disabled (the transition consumers act on) > renamed/moved > updated;
 * `rename` is set whenever the DN changed, whatever the op.
 */
export function diffUser(previous: StoredUser | null, next: UserState, nowMs: number, hash: string = stateHash(next)): UserChange | null {
  if (previous === null) return { ...created(next, nowMs, hash), present: true, disables: false };
  if (previous.hash === hash && previous.present) return null;
  const changed = changedFields(previous.state, next);
  if (changed.length === 0 && previous.present) return null;
  let op: UserOperation;
  if (previous.state.enabled !== next.enabled) op = next.enabled ? 'enabled' : 'disabled';
  else op = dnOperation(previous.state.dn, next.dn) ?? 'updated';
  return {
    op,
    externalId: next.externalId,
    version: nextVersion(previous.version, nowMs),
    state: next,
    changed,
    rename: renameInfo(previous.state.dn, previous.state.loginName, next.dn),
    hash,
    present: true,
    disables: previous.state.enabled && !next.enabled,
  };
}

/**
 * A user that is no longer where the profile reads (deleted, moved out, outside the filter, not
 * in a synced group). Disabled with the reason, never deleted; null when the policy keeps it or
 * it is already in that state.
 */
export function removeUser(previous: StoredUser, reason: DisabledReason, policy: 'disable' | 'keep', nowMs: number): UserChange | null {
  if (policy === 'keep') return null;
  if (!previous.state.enabled && previous.state.disabledReason === reason) return null;
  const state: UserState = { ...previous.state, enabled: false, disabledReason: reason };
  const changed = changedFields(previous.state, state);
  return {
    op: previous.state.enabled ? 'disabled' : 'updated',
    externalId: previous.externalId,
    version: nextVersion(previous.version, nowMs),
    state,
    changed,
    rename: null,
    hash: stateHash(state),
    present: reason !== 'removed-from-directory' && reason !== 'outside-filter',
    disables: previous.state.enabled,
  };
}

/** A user disabled by "synchronize only groups" comes back when it is in a synced group again. */
export function restoreUser(previous: StoredUser, nowMs: number): UserChange | null {
  if (previous.state.enabled || previous.state.disabledReason !== 'not-in-synced-group') return null;
  const state: UserState = { ...previous.state, enabled: true, disabledReason: null };
  return {
    op: 'enabled',
    externalId: previous.externalId,
    version: nextVersion(previous.version, nowMs),
    state,
    changed: changedFields(previous.state, state),
    rename: null,
    hash: stateHash(state),
    present: true,
    disables: false,
  };
}

export function diffGroup(previous: StoredGroup | null, next: GroupState, nowMs: number): GroupChange | null {
  const hash = stateHash(next);
  if (previous === null) return created(next, nowMs, hash);
  if (previous.hash === hash) return null;
  const changed = changedFields(previous.state, next);
  if (changed.length === 0) return null;
  const op = !previous.state.present ? 'created' : (dnOperation(previous.state.dn, next.dn) ?? 'updated');
  return {
    op,
    externalId: next.externalId,
    version: nextVersion(previous.version, nowMs),
    state: next,
    changed: op === 'created' ? allFields(next) : changed,
    rename: renameInfo(previous.state.dn, null, next.dn),
    hash,
  };
}

export function removeGroup(previous: StoredGroup, nowMs: number): GroupChange | null {
  if (!previous.state.present) return null;
  const state: GroupState = { ...previous.state, present: false };
  return {
    op: 'removed',
    externalId: previous.externalId,
    version: nextVersion(previous.version, nowMs),
    state,
    changed: ['present'],
    rename: null,
    hash: stateHash(state),
  };
}

export type CurrentMember = { readonly memberId: string; readonly memberType: MemberType };

/**
 * The direct edges of one group: what the directory lists now against the stored edges.
 * Duplicates (a member listed by both `member` and `uniqueMember`) collapse into one edge.
 */
export function diffEdges(
  groupId: string,
  previous: ReadonlyMap<string, StoredEdge>,
  current: readonly CurrentMember[],
  nowMs: number,
): { added: EdgeChange[]; removed: EdgeChange[] } {
  const seen = new Set<string>();
  const added: EdgeChange[] = [];
  for (const member of current) {
    if (seen.has(member.memberId)) continue;
    seen.add(member.memberId);
    if (previous.has(member.memberId)) continue;
    added.push({
      op: 'added',
      groupId,
      memberId: member.memberId,
      memberType: member.memberType,
      version: nextVersion(null, nowMs),
    });
  }
  const removed: EdgeChange[] = [];
  for (const [memberId, edge] of previous) {
    if (seen.has(memberId)) continue;
    removed.push(removeEdge(edge, nowMs));
  }
  added.sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
  removed.sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
  return { added, removed };
}

export function removeEdge(edge: StoredEdge, nowMs: number): EdgeChange {
  return {
    op: 'removed',
    groupId: edge.groupId,
    memberId: edge.memberId,
    memberType: edge.memberType,
    version: nextVersion(edge.version, nowMs),
  };
}

/**
 * Effective members of a group through group→group edges, cycle-safe (each group visited once).
 * The directory states direct edges; this is for decisions that need the closure, e.g.
 * "synchronize only groups" when synced groups nest groups.
 */
export function effectiveMembers(
  groupId: string,
  directMembers: (groupId: string) => readonly CurrentMember[],
): { users: Set<string>; groups: Set<string> } {
  const users = new Set<string>();
  const groups = new Set<string>([groupId]);
  const queue = [groupId];
  while (queue.length > 0) {
    const current = queue.shift() as string;
    for (const member of directMembers(current)) {
      if (member.memberType === 'user') users.add(member.memberId);
      else if (!groups.has(member.memberId)) {
        groups.add(member.memberId);
        queue.push(member.memberId);
      }
    }
  }
  groups.delete(groupId);
  return { users, groups };
}
