/**
 * The poller's Active Directory suites: a profile over verified LDAPS pointing at a test's OU
 * (the OU itself and the Samba endpoints come from @dirstream/testing), a poller collecting what
 * a run emits.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseConfig, ProfileConfig } from '@dirstream/config';
import type { GroupEvent, MembershipEvent, SyncRunEvent, UserEvent } from '@dirstream/events';
import { profileSchema } from '@dirstream/config';
import { createSilentLogger } from '@dirstream/logging';
import type { SambaEndpoints } from '@dirstream/testing';
import type { EventSink } from '../src/delivery/sink.ts';
import { connectDirectory, type DirectoryConnection } from '../src/directory/client.ts';
import { type ActiveDirectoryOptions, createActiveDirectoryDialect } from '../src/dialects/active-directory.ts';
import { type SyncOptions, type SyncResult, syncProfile } from '../src/run/sync-run.ts';
import { openPollerDatabase } from '../src/state/database.ts';

/** A profile for the OU over LDAPS, verified with Samba's CA (no rejectUnauthorized: false). */
export function adProfile(
  samba: SambaEndpoints,
  ou: { dn: string },
  overrides: { urls?: string[]; delta?: 'usn' | 'dirsync' | 'none'; id?: string } = {},
): ProfileConfig {
  const raw = profileSchema.parse({
    id: overrides.id ?? randomUUID(),
    name: `ad-${randomUUID().slice(0, 8)}`,
    directory: 'active-directory',
    connection: {
      urls: overrides.urls ?? [samba.url],
      tls: { caFile: samba.caFile, serverName: samba.serverName },
      bindDn: samba.adminDn,
      bindPassword: { env: 'UNUSED' },
      pageSize: 1000,
    },
    users: { baseDn: ou.dn },
    groups: { baseDn: ou.dn },
    schedule: { delta: overrides.delta ?? 'usn' },
    policies: { maxDisablePercent: 100, maxDisableCount: 100_000 },
  });
  return { ...raw, connection: { ...raw.connection, bindPassword: samba.adminPassword } } as unknown as ProfileConfig;
}

export async function connectAd(profile: ProfileConfig): Promise<DirectoryConnection> {
  return connectDirectory(profile.connection, createSilentLogger());
}

export type CollectedRun = {
  readonly result: SyncResult;
  readonly users: UserEvent[];
  readonly groups: GroupEvent[];
  readonly memberships: MembershipEvent[];
  readonly runs: SyncRunEvent[];
};

export type AdPoller = {
  run(options?: SyncOptions): Promise<CollectedRun>;
  close(): Promise<void>;
};

/**
 * The real sync run (diff, state in PostgreSQL, checkpoints) with an in-memory sink that keeps
 * the events, so a test can assert exactly what one pass emits.
 */
export async function createAdPoller(profile: ProfileConfig, databaseUrl: string, options: ActiveDirectoryOptions = {}): Promise<AdPoller> {
  const db = await openPollerDatabase({ url: databaseUrl, pollerSchema: 'dirstream_poller', poolSize: 4 } as DatabaseConfig);
  const dialect = createActiveDirectoryDialect(options);
  return {
    async run(runOptions = {}) {
      const collected = {
        users: [] as UserEvent[],
        groups: [] as GroupEvent[],
        memberships: [] as MembershipEvent[],
        runs: [] as SyncRunEvent[],
      };
      const sink: EventSink = {
        async send(batch) {
          collected.users.push(...batch.users);
          collected.groups.push(...batch.groups);
          collected.memberships.push(...batch.memberships);
          return { rejected: [] };
        },
        async sendRun(event) {
          collected.runs.push(event);
        },
        async sendRunDetail() {},
      };
      const session = await db.session();
      try {
        const result = await syncProfile(
          { profile, dialect, db, session, sink, logger: createSilentLogger(), signal: new AbortController().signal, dryRun: false },
          runOptions,
        );
        return { result, ...collected };
      } finally {
        await session.release();
      }
    },
    close: () => db.close(),
  };
}

/** One line per event, sorted: what a test compares. IDs are replaced by names through `names`. */
export function describeEvents(run: CollectedRun, names: ReadonlyMap<string, string> = new Map()): string[] {
  const n = (id: string) => names.get(id) ?? id;
  return [
    ...run.users.map((e) => `user ${e.op} ${e.state.loginName}${e.state.disabledReason ? ` (${e.state.disabledReason})` : ''}`),
    ...run.groups.map((e) => `group ${e.op} ${e.state.name}`),
    ...run.memberships.map((e) => `membership ${e.op} ${n(e.groupId)} ← ${e.memberType} ${n(e.memberId)}`),
  ].sort();
}
