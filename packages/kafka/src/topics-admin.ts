/**
 * Topic creation with explicit configs. Auto-created topics get the broker defaults (delete
 * after 7 days), which would silently lose the entity state the compacted topics exist to keep,
 * so every dirstream topic is created here and checked when it already exists.
 */
import { DirstreamError, isRetriable, retry, toError } from '@dirstream/errors';
import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { TOPIC_KINDS, type TopicKind, topicNames } from '@dirstream/events';

export const TOPIC_MISCONFIGURED = 'EVENT_TOPIC_MISCONFIGURED';
export const TOPIC_SETUP_FAILED = 'EVENT_TOPIC_SETUP_FAILED';

const DAY_MS = 24 * 60 * 60 * 1000;
const TOPIC_RESOURCE = 2 as ConfigResourceTypes.TOPIC;

/**
 * users / groups: compacted, never tombstoned: the topic is the latest state of every entity.
 * min.compaction.lag.ms keeps every intermediate event for an hour (a consumer lagging less
 * sees each change, not just the last); segment.ms rolls segments daily because only closed
 * segments are compacted; max.compaction.lag.ms bounds how long a superseded record lingers.
 */
const COMPACTED: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(60 * 60 * 1000),
  'max.compaction.lag.ms': String(7 * DAY_MS),
  'segment.ms': String(DAY_MS),
  'min.cleanable.dirty.ratio': '0.1',
};

/**
 * The policy of each topic. Memberships delete edges with tombstones; delete.retention.ms is
 * how long a tombstone stays readable after compaction: a consumer offline for longer must
 * rebuild from offset 0 (it could miss a removal otherwise). user-lifecycle is a stream of
 * transitions, not state: compaction would drop a user-disabled that a lagging consumer has not
 * read yet once the user-enabled after it arrives, so it is delete with a long retention.
 */
export const TOPIC_CONFIGS: { readonly [K in TopicKind]: Readonly<Record<string, string>> } = {
  users: COMPACTED,
  groups: COMPACTED,
  memberships: { ...COMPACTED, 'delete.retention.ms': String(7 * DAY_MS) },
  syncRuns: { 'cleanup.policy': 'delete', 'retention.ms': String(90 * DAY_MS) },
  userLifecycle: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  deadLetters: { 'cleanup.policy': 'delete', 'retention.ms': String(90 * DAY_MS) },
  // Sign-in attempts are an audit stream, not state: kept 30 days, like user-lifecycle.
  authEvents: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  // Every entry error and halt report of a run: a log like sync-runs, kept as long.
  runDetails: { 'cleanup.policy': 'delete', 'retention.ms': String(90 * DAY_MS) },
};

/**
 * A topic's partition offsets (low / high watermarks). Retried while leadership settles: a broker
 * that just started, or a leader change, answers NOT_LEADER_FOR_PARTITION for a moment, and
 * kafkajs' admin does not retry that itself.
 */
export function fetchTopicEnds(admin: Admin, topic: string, signal?: AbortSignal): ReturnType<Admin['fetchTopicOffsets']> {
  return retry(() => admin.fetchTopicOffsets(topic), { attempts: 8, baseMs: 100, maxMs: 2_000, ...(signal ? { signal } : {}) });
}

export type EnsureTopicsOptions = {
  readonly prefix?: string;
  /** Partitions of each new topic (existing topics are left as they are). */
  readonly partitions: number;
  /** Replicas of each new topic; default -1 = the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  /**
   * min.insync.replicas of each new topic (kafka.minInsyncReplicas); default 2 when
   * replicationFactor ≥ 3 (one broker down keeps writing, an acknowledged event is on two), else
   * the broker's default.
   */
  readonly minInsyncReplicas?: number;
};

export type EnsureTopicsResult = {
  readonly created: readonly string[];
  readonly existing: readonly string[];
};

function setupFailed(message: string, cause: unknown): DirstreamError {
  // A broker that is down or electing a controller can succeed later.
  return new DirstreamError(TOPIC_SETUP_FAILED, message, { retriable: true, cause: toError(cause) });
}

