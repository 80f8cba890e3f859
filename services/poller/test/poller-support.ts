/**
 * Shared set-up of the poller integration tests: a private LDAP subtree, database and topic
 * prefix per test file, a profile over that subtree, and a reader of what a run emitted.
 */
import { randomUUID } from 'node:crypto';
import { type DirstreamConfig, loadConfigFromText } from '@dirstream/config';
import { createCodec, type GroupEvent, type MembershipEvent, type SyncRunEvent, topicNames, type UserEvent } from '@dirstream/events';
import { createSilentLogger, type Logger } from '@dirstream/logging';
import {
  createKafka,
  createLdapSubtree,
  createTestDatabase,
  deleteTopics,
  type Infra,
  type LdapSubtree,
  loadInfra,
  readTopics,
  type TestDatabase,
  uniquePrefix,
} from '@dirstream/testing';
import type { Kafka } from 'kafkajs';
import type { SlapdInstance } from '../../../infra/local/openldap.ts';
import { type PollerInternals, runPoller } from '../src/run/poller.ts';
import type { SyncResult } from '../src/run/sync-run.ts';

export type RunEvents = {
  readonly summary: SyncRunEvent;
  readonly users: UserEvent[];
  readonly groups: GroupEvent[];
  readonly memberships: MembershipEvent[];
  /** Membership keys that received a tombstone after this run's removed event. */
  readonly tombstones: string[];
};

export type PollerTest = {
  readonly infra: Infra;
  readonly ldap: LdapSubtree;
  readonly database: TestDatabase;
  readonly prefix: string;
  readonly profileId: string;
  readonly kafka: Kafka;
  config(overrides?: ProfileOverrides): Promise<DirstreamConfig>;
  /** One `--once` pass; returns the outcome and the run's events read back from Kafka. */
  run(options?: RunOptions): Promise<{ ok: boolean; reason?: string; result: SyncResult | null; events: RunEvents | null }>;
  cleanup(): Promise<void>;
};

export type ProfileOverrides = {
  readonly users?: Record<string, unknown>;
  readonly groups?: Record<string, unknown> | null;
  readonly schedule?: Record<string, unknown>;
  readonly policies?: Record<string, unknown>;
  readonly connection?: Record<string, unknown>;
  readonly directory?: string;
  readonly enabled?: boolean;
};

export type RunOptions = {
  readonly full?: boolean;
  readonly allowMassDisable?: boolean;
  readonly overrides?: ProfileOverrides;
  readonly internals?: PollerInternals;
  readonly logger?: Logger;
};

