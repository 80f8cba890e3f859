import type { DisabledReason, GroupOperation, GroupState, MemberType, RenameInfo, UserOperation, UserState } from '@dirstream/events';

/** The poller's last-emitted knowledge of one user (a row of the state store). */
export type StoredUser = {
  readonly externalId: string;
  readonly hash: string;
  readonly version: number;
  /** False once the user left the directory (its last event disabled it or it was kept). */
  readonly present: boolean;
  readonly state: UserState;
};

export type StoredGroup = {
  readonly externalId: string;
  readonly hash: string;
  readonly version: number;
  readonly present: boolean;
  readonly state: GroupState;
  /** Hash of the member list whose edges are stored; null when unknown or some member did not resolve. */
  readonly membersHash?: string | null;
};

export type StoredEdge = {
  readonly groupId: string;
  readonly memberId: string;
  readonly memberType: MemberType;
  readonly version: number;
};

/** One user event to emit, and the row to store once Kafka acknowledged it. */
export type UserChange = {
  readonly op: UserOperation;
  readonly externalId: string;
  readonly version: number;
  readonly state: UserState;
  readonly changed: readonly string[];
  readonly rename: RenameInfo | null;
  readonly hash: string;
  readonly present: boolean;
  /** True when this change turns an enabled user into a disabled one (counts for the thresholds). */
  readonly disables: boolean;
};

export type GroupChange = {
  readonly op: GroupOperation;
  readonly externalId: string;
  readonly version: number;
  readonly state: GroupState;
  readonly changed: readonly string[];
  readonly rename: RenameInfo | null;
  readonly hash: string;
};

export type EdgeChange = {
  readonly op: 'added' | 'removed';
  readonly groupId: string;
  readonly memberId: string;
  readonly memberType: MemberType;
  readonly version: number;
};

export type { DisabledReason };
