import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EdgeChange } from '../src/core/types.ts';
import { type Batch, createOrderedDelivery } from '../src/delivery/ordered-delivery.ts';

function edge(n: number): EdgeChange {
  return { op: 'added', groupId: 'g', memberId: `m${n}`, memberType: 'user', version: n } as EdgeChange;
}

/** A step whose completion the test controls, recording when it started. */
function gate(log: string[], name: string) {
  const waiting = new Map<string, () => void>();
  return {
    step: (batch: Batch) => {
      const id = `${name}${batch.edges[0]?.version ?? 'h'}`;
      log.push(`${id} start`);
      const { promise, resolve } = Promise.withResolvers<void>();
      waiting.set(id, () => {
        log.push(`${id} done`);
        resolve();
      });
      return promise;
    },
    release: async (id: string) => {
      for (let i = 0; i < 50 && !waiting.has(id); i++) await new Promise((r) => setImmediate(r));
      const done = waiting.get(id);
      assert.ok(done, `${id} was started`);
      waiting.delete(id);
      done();
      await new Promise((r) => setImmediate(r));
    },
    started: (id: string) => waiting.has(id),
  };
}

describe('createOrderedDelivery', () => {
  it('produces batch N+1 while batch N is checkpointed, and checkpoints in order after their own acknowledgement', async () => {
    const log: string[] = [];
    const produce = gate(log, 'p');
    const checkpoint = gate(log, 'c');
    const delivery = createOrderedDelivery({ produce: produce.step, checkpoint: (b) => checkpoint.step(b) });
    await delivery.queue({ edges: [edge(1)] });
    const second = delivery.queue({ edges: [edge(2)] });
    await produce.release('p1');
    await second;
    // Batch 2 is handed over once batch 1 is acknowledged; batch 1's checkpoint runs meanwhile.
    assert.ok(checkpoint.started('c1'));
    assert.ok(produce.started('p2'));
    const third = delivery.queue({ edges: [edge(3)] });
    await produce.release('p2');
    // Batch 2 acknowledged, but batch 1 not stored yet: no checkpoint of 2 and no produce of 3.
    assert.equal(checkpoint.started('c2'), false);
    assert.equal(produce.started('p3'), false);
    await checkpoint.release('c1');
    await third;
    assert.ok(checkpoint.started('c2'));
    await produce.release('p3');
    await checkpoint.release('c2');
    await checkpoint.release('c3');
    await delivery.flush();
    const order = (id: string) => log.indexOf(id);
    assert.ok(order('p1 done') < order('c1 start'));
    assert.ok(order('c1 done') < order('c2 start'));
    assert.ok(order('c2 done') < order('c3 start'));
    assert.ok(order('p2 done') < order('c2 start'));
    assert.ok(order('c1 done') < order('p3 start'));
  });

  it('checkpoints a batch of member-list hashes only without producing, in order with the others', async () => {
    const log: string[] = [];
    const stored: string[] = [];
    const delivery = createOrderedDelivery<string>({
      produce: async (b) => {
        log.push(`produce ${b.edges.length}`);
        return 'acked';
      },
      checkpoint: async (b, produced) => {
        stored.push(`${b.edges.length} edges, ${b.membersHashes.length} hashes, ${produced ?? 'not produced'}`);
      },
    });
    await delivery.queue({ edges: [edge(1)] });
    await delivery.queue({ membersHashes: [{ groupId: 'g', hash: 'x' }] });
    await delivery.flush();
    assert.deepEqual(log, ['produce 1']);
    assert.deepEqual(stored, ['1 edges, 0 hashes, acked', '0 edges, 1 hashes, not produced']);
  });

  it('calls afterProduce with the produced batch number before that batch is checkpointed', async () => {
    const log: string[] = [];
    const delivery = createOrderedDelivery({
      produce: async () => undefined,
      checkpoint: async (b) => {
        log.push(`checkpoint ${b.edges[0]?.version ?? 'h'}`);
      },
      afterProduce: ({ batch }) => {
        log.push(`acked ${batch}`);
      },
    });
    await delivery.emit({ edges: [edge(1)] });
    await delivery.emit({ membersHashes: [{ groupId: 'g', hash: null }] });
    await delivery.emit({ edges: [edge(2)] });
    assert.deepEqual(log, ['acked 1', 'checkpoint 1', 'checkpoint h', 'acked 2', 'checkpoint 2']);
  });

  it('after a failed produce checkpoints nothing more and refuses further batches with the first failure', async () => {
    const stored: number[] = [];
    const failure = new Error('broker down');
    const delivery = createOrderedDelivery({
      produce: async (b) => {
        if (b.edges[0]?.version === 2) throw failure;
      },
      checkpoint: async (b) => {
        stored.push(b.edges[0]?.version ?? 0);
      },
    });
    await delivery.queue({ edges: [edge(1)] });
    await delivery.queue({ edges: [edge(2)] });
    await assert.rejects(delivery.queue({ edges: [edge(3)] }), failure);
    await assert.rejects(delivery.flush(), failure);
    await delivery.settle();
    assert.deepEqual(stored, [1]);
  });

  it('a failed checkpoint stops the later batches before their checkpoint', async () => {
    const stored: number[] = [];
    const failure = new Error('database down');
    const delivery = createOrderedDelivery({
      produce: async () => undefined,
      checkpoint: async (b) => {
        const n = b.edges[0]?.version ?? 0;
        if (n === 1) throw failure;
        stored.push(n);
      },
    });
    await delivery.queue({ edges: [edge(1)] });
    await delivery.queue({ edges: [edge(2)] }).catch(() => undefined);
    await assert.rejects(delivery.flush(), failure);
    assert.deepEqual(stored, []);
  });
});