/** `openldap`: a private slapd (infra/local/openldap.ts) instead of the shared one, e.g. without some overlays. */
export async function setupPollerTest(label: string, options: { openldap?: SlapdInstance } = {}): Promise<PollerTest> {
  const shared = loadInfra();
  const own = options.openldap;
  const infra: Infra = own
    ? {
        ...shared,
        openldap: { ...shared.openldap, url: own.url, suffix: own.suffix, adminDn: own.adminDn, adminPassword: own.adminPassword },
      }
    : shared;
  const ldap = await createLdapSubtree(infra, label);
  const database = await createTestDatabase(infra, label);
  const prefix = uniquePrefix(label);
  const profileId = randomUUID();
  const kafka = createKafka(infra);
  const codec = createCodec();
  const topics = topicNames(prefix);
  const seen = new Set<string>();

  async function config(overrides: ProfileOverrides = {}): Promise<DirstreamConfig> {
    const raw = {
      kafka: { brokers: infra.kafka.brokers, topicPrefix: prefix, partitions: 3, clientId: `poller-${label}` },
      database: { url: database.url, pollerSchema: 'dirstream_poller', poolSize: 4 },
      poller: { metricsPort: 0 },
      logLevel: 'warn',
      profiles: [
        {
          id: profileId,
          name: label,
          directory: overrides.directory ?? 'openldap',
          ...(overrides.enabled === undefined ? {} : { enabled: overrides.enabled }),
          connection: {
            urls: [infra.openldap.url],
            bindDn: infra.openldap.adminDn,
            bindPassword: { env: 'TEST_LDAP_PASSWORD' },
            pageSize: 50,
            connectTimeoutMs: 2_000,
            timeoutMs: 10_000,
            ...overrides.connection,
          },
          users: { baseDn: ldap.peopleDn, disabledFilter: '(employeeType=inactive)', ...overrides.users },
          ...(overrides.groups === null ? {} : { groups: { baseDn: ldap.groupsDn, ...overrides.groups } }),
          schedule: { intervalSeconds: 1, fullEverySeconds: 86_400, delta: 'auto', overlapSeconds: 2, ...overrides.schedule },
          policies: { maxDisableCount: 100, maxDisablePercent: 100, ...overrides.policies },
        },
      ],
    };
    return loadConfigFromText(JSON.stringify(raw), {
      sourceName: `${label}.yaml`,
      env: { TEST_LDAP_PASSWORD: infra.openldap.adminPassword },
    });
  }

  async function readRun(runId: string): Promise<RunEvents> {
    const records = await readTopics(kafka, [topics.users, topics.groups, topics.memberships, topics.syncRuns]);
    const fresh = records.filter((r) => !seen.has(`${r.topic}/${r.partition}/${r.offset}`));
    for (const r of fresh) seen.add(`${r.topic}/${r.partition}/${r.offset}`);
    const out: RunEvents = { summary: undefined as unknown as SyncRunEvent, users: [], groups: [], memberships: [], tombstones: [] };
    const removedKeys = new Set<string>();
    for (const r of fresh) {
      if (r.value === null) {
        const key = r.key?.toString() ?? '';
        if (removedKeys.has(key)) out.tombstones.push(key);
        continue;
      }
      if (r.topic === topics.users) {
        const e = codec.decode('user-event', r.value);
        if (e.source.runId === runId) out.users.push(e);
      } else if (r.topic === topics.groups) {
        const e = codec.decode('group-event', r.value);
        if (e.source.runId === runId) out.groups.push(e);
      } else if (r.topic === topics.memberships) {
        const e = codec.decode('membership-event', r.value);
        if (e.source.runId === runId) {
          out.memberships.push(e);
          if (e.op === 'removed') removedKeys.add(r.key?.toString() ?? '');
        }
      } else {
        const e = codec.decode('sync-run', r.value);
        if (e.runId === runId) (out as { summary: SyncRunEvent }).summary = e;
      }
    }
    return out;
  }

  return {
    infra,
    ldap,
    database,
    prefix,
    profileId,
    kafka,
    config,
    async run(options = {}) {
      let result: SyncResult | null = null;
      const cfg = await config(options.overrides);
      const outcome = await runPoller(
        { config: cfg, logger: options.logger ?? createSilentLogger(), signal: new AbortController().signal },
        { once: true, profileId, full: options.full, allowMassDisable: options.allowMassDisable },
        {
          lockWaitMs: 60_000,
          lockRetryMs: 200,
          ...options.internals,
          onRun: (r) => {
            result = r;
            options.internals?.onRun?.(r);
          },
        },
      );
      const r = result as SyncResult | null;
      const events = r ? await readRun(r.runId) : null;
      return { ...outcome, result: r, events };
    },
    async cleanup() {
      await ldap.cleanup().catch(() => undefined);
      await database.drop().catch(() => undefined);
      const admin = kafka.admin();
      await admin.connect();
      await deleteTopics(admin, prefix).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** `op:login` of each user event, sorted — compact expectations. */
export function userOps(events: RunEvents | null): string[] {
  return (events?.users ?? []).map((e) => `${e.op}:${e.state.loginName}`).sort();
}

export function groupOps(events: RunEvents | null): string[] {
  return (events?.groups ?? []).map((e) => `${e.op}:${e.state.name}`).sort();
}

/**
 * `op:group<-member` of each membership event, sorted, by the names of the users and groups the
 * runs so far emitted (`remember` each run's events first): edges name IDs, expectations names.
 */
export function createEdgeNames(): { remember(events: RunEvents | null): void; edges(events: RunEvents | null): string[] } {
  const names = new Map<string, string>();
  return {
    remember(events) {
      for (const e of events?.users ?? []) names.set(e.externalId, e.state.loginName);
      for (const e of events?.groups ?? []) names.set(e.externalId, e.state.name);
    },
    edges: (events) => (events?.memberships ?? []).map((e) => `${e.op}:${names.get(e.groupId)}<-${names.get(e.memberId)}`).sort(),
  };
}
