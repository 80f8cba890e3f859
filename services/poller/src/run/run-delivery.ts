import type { EventSource, GroupEvent, MembershipEvent, RunError, UserEvent } from '@dirstream/events';
import { type EventContext, groupEvent, membershipEvent, userEvent } from '../core/events.ts';
import { type Batch, createOrderedDelivery, type OrderedDelivery } from '../delivery/ordered-delivery.ts';
import type { EventSink, SendResult } from '../delivery/sink.ts';
import type { StateStore } from '../state/store.ts';
import type { Counts, MemberResolution } from './context.ts';

export type RunDeliveryDeps = {
  readonly sink: EventSink;
  readonly store: StateStore;
  /** Nothing is checkpointed (the sink decides whether anything is sent). */
  readonly dryRun: boolean;
  readonly now: () => number;
  readonly source: () => EventSource;
  readonly changedAt: Map<string, number | null>;
  readonly resolution: MemberResolution;
  readonly counts: Counts;
  readonly recordError: (error: RunError) => void;
  readonly afterProduce?: (info: { readonly batch: number }) => void | Promise<void>;
  /** The role-binding names a group event carries (run/phases/role-bindings.ts). */
  readonly roleBindingsOf: (groupId: string, present: boolean) => readonly string[];
};

/** A batch's changes become events on the sink, then the state; counted once stored. */
export function createRunDelivery(deps: RunDeliveryDeps): OrderedDelivery {
  const { sink, store, counts, changedAt } = deps;

  async function produce(batch: Batch): Promise<SendResult> {
    for (const c of batch.users) {
      if (c.op === 'created' || c.op === 'enabled' || c.rename !== null || c.changed.includes('loginName')) deps.resolution.changed = true;
    }
    for (const c of batch.groups) if (c.op === 'created' || c.rename !== null) deps.resolution.changed = true;
    const t = deps.now();
    const ctx: EventContext = { source: deps.source(), observedAt: t, emittedAt: t };
    const users: UserEvent[] = batch.users.map((c) => userEvent(c, changedAt.get(c.externalId) ?? null, ctx));
    const groups: GroupEvent[] = batch.groups.map((c) =>
      groupEvent(c, changedAt.get(c.externalId) ?? null, ctx, deps.roleBindingsOf(c.externalId, c.state.present)),
    );
    const memberships: MembershipEvent[] = batch.edges.map((c) => membershipEvent(c, ctx));
    return sink.send({ users, groups, memberships });
  }

  async function checkpoint(batch: Batch, sent: SendResult | null): Promise<void> {
    if (sent === null) {
      if (batch.membersHashes.length > 0 && !deps.dryRun) await store.checkpoint({ membersHashes: batch.membersHashes });
      return;
    }
    // An event above the size limit was not produced, so it is not stored either: the entry
    // stays as it was and is read and tried again on the next pass.
    const rejected = sent.rejected;
    for (const r of rejected) {
      deps.recordError({
        dn: r.dn,
        code: 'ENTRY_TOO_LARGE',
        message: `the ${r.kind} event is ${r.bytes} bytes, above the limit of ${r.limit} (kafka.maxEventBytes)`,
      });
    }
    const tooLarge = new Set(rejected.map((r) => `${r.kind}:${r.externalId}`));
    const users = tooLarge.size === 0 ? batch.users : batch.users.filter((c) => !tooLarge.has(`user:${c.externalId}`));
    const groups = tooLarge.size === 0 ? batch.groups : batch.groups.filter((c) => !tooLarge.has(`group:${c.externalId}`));
    const edges = batch.edges;
    if (!deps.dryRun) await store.checkpoint({ users, groups, edges, membersHashes: batch.membersHashes });
    for (const c of users) {
      if (c.op === 'created') counts.created++;
      else if (c.op === 'updated') counts.updated++;
      else if (c.op === 'renamed') counts.renamed++;
      else if (c.op === 'moved') counts.moved++;
      else if (c.op === 'disabled') counts.disabled++;
      else if (c.op === 'enabled') counts.enabled++;
    }
    for (const c of groups) {
      if (c.op === 'created') counts.groupsCreated++;
      else if (c.op === 'removed') counts.groupsRemoved++;
      else counts.groupsUpdated++;
    }
    for (const c of edges) {
      if (c.op === 'added') counts.membershipsAdded++;
      else counts.membershipsRemoved++;
    }
    for (const c of batch.users) changedAt.delete(c.externalId);
    for (const c of batch.groups) changedAt.delete(c.externalId);
  }

  return createOrderedDelivery({ produce, checkpoint, afterProduce: deps.afterProduce });
}
