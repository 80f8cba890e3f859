import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { fastDefaultPartitioner } from '../src/partitioner.ts';

function metadata(n: number): PartitionMetadata[] {
  return Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
}

describe('fastDefaultPartitioner', () => {
  it('chooses the partition kafkajs DefaultPartitioner chooses for every key', () => {
    const ours = fastDefaultPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', 'héllo wörld ✓', 'p1:u:0001/g:42'];
    for (let i = 0; i < 2_000; i++) keys.push(randomBytes(i % 70), randomBytes(i % 40).toString('base64url'));
    for (const partitions of [1, 6, 7, 32]) {
      const partitionMetadata = metadata(partitions);
      for (const key of keys) {
        const args = { topic: 't', partitionMetadata, message: { key, value: null } };
        assert.equal(ours(args), theirs(args), `key ${String(key)} over ${partitions} partitions`);
      }
    }
  });

  it('keeps an explicit partition', () => {
    const args = { topic: 't', partitionMetadata: metadata(6), message: { key: 'k', value: null, partition: 4 } };
    assert.equal(fastDefaultPartitioner()(args), 4);
  });
});
