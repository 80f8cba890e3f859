import type { DirstreamConfig } from '@dirstream/config';
import { createError, DirstreamError, errorCode, toError } from '@dirstream/errors';
import type {
  DeadLetterEvent,
  GroupEvent,
  MembershipEvent,
  RecordType,
  RunDetailEvent,
  SyncRunEvent,
  UserEvent,
} from '@dirstream/events';
import { createCodec, createTrackedProducer, ensureTopics, topicNames } from '@dirstream/events';
import type { Logger } from '@dirstream/logging';
import { startMetricsServer } from '@dirstream/metrics';
import type { Admin, EachBatchPayload, KafkaMessage } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { type ApplyInput, applyBatch } from './apply.ts';
import { backoffMs, failureCode, isDataError, sleep } from './classify.ts';
import { closeDatabase, type Database, migrate, openDatabase, query, withTransaction } from './database.ts';
import { createKafkaClient } from './kafka.ts';
import { createApplierMetrics, type ApplierMetrics } from './metrics.ts';
import { startOutboxRelay } from './outbox.ts';
import {
  type Invalid,
  type PlanContext,
  type ProfilePolicy,
  validateGroupEvent,
  validateMembershipEvent,
  validateRunDetail,
  validateSyncRun,
  validateUserEvent,
} from './plan.ts';

export type RunApplierDeps = {
  readonly config: DirstreamConfig;
  readonly logger: Logger;
  readonly signal: AbortSignal;
};

export type RunApplierOptions = {
  /** Consume from the beginning into an empty database under a new group; announce nothing. */
  readonly replay?: boolean;
  /** Return ok once the group's lag is zero on every partition (and the outbox is drained). */
  readonly untilCaughtUp?: boolean;
  readonly groupId?: string;
};

export type RunApplierResult = { readonly ok: boolean; readonly reason?: string };

/** One decoded input record, kept with its Kafka coordinates for dead-lettering. */
type Item =
  | { kind: 'user'; event: UserEvent; message: KafkaMessage }
  | { kind: 'group'; event: GroupEvent; message: KafkaMessage }
  | { kind: 'membership'; event: MembershipEvent; message: KafkaMessage }
  | { kind: 'sync-run'; event: SyncRunEvent; message: KafkaMessage }
  | { kind: 'run-detail'; event: RunDetailEvent; message: KafkaMessage };

const LAG_INTERVAL_MS = 2_000;
const CAUGHT_UP_INTERVAL_MS = 750;

function toInput(items: readonly Item[]): ApplyInput {
  const input = {
    users: [] as UserEvent[],
    groups: [] as GroupEvent[],
    memberships: [] as MembershipEvent[],
    syncRuns: [] as SyncRunEvent[],
    runDetails: [] as RunDetailEvent[],
  };
  for (const item of items) {
    if (item.kind === 'user') input.users.push(item.event);
    else if (item.kind === 'group') input.groups.push(item.event);
    else if (item.kind === 'membership') input.memberships.push(item.event);
    else if (item.kind === 'run-detail') input.runDetails.push(item.event);
    else input.syncRuns.push(item.event);
  }
  return input;
}

function* chunks<T>(values: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < values.length; i += size) yield values.slice(i, i + size);
}

/** A configured group name that several present groups carry: it grants nothing until one remains. */
export type AmbiguousRoleGroup = { readonly profileId: string; readonly groupName: string; readonly groups: number };

/**
 * Profiles and the group → role mapping from the configuration, written at start; each configured
 * name is (re)bound to the identity of the one group carrying it (migration 20261126120000).
 * Returns the names that match several groups.
 */
