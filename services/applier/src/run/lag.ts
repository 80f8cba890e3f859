import { fetchTopicEnds } from '@dirstream/kafka';
import type { Admin } from 'kafkajs';
import type { ApplierMetrics } from '../metrics.ts';

export type PartitionLag = {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset, or null when it committed none on this partition. */
  readonly committed: string | null;
  readonly high: string;
  readonly lag: number;
};

/** Per topic/partition: the group's committed offset against the high watermark. */
export async function readLag(admin: Admin, groupId: string, topics: readonly string[], signal?: AbortSignal): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const result: PartitionLag[] = [];
  for (const topic of topics) {
    const marks = await fetchTopicEnds(admin, topic, signal);
    const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const mark of marks) {
      const done = BigInt(offsets.find((o) => o.partition === mark.partition)?.offset ?? '-1');
      const start = done >= 0n ? done : BigInt(mark.low);
      const lag = Number(BigInt(mark.high) - start);
      result.push({
        topic,
        partition: mark.partition,
        committed: done >= 0n ? String(done) : null,
        high: mark.high,
        lag: lag > 0 ? lag : 0,
      });
    }
  }
  return result;
}

/** Total lag of the group over the topics (committed offset vs high watermark); sets the gauge. */
export async function measureLag(admin: Admin, groupId: string, topics: readonly string[], metrics?: ApplierMetrics): Promise<number> {
  let total = 0;
  for (const p of await readLag(admin, groupId, topics)) {
    metrics?.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    total += p.lag;
  }
  return total;
}