async function checkPolicies(admin: Admin, topics: ReadonlyMap<string, TopicKind>): Promise<void> {
  // A KRaft broker learns of a topic a moment after the controller created it: until then it
  // answers UNKNOWN_TOPIC_OR_PARTITION (retriable), so retriable errors are retried for 30 s.
  const deadline = Date.now() + 30_000;
  const described = await retry(
    () =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: [...topics.keys()].map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['cleanup.policy'] })),
      }),
    { baseMs: 250, maxMs: 250, shouldRetry: (err) => isRetriable(err) && Date.now() <= deadline },
  ).catch((error: unknown) => {
    throw setupFailed('cannot describe the dirstream topics', error);
  });
  for (const resource of described.resources) {
    const kind = topics.get(resource.resourceName);
    if (kind === undefined) continue;
    const expected = TOPIC_CONFIGS[kind]['cleanup.policy'];
    const actual = resource.configEntries.find((entry) => entry.configName === 'cleanup.policy')?.configValue;
    if (actual !== expected) {
      throw new DirstreamError(
        TOPIC_MISCONFIGURED,
        `topic ${resource.resourceName} exists with cleanup.policy=${actual ?? '(unknown)'}, dirstream needs ${expected}: fix it with kafka-configs.sh or delete the topic`,
        { retriable: false, details: { topic: resource.resourceName, expected, actual } },
      );
    }
  }
}

/** Until every partition of `topics` has a leader that says so; 30 s at most. */
async function waitForLeaders(admin: Admin, topics: readonly string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await retry(
    async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      if (!metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        throw new DirstreamError(TOPIC_SETUP_FAILED, 'a partition has no leader yet', { retriable: true });
      }
    },
    { baseMs: 250, maxMs: 250, shouldRetry: () => Date.now() <= deadline },
  ).catch((error: unknown) => {
    throw setupFailed(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`, error);
  });
}

/**
 * Creates the topics of a prefix that do not exist yet, with their configs, and checks the
 * cleanup.policy of those that do. Safe to call on every start and concurrently.
 * Throws EVENT_TOPIC_MISCONFIGURED (not retriable) or EVENT_TOPIC_SETUP_FAILED (retriable).
 */
export async function ensureTopics(admin: Admin, options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const { partitions, replicationFactor = -1 } = options;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new DirstreamError(TOPIC_SETUP_FAILED, `partitions must be a positive integer, got ${partitions}`);
  }
  const minInsyncReplicas = options.minInsyncReplicas ?? (replicationFactor >= 3 ? 2 : undefined);
  if (minInsyncReplicas !== undefined && replicationFactor > 0 && minInsyncReplicas > replicationFactor) {
    throw new DirstreamError(
      TOPIC_SETUP_FAILED,
      `min.insync.replicas ${minInsyncReplicas} exceeds the replication factor ${replicationFactor}`,
    );
  }
  const replication: Record<string, string> = minInsyncReplicas === undefined ? {} : { 'min.insync.replicas': String(minInsyncReplicas) };
  const names = topicNames(options.prefix);
  const wanted = new Map<string, TopicKind>(TOPIC_KINDS.map((kind) => [names[kind], kind]));

  let present: Set<string>;
  try {
    present = new Set(await admin.listTopics());
  } catch (error) {
    throw setupFailed('cannot list topics', error);
  }
  const missing = [...wanted].filter(([name]) => !present.has(name));
  if (missing.length > 0) {
    try {
      // Resolves false when another process created them first: fine, they are checked below.
      // Leaders are awaited below: kafkajs' own wait gives up when the broker it asks has not
      // learnt of the new topic yet (UNKNOWN_TOPIC_OR_PARTITION), routine on a KRaft cluster.
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map(([topic, kind]) => ({
          topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: Object.entries({ ...TOPIC_CONFIGS[kind], ...replication }).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (error) {
      throw setupFailed(`cannot create topics ${missing.map(([name]) => name).join(', ')}`, error);
    }
    await waitForLeaders(
      admin,
      missing.map(([name]) => name),
    );
  }
  await checkPolicies(admin, wanted);
  return {
    created: missing.map(([name]) => name),
    existing: [...wanted.keys()].filter((name) => present.has(name)),
  };
}
