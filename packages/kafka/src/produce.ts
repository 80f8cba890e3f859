/**
 * Producing so that a resolved send means every record was acknowledged.
 *
 * kafkajs 2.2.4 can resolve a send without producing some of its partitions: a send keeps one
 * response per broker (producer/sendMessages.js), and when the request to one broker fails and the
 * metadata refresh moves that broker's partitions to a broker that already answered for this send,
 * the retry skips that broker. The moved partitions' records are never written and the promise
 * resolves anyway. Seen on a three-node cluster when a partition leader is killed with -9 mid-send
 * (test/faults/cluster.long.test.ts): users missing from the topic, the poller's checkpoint past
 * them. The guard: remember the partition the partitioner chose for each message, compare with the
 * partitions the brokers acknowledged, and send the others again.
 */
import { DirstreamError, isDirstreamError, retry } from '@dirstream/errors';
import type {
  ConsumerConfig,
  Consumer,
  ICustomPartitioner,
  Kafka,
  Message,
  Producer,
  ProducerConfig,
  ProducerRecord,
  RecordMetadata,
} from 'kafkajs';
import { fastDefaultPartitioner } from './partitioner.ts';

export const PRODUCE_INCOMPLETE = 'EVENT_PRODUCE_INCOMPLETE';

/**
 * kafkajs retry settings for dirstream's clients. kafkajs doubles the wait between retries up to
 * 30 s by default, so a partition that got its new leader 20 s after a broker died was tried
 * again only ~40 s later: a delta pass spanning two broker kills took 63 s where 2 s is usual
 * (test/faults/cluster.long.test.ts). Capping the wait at 3 s keeps retrying often; the total
 * budget (~55 s) stays that of 8 uncapped retries.
 */
export const KAFKA_RETRY = { initialRetryTime: 300, maxRetryTime: 3_000, retries: 20 } as const;

export type PartitionTracker = {
  /** Give this to `kafka.producer({ createPartitioner })`: it wraps `base`. */
  readonly createPartitioner: ICustomPartitioner;
  /** The partition `message` was last assigned (its explicit `partition`, else the partitioner's choice). */
  partitionOf(message: Message): number | undefined;
};

export function trackPartitions(base: ICustomPartitioner = fastDefaultPartitioner): PartitionTracker {
  const chosen = new WeakMap<Message, number>();
  return {
    createPartitioner: () => {
      const partitioner = base();
      return (args) => {
        const partition = partitioner(args);
        chosen.set(args.message, partition);
        return partition;
      };
    },
    partitionOf: (message) => message.partition ?? chosen.get(message),
  };
}

/** A producer whose partitioner remembers each message's partition, for sendAcknowledged. */
export type TrackedProducer = Producer & { readonly tracker: PartitionTracker };

/** `kafka.producer(config)` with `config.createPartitioner` (default: Kafka's murmur2, fastDefaultPartitioner) tracked. */
export function createTrackedProducer(kafka: Kafka, config: ProducerConfig = {}): TrackedProducer {
  const tracker = trackPartitions(config.createPartitioner ?? fastDefaultPartitioner);
  return Object.assign(kafka.producer({ ...config, createPartitioner: tracker.createPartitioner }), { tracker });
}

/**
 * The producer every dirstream service uses: idempotent (no duplicates from retries, per-partition
 * order kept, so acks = all; sendAcknowledged sends with acks -1), never creating topics (they are
 * created with their policies by ensureTopics), keys partitioned by Kafka's murmur2 as the Java
 * client does, each message's partition tracked for sendAcknowledged.
 */
export function createIdempotentProducer(
  kafka: Kafka,
  config: Omit<ProducerConfig, 'idempotent' | 'createPartitioner'> = {},
): TrackedProducer {
  return createTrackedProducer(kafka, { allowAutoTopicCreation: false, ...config, idempotent: true, maxInFlightRequests: 1 });
}

/** A consumer that never creates a topic by subscribing to it (they are created by ensureTopics). */
export function createConsumer(kafka: Kafka, config: ConsumerConfig): Consumer {
  return kafka.consumer({ allowAutoTopicCreation: false, ...config });
}

/** The messages of `topic` whose partition has no error-free acknowledgement in `acknowledged`. */
export function unacknowledged(
  topic: string,
  messages: readonly Message[],
  acknowledged: readonly RecordMetadata[],
  partitionOf: (message: Message) => number | undefined,
): Message[] {
  const done = new Set<number>();
  for (const r of acknowledged) if (r.topicName === topic && r.errorCode === 0) done.add(r.partition);
  return messages.filter((m) => {
    const partition = partitionOf(m);
    return partition === undefined || !done.has(partition);
  });
}

/**
 * `producer.send(record)`, then the messages of partitions nobody acknowledged again, up to `attempts` sends in all. Throws a
 * retriable EVENT_PRODUCE_INCOMPLETE when some are still unacknowledged. A message sent twice is
 * a duplicate record, never a loss: consumers deduplicate by event ID and version.
 */
export async function sendAcknowledged(
  producer: TrackedProducer,
  record: ProducerRecord,
  options: { attempts?: number } = {},
): Promise<void> {
  let messages = record.messages;
  // A failed send is kafkajs' to retry (its own backoff); this resends at once what it lost.
  await retry(
    async (attempt) => {
      const acknowledged = await producer.send({ ...record, messages });
      messages = unacknowledged(record.topic, messages, acknowledged, producer.tracker.partitionOf);
      if (messages.length === 0) return;
      throw new DirstreamError(
        PRODUCE_INCOMPLETE,
        `${messages.length} of ${record.messages.length} records to ${record.topic} were not acknowledged after ${attempt} sends`,
        { retriable: true, details: { topic: record.topic, missing: messages.length } },
      );
    },
    { attempts: options.attempts ?? 5, baseMs: 0, shouldRetry: (err) => isDirstreamError(err, PRODUCE_INCOMPLETE) },
  );
}