export async function syncConfiguration(db: Database, config: DirstreamConfig): Promise<AmbiguousRoleGroup[]> {
  return withTransaction(db, async (sql) => {
    await sql('select pg_advisory_xact_lock(7340002)');
    for (const profile of config.profiles) {
      await sql(
        `insert into sync_profiles (id, name, directory_type, conflict_policy, updated_at) values (?, ?, ?, ?, now())
         on conflict (id) do update set name = excluded.name, directory_type = excluded.directory_type,
           conflict_policy = excluded.conflict_policy, updated_at = now()`,
        [profile.id, profile.name, profile.directory, profile.policies.conflictPolicy],
      );
      const mapping = Object.entries(profile.policies.groupRoles).flatMap(([group, roles]) =>
        roles.map((role) => ({ group_name: group, role })),
      );
      await sql(
        `insert into app_roles (name) select distinct r.role from jsonb_to_recordset(?::jsonb) as r(group_name text, role text)
         on conflict do nothing`,
        [JSON.stringify(mapping)],
      );
      await sql('delete from group_roles where profile_id = ?', [profile.id]);
      await sql(
        `insert into group_roles (profile_id, group_name, role)
         select distinct ?::uuid, r.group_name, r.role from jsonb_to_recordset(?::jsonb) as r(group_name text, role text)`,
        [profile.id, JSON.stringify(mapping)],
      );
      await sql('select bind_group_roles(?::uuid)', [profile.id]);
    }
    // Several present groups carry the name and the binding (if any) is one of them: ambiguous.
    const ambiguous = await sql<{ profile_id: string; group_name: string; groups: string }>(
      `select r.profile_id, r.group_name, count(distinct g.external_id) as groups
         from (select distinct profile_id, group_name from group_roles) r
         join groups g on g.profile_id = r.profile_id and g.present and lower(g.name) = lower(r.group_name)
         left join group_role_bindings b on b.profile_id = r.profile_id and b.group_name = r.group_name
        group by r.profile_id, r.group_name, b.group_id
       having count(distinct g.external_id) > 1 and (b.group_id is null or bool_or(g.external_id = b.group_id))`,
    );
    return ambiguous.map((r) => ({ profileId: r.profile_id, groupName: r.group_name, groups: Number(r.groups) }));
  });
}

async function isDatabaseEmpty(db: Database): Promise<boolean> {
  const rows = await query<{ used: boolean }>(
    db,
    `select (exists (select 1 from users where profile_id is not null) or exists (select 1 from groups)
             or exists (select 1 from memberships) or exists (select 1 from outbox)) as used`,
  );
  return rows[0]?.used === false;
}

/**
 * Consumes the entity topics into PostgreSQL until the signal aborts (or, with untilCaughtUp,
 * until the group has no lag). Each partition batch is applied in one transaction and its offset
 * committed only after that transaction commits.
 */
