import { Partitioners, type ICustomPartitioner } from 'kafkajs';

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, kafkajs' DefaultPartitioner) on 32-bit
 * integer arithmetic. kafkajs computes it with 64-bit `Long` objects, which cost more CPU than
 * encoding the record itself; the low 32 bits (all the hash keeps) are the same.
 */
export function murmur2(key: Buffer): number {
  const m = 0x5bd1e995;
  const length = key.length;
  let h = 0x9747b28c ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= key.readUInt8(length4 + 2) << 16;
  if (rest >= 2) h ^= key.readUInt8(length4 + 1) << 8;
  if (rest >= 1) {
    h ^= key.readUInt8(length4);
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The DefaultPartitioner's choice for keyed records (`(murmur2(key) & 0x7fffffff) % partitions`),
 * so every key keeps its partition; records without a key or with an explicit partition are left
 * to kafkajs' own partitioner.
 */
export const fastDefaultPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if ((message.partition === null || message.partition === undefined) && message.key !== null && message.key !== undefined) {
      const key = Buffer.isBuffer(message.key) ? message.key : Buffer.from(String(message.key));
      return (murmur2(key) & 0x7fffffff) % partitionMetadata.length;
    }
    return fallback(args);
  };
};
