import type { EdgeChange, GroupChange, UserChange } from '../core/types.ts';

/** A group's member-list hash, stored once every edge of the group's reading is stored. */
export type MembersHash = { readonly groupId: string; readonly hash: string | null };

/** What one produce-then-checkpoint step carries. */
export type Batch = {
  readonly users: readonly UserChange[];
  readonly groups: readonly GroupChange[];
  readonly edges: readonly EdgeChange[];
  readonly membersHashes: readonly MembersHash[];
};

export type DeliverySteps<P> = {
  /** Sends the batch's events; resolves once Kafka acknowledged them. Not called for a batch without changes. */
  readonly produce: (batch: Batch) => Promise<P>;
  /** Stores what was acknowledged (`produced` is null for a batch of member-list hashes only). */
  readonly checkpoint: (batch: Batch, produced: P | null) => Promise<void>;
  /** Called after Kafka acknowledged a batch and before its checkpoint (crash tests). */
  readonly afterProduce?: (info: { readonly batch: number }) => void | Promise<void>;
};

export type OrderedDelivery = {
  /**
   * Hands a batch over and returns once the previous batch is acknowledged and stored up to the
   * one before it: one batch producing and one checkpointing, never a backlog.
   */
  readonly queue: (batch: Partial<Batch>) => Promise<void>;
  /** Resolves once every queued batch is stored; rejects with the first failure. */
  readonly flush: () => Promise<void>;
  /** Queues a batch and waits until it is stored. */
  readonly emit: (batch: Partial<Batch>) => Promise<void>;
  /** Waits for whatever is in flight, ignoring its failure (before a failed run's summary). */
  readonly settle: () => Promise<void>;
};

function complete(batch: Partial<Batch>): Batch {
  return { users: batch.users ?? [], groups: batch.groups ?? [], edges: batch.edges ?? [], membersHashes: batch.membersHashes ?? [] };
}

/**
 * Produce, then checkpoint (DESIGN invariant 3), with batch N checkpointed while batch N+1 is
 * produced: produces and checkpoints each stay in order, a checkpoint follows its own
 * acknowledgement, and a produce starts only after the checkpoint of the batch before the previous
 * one (a crash right after an acknowledgement leaves only that batch acknowledged and not stored).
 */
export function createOrderedDelivery<P>(steps: DeliverySteps<P>): OrderedDelivery {
  let stored: Promise<void> = Promise.resolve();
  let producing: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  let produced = 0;

  async function deliver(batch: Batch, previous: Promise<void>, acked: () => void): Promise<void> {
    const empty = batch.users.length === 0 && batch.groups.length === 0 && batch.edges.length === 0;
    if (empty) {
      acked();
      await previous;
      await steps.checkpoint(batch, null);
      return;
    }
    const result = await steps.produce(batch);
    await previous;
    produced++;
    await steps.afterProduce?.({ batch: produced });
    acked();
    await steps.checkpoint(batch, result);
  }

  async function queue(batch: Partial<Batch>): Promise<void> {
    await producing;
    if (failure !== null) throw failure;
    const { promise, resolve } = Promise.withResolvers<void>();
    producing = promise;
    stored = deliver(complete(batch), stored, resolve);
    stored.catch((cause: unknown) => {
      failure ??= cause;
      resolve();
    });
  }

  async function flush(): Promise<void> {
    await stored;
  }

  return {
    queue,
    flush,
    async emit(batch) {
      await queue(batch);
      await flush();
    },
    async settle() {
      await stored.catch(() => undefined);
    },
  };
}
