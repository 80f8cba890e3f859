/**
 * The guard against sends that kafkajs resolves with partitions left out (src/produce.ts). The
 * loss itself needs a partition leader killed mid-send on a multi-broker cluster:
 * test/faults/cluster.long.test.ts shows it end to end. Here: which messages count as not
 * acknowledged, and that the tracking partitioner records kafkajs' own choice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Message, Partitioners, type PartitionMetadata, type RecordMetadata } from 'kafkajs';
import { trackPartitions, unacknowledged } from '../src/produce.ts';

const ack = (topicName: string, partition: number, errorCode = 0): RecordMetadata => ({ topicName, partition, errorCode, baseOffset: '0' });

test('messages of partitions without an error-free acknowledgement of their topic are unacknowledged', () => {
  const messages: Message[] = [0, 1, 2, 0, 2].map((partition, i) => ({ key: `k${i}`, value: `v${i}`, partition }));
  const partitionOf = (m: Message) => m.partition;
  assert.deepEqual(unacknowledged('users', messages, [ack('users', 0), ack('users', 1), ack('users', 2)], partitionOf), []);
  // The kafkajs case: partition 2 moved to a broker that had already answered, and was skipped.
  assert.deepEqual(
    unacknowledged('users', messages, [ack('users', 0), ack('users', 1)], partitionOf).map((m) => m.key),
    ['k2', 'k4'],
  );
  assert.deepEqual(unacknowledged('users', messages, [ack('users', 0), ack('users', 1), ack('users', 2, 6)], partitionOf).length, 2);
  assert.deepEqual(unacknowledged('users', messages, [ack('groups', 0), ack('groups', 1), ack('groups', 2)], partitionOf).length, 5);
  // A message whose partition nobody chose was never sent.
  assert.deepEqual(unacknowledged('users', [{ key: 'x', value: 'y' }], [ack('users', 0)], () => undefined).length, 1);
});

test('the tracking partitioner returns and remembers the partition of the partitioner it wraps', () => {
  const tracker = trackPartitions(Partitioners.DefaultPartitioner);
  const plain = Partitioners.DefaultPartitioner();
  const tracked = tracker.createPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: 12 }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const message: Message = { key: `profile/${i}`, value: 'v' };
    const expected = plain({ topic: 't', partitionMetadata, message });
    assert.equal(tracked({ topic: 't', partitionMetadata, message }), expected);
    assert.equal(tracker.partitionOf(message), expected);
    seen.add(expected);
  }
  assert.ok(seen.size > 6, 'keys spread over the partitions');
  assert.equal(tracker.partitionOf({ key: 'never sent', value: 'v' }), undefined);
  assert.equal(tracker.partitionOf({ key: 'explicit', value: 'v', partition: 7 }), 7);
});
