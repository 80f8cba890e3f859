export {
  type CreateKafkaOptions,
  connectAdmin,
  createKafkaClient,
  type KafkaClientSettings,
  kafkaClientConfig,
  tlsOptions,
} from './client.ts';
export { kafkaLogCreator } from './logs.ts';
export { fastDefaultPartitioner, murmur2 } from './partitioner.ts';
export {
  createConsumer,
  createIdempotentProducer,
  createTrackedProducer,
  KAFKA_RETRY,
  PRODUCE_INCOMPLETE,
  type PartitionTracker,
  sendAcknowledged,
  type TrackedProducer,
  trackPartitions,
  unacknowledged,
} from './produce.ts';
export {
  type EnsureTopicsOptions,
  type EnsureTopicsResult,
  ensureTopics,
  fetchTopicEnds,
  TOPIC_CONFIGS,
  TOPIC_MISCONFIGURED,
  TOPIC_SETUP_FAILED,
} from './topics-admin.ts';