export async function runApplier(deps: RunApplierDeps, options: RunApplierOptions = {}): Promise<RunApplierResult> {
  const { config, signal } = deps;
  const topics = topicNames(config.kafka.topicPrefix);
  const recordTypes = new Map<string, RecordType>([
    [topics.users, 'user-event'],
    [topics.groups, 'group-event'],
    [topics.memberships, 'membership-event'],
    [topics.syncRuns, 'sync-run'],
    [topics.runDetails, 'run-detail'],
  ]);
  const inputTopics = [...recordTypes.keys()];
  const groupId =
    options.groupId ?? (options.replay ? `${config.applier.groupId}.replay.${Date.now()}` : config.applier.groupId);
  const log = deps.logger.child({ component: 'applier', groupId });
  const codec = createCodec();
  const metrics = createApplierMetrics();
  const profiles = new Map<string, ProfilePolicy>(
    config.profiles.map((p) => [p.id, { conflictPolicy: p.policies.conflictPolicy }]),
  );
  const planContext = (): PlanContext => ({ profiles, announce: options.replay !== true, now: Date.now() });
  // Aborts on the caller's signal or when we decide to stop (caught up, fatal error).
  const stopping = new AbortController();
  const onAbort = () => stopping.abort();
  signal.addEventListener('abort', onAbort, { once: true });

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn({ err: toError(err) }, 'applier shutdown step failed');
      }
    }
  };

  try {
    if (signal.aborted) return { ok: true, reason: 'stopped before start' };
    /** Start-up steps wait out an outage (database or broker down) like the apply loop does. */
    const patiently = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn();
        } catch (caught) {
          const err = toError(caught);
          const retry = err instanceof DirstreamError ? err.retriable : !isDataError(err);
          if (!retry || stopping.signal.aborted) throw err;
          log.warn({ err, step, attempt }, 'applier start-up step failed; retrying');
          await sleep(backoffMs(attempt, 500, 10_000), stopping.signal);
        }
      }
    };
    await patiently('migrate', () => migrate({ config, logger: log }));
    const db = await openDatabase(config);
    cleanups.push(() => closeDatabase(db));

    if (options.replay === true && !(await patiently('replay check', () => isDatabaseEmpty(db)))) {
      return { ok: false, reason: 'replay needs an empty database (directory users, groups, memberships or outbox rows exist)' };
    }
    const ambiguous = await patiently('configuration', () => syncConfiguration(db, config));
    for (const a of ambiguous) {
      log.warn(
        { profileId: a.profileId, group: a.groupName, groups: a.groups },
        `policies.groupRoles: the group name ${a.groupName} names ${a.groups} groups; it grants nothing until one group carries that name (rename or remove the others)`,
      );
    }

    const kafka = createKafkaClient(config.kafka, log);
    const admin: Admin = kafka.admin();
    await patiently('kafka admin', () => admin.connect());
    cleanups.push(() => admin.disconnect());
    await patiently('topics', () =>
      ensureTopics(admin, {
        prefix: config.kafka.topicPrefix,
        partitions: config.kafka.partitions,
        replicationFactor: config.kafka.replicationFactor,
      }),
    );

    // Explicitly the Java-compatible murmur2 partitioner (kafkajs' default since 2.0, named to
    // silence its start-up warning): the same key lands where other clients put it. Tracked: the
    // outbox relay checks that every partition of a send was acknowledged (sendAcknowledged).
    const producer = createTrackedProducer(kafka, { idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await patiently('kafka producer', () => producer.connect());
    cleanups.push(() => producer.disconnect());

    let joined = false;
    let databaseHealthy = true;
    const server = await startMetricsServer({
      registry: metrics.registry,
      host: config.applier.metricsHost,
      port: config.applier.metricsPort,
      readiness: () => joined && databaseHealthy,
    });
    cleanups.push(() => server.close());
    log.info({ metricsHost: server.host, metricsPort: server.port, replay: options.replay === true }, 'applier starting');

    const relay = startOutboxRelay({
      db,
      producer,
      encode: (event) => codec.encode('user-lifecycle', event),
      topic: topics.userLifecycle,
      logger: log.child({ component: 'outbox-relay' }),
      metrics,
    });
    cleanups.push(() => relay.stop());

    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 30_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 500,
      // Bounds what one fetch holds in memory (records are decoded and applied chunk by chunk).
      maxBytes: 4 * 1024 * 1024,
      maxBytesPerPartition: 512 * 1024,
      retry: { initialRetryTime: 300, retries: 10 },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      joined = true;
      log.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
    });

    let finish: (result: RunApplierResult) => void = () => undefined;
    const finished = new Promise<RunApplierResult>((resolve) => {
      finish = resolve;
    });
    stopping.signal.addEventListener('abort', () => finish({ ok: true }), { once: true });
    consumer.on(consumer.events.CRASH, (e) => {
      const restart = e.payload.restart;
      log.error({ err: e.payload.error, restart }, 'consumer crashed');
      if (!restart) finish({ ok: false, reason: `consumer crashed: ${e.payload.error.message}` });
    });

    let seatLimitExceeded = false;
    const checkSeats = async () => {
      if (config.applier.seatLimit === 0) return;
      const rows = await query<{ n: string }>(db, 'select count(*) as n from users where enabled and profile_id is not null');
      const used = Number(rows[0]?.n ?? 0);
      metrics.seatsUsed.set(used);
      const exceeded = used > config.applier.seatLimit;
      metrics.seatLimitExceeded.set(exceeded ? 1 : 0);
      if (exceeded && !seatLimitExceeded) {
        log.warn({ seatsUsed: used, seatLimit: config.applier.seatLimit }, 'seat limit exceeded');
      }
      seatLimitExceeded = exceeded;
    };

    const deadLetter = async (
      topic: string,
      partition: number,
      message: KafkaMessage,
      code: string,
      reason: string,
      attempts: number,
    ) => {
      const event: DeadLetterEvent = {
        sourceTopic: topic,
        partition,
        offset: message.offset,
        key: message.key ?? null,
        value: message.value ?? null,
        code,
        reason,
        attempts,
        failedAt: Date.now(),
        consumerGroup: groupId,
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await producer.send({
            topic: topics.deadLetters,
            acks: -1,
            messages: [{ key: message.key ?? null, value: codec.encode('dead-letter', event) }],
          });
          break;
        } catch (err) {
          if (stopping.signal.aborted) throw err;
          log.warn({ err: toError(err), attempt }, 'dead-letter produce failed; retrying');
          await sleep(backoffMs(attempt), stopping.signal);
        }
      }
      metrics.deadLetters.inc({ code });
      log.warn({ topic, partition, offset: message.offset, code, reason, attempts }, 'record dead-lettered');
    };

    const applyItems = async (items: readonly Item[]) => {
      const result = await withTransaction(db, (sql) => applyBatch(sql, toInput(items), planContext()));
      databaseHealthy = true;
      if (result.announced > 0) relay.kick();
      if (result.usersWritten > 0) await checkSeats();
      return result;
    };

    const safeHeartbeat = async (heartbeat: () => Promise<void>) => {
      try {
        await heartbeat();
      } catch (err) {
        log.debug({ err: toError(err) }, 'heartbeat failed during retry');
      }
    };

    /**
     * Applies the items in one transaction. An outage (anything that is not the data's fault)
     * is retried with backoff for as long as it lasts. A data error is retried applyRetries
     * times, then the batch is split record by record so only the guilty record is
     * dead-lettered.
     */
    const applyWithRetries = async (
      topic: string,
      partition: number,
      items: readonly Item[],
      heartbeat: () => Promise<void>,
      isRunning: () => boolean,
    ): Promise<void> => {
      let dataFailures = 0;
      for (let attempt = 0; ; attempt++) {
        try {
          await applyItems(items);
          return;
        } catch (caught) {
          const err = toError(caught);
          if (isDataError(err)) {
            dataFailures++;
            metrics.retries.inc({ kind: 'data' });
            if (dataFailures > config.applier.applyRetries) {
              const [only] = items;
              if (items.length === 1 && only !== undefined) {
                await deadLetter(topic, partition, only.message, failureCode(err), err.message, dataFailures);
                return;
              }
              log.warn({ err, topic, partition, records: items.length }, 'batch keeps failing; applying record by record');
              for (const item of items) await applyWithRetries(topic, partition, [item], heartbeat, isRunning);
              return;
            }
            log.warn({ err, topic, partition, attempt: dataFailures }, 'apply failed on data; retrying');
          } else {
            databaseHealthy = false;
            metrics.retries.inc({ kind: 'outage' });
            log.warn({ err, code: failureCode(err), topic, partition, attempt }, 'apply failed (outage); retrying');
          }
          if (stopping.signal.aborted || !isRunning()) {
            throw createError('APPLIER_STOPPING', 'stopping while the apply was failing', { retriable: true, cause: err });
          }
          // Sleep in slices and keep heartbeating, so a long outage does not cost the assignment.
          const until = Date.now() + backoffMs(attempt, 200, 5_000);
          while (Date.now() < until && !stopping.signal.aborted) {
            await sleep(Math.min(1_000, until - Date.now()), stopping.signal);
            await safeHeartbeat(heartbeat);
          }
        }
      }
    };

    const decode = async (topic: string, partition: number, message: KafkaMessage): Promise<Item | null> => {
      const type = recordTypes.get(topic);
      const key = message.key === null ? null : message.key.toString('utf8');
      if (message.value === null) {
        if (type === 'membership-event') return null; // the `removed` event before it did the work
        await deadLetter(topic, partition, message, 'APPLY_UNEXPECTED_TOMBSTONE', 'a tombstone on an entity topic', 1);
        return null;
      }
      let item: Item;
      let invalid: Invalid | null;
      const ctx = planContext();
      try {
        if (type === 'user-event') {
          const event = codec.decode('user-event', message.value) as UserEvent;
          item = { kind: 'user', event, message };
          invalid = validateUserEvent(event, key, ctx);
        } else if (type === 'group-event') {
          const event = codec.decode('group-event', message.value) as GroupEvent;
          item = { kind: 'group', event, message };
          invalid = validateGroupEvent(event, key, ctx);
        } else if (type === 'membership-event') {
          const event = codec.decode('membership-event', message.value) as MembershipEvent;
          item = { kind: 'membership', event, message };
          invalid = validateMembershipEvent(event, key, ctx);
        } else if (type === 'run-detail') {
          const event = codec.decode('run-detail', message.value) as RunDetailEvent;
          item = { kind: 'run-detail', event, message };
          invalid = validateRunDetail(event, ctx);
        } else {
          const event = codec.decode('sync-run', message.value) as SyncRunEvent;
          item = { kind: 'sync-run', event, message };
          invalid = validateSyncRun(event, ctx);
        }
      } catch (caught) {
        const err = toError(caught);
        await deadLetter(topic, partition, message, errorCode(err) ?? 'EVENT_DECODE_FAILED', err.message, 1);
        return null;
      }
      if (invalid !== null) {
        // Deterministic checks: a retry would fail the same way.
        await deadLetter(topic, partition, message, invalid.code, invalid.reason, 1);
        return null;
      }
      return item;
    };

    const eachBatch = async (payload: EachBatchPayload) => {
      const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
      const { topic, partition } = batch;
      for (const chunk of chunks(batch.messages, config.applier.maxBatchSize)) {
        if (!isRunning() || isStale()) break;
        const items: Item[] = [];
        for (const message of chunk) {
          const item = await decode(topic, partition, message);
          if (item !== null) items.push(item);
        }
        if (items.length > 0) await applyWithRetries(topic, partition, items, heartbeat, isRunning);
        const last = chunk[chunk.length - 1];
        if (last === undefined) continue;
        resolveOffset(last.offset);
        await commitOffsetsIfNecessary({
          topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
        });
        metrics.eventsApplied.inc({ topic }, chunk.length);
        metrics.batchSize.observe({ topic }, chunk.length);
        await heartbeat();
      }
    };

    await consumer.connect();
    cleanups.push(async () => {
      // Waits for the batch in flight (it commits), then leaves the group.
      await consumer.disconnect();
    });
    await consumer.subscribe({ topics: inputTopics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(3, config.database.poolSize - 2)),
      eachBatch,
    });

    const lagTimer = setInterval(
      () => {
        void measureLag(admin, groupId, inputTopics, metrics).then(
          (lag) => {
            if (options.untilCaughtUp === true && lag === 0) stopping.abort();
          },
          (err: unknown) => log.warn({ err: toError(err) }, 'lag measurement failed'),
        );
      },
      options.untilCaughtUp === true ? CAUGHT_UP_INTERVAL_MS : LAG_INTERVAL_MS,
    );
    cleanups.push(async () => clearInterval(lagTimer));

    const result = await finished;
    clearInterval(lagTimer);
    if (options.untilCaughtUp === true && !signal.aborted && result.ok) {
      await consumer.disconnect();
      await relay.drain();
    }
    log.info({ ok: result.ok, reason: result.reason }, 'applier stopping');
    return result;
  } catch (caught) {
    const err = toError(caught);
    log.error({ err }, 'applier failed');
    return { ok: false, reason: `${errorCode(err) ?? 'APPLIER_FAILED'}: ${err.message}` };
  } finally {
    signal.removeEventListener('abort', onAbort);
    await cleanup();
  }
}

export type PartitionLag = {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset, or null when it committed none on this partition. */
  readonly committed: string | null;
  readonly high: string;
  readonly lag: number;
};

/** Per topic/partition: the group's committed offset against the high watermark. */
export async function readLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const result: PartitionLag[] = [];
  for (const topic of topics) {
    const marks = await admin.fetchTopicOffsets(topic);
    const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const mark of marks) {
      const done = BigInt(offsets.find((o) => o.partition === mark.partition)?.offset ?? '-1');
      const start = done >= 0n ? done : BigInt(mark.low);
      const lag = Number(BigInt(mark.high) - start);
      result.push({ topic, partition: mark.partition, committed: done >= 0n ? String(done) : null, high: mark.high, lag: lag > 0 ? lag : 0 });
    }
  }
  return result;
}

/** Total lag of the group over the topics (committed offset vs high watermark); sets the gauge. */
export async function measureLag(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
  metrics?: ApplierMetrics,
): Promise<number> {
  let total = 0;
  for (const p of await readLag(admin, groupId, topics)) {
    metrics?.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    total += p.lag;
  }
  return total;
}
