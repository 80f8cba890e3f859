import { type EventSource, eventIdFor, type GroupEvent, type MembershipEvent, type UserEvent } from '@dirstream/events';
import type { EdgeChange, GroupChange, UserChange } from './types.ts';

/** Turns diff results into contract events. Event IDs are deterministic (profile, entity, version). */
export type EventContext = {
  readonly source: EventSource;
  readonly observedAt: number;
  readonly emittedAt: number;
};

/** What a user and a group event share: the change as it was diffed, with its ID, source and times. */
function entityEvent<C extends UserChange | GroupChange>(kind: 'user' | 'group', change: C, changedAt: number | null, ctx: EventContext) {
  const profileId = ctx.source.profileId;
  return {
    eventId: eventIdFor(kind, profileId, change.externalId, change.version),
    op: change.op as C['op'],
    profileId,
    externalId: change.externalId,
    version: change.version,
    state: change.state as C['state'],
    changed: change.changed,
    rename: change.rename,
    source: ctx.source,
    times: { changedAt, observedAt: ctx.observedAt, emittedAt: ctx.emittedAt },
  };
}

export function userEvent(change: UserChange, changedAt: number | null, ctx: EventContext): UserEvent {
  return entityEvent('user', change, changedAt, ctx);
}

/** `roleBindings`: the policies.groupRoles names bound to the group after this change (run/phases/role-bindings.ts). */
export function groupEvent(change: GroupChange, changedAt: number | null, ctx: EventContext, roleBindings: readonly string[]): GroupEvent {
  return { ...entityEvent('group', change, changedAt, ctx), roleBindings };
}

export function membershipEvent(change: EdgeChange, ctx: EventContext): MembershipEvent {
  const profileId = ctx.source.profileId;
  return {
    eventId: eventIdFor('membership', profileId, change.groupId, change.memberId, change.version),
    op: change.op,
    profileId,
    groupId: change.groupId,
    memberId: change.memberId,
    memberType: change.memberType,
    version: change.version,
    source: ctx.source,
    times: { changedAt: null, observedAt: ctx.observedAt, emittedAt: ctx.emittedAt },
  };
}
