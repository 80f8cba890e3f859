/**
 * Test support for the Active Directory suites: the Samba DC of `npm run infra:up`, an isolated
 * OU per test, and a profile pointing at it over verified LDAPS.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DatabaseConfig, ProfileConfig } from '@dirstream/config';
import type { GroupEvent, MembershipEvent, SyncRunEvent, UserEvent } from '@dirstream/events';
import { profileSchema } from '@dirstream/config';
import { createSilentLogger } from '@dirstream/logging';
import { loadInfra, uniquePrefix } from '@dirstream/testing';
import { Attribute, Change, Client, Control } from 'ldapts';
import type { SambaEndpoints } from '../../../infra/local/samba.ts';
import { unicodePwd } from '../../../infra/sample/ad-fixture.ts';
import type { EventSink } from '../src/delivery/sink.ts';
import { connectDirectory, type DirectoryConnection } from '../src/directory/client.ts';
import { type ActiveDirectoryOptions, createActiveDirectoryDialect } from '../src/dialects/active-directory.ts';
import { type SyncOptions, type SyncResult, syncProfile } from '../src/run/sync-run.ts';
import { openPollerDatabase } from '../src/state/database.ts';

export function loadSamba(): SambaEndpoints {
  const infra = loadInfra();
  if (!infra.samba) throw new Error('no samba section in infra.json: run `npm run infra:up` (Samba AD DC)');
  return infra.samba as unknown as SambaEndpoints;
}

/** LDAP_SERVER_TREE_DELETE: removes an OU with everything below it in one operation. */
class TreeDeleteControl extends Control {
  constructor() {
    super('1.2.840.113556.1.4.805', { critical: true });
  }
}

export async function adminClient(samba: SambaEndpoints, url = samba.url, serverName = samba.serverName, caFile = samba.caFile): Promise<Client> {
  const client = new Client({
    url,
    timeout: 60_000,
    connectTimeout: 5_000,
    tlsOptions: { ca: [readFileSync(caFile)], servername: serverName },
  });
  await client.bind(samba.adminDn, samba.adminPassword);
  return client;
}

export type AdOu = {
  readonly dn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  readonly client: Client;
  /** The sAMAccountName `addUser(name)` gives (unique in the domain: `<name>.<tag>`). */
  login(name: string): string;
  addUser(login: string, extra?: Record<string, string | string[]>, parentDn?: string): Promise<string>;
  addGroup(name: string, members: readonly string[], parentDn?: string): Promise<string>;
  modify(dn: string, changes: Record<string, string | string[] | null>): Promise<void>;
  addMembers(groupDn: string, members: readonly string[]): Promise<void>;
  removeMembers(groupDn: string, members: readonly string[]): Promise<void>;
  cleanup(): Promise<void>;
};

/** An isolated OU (with OU=people, OU=groups) under the domain root for one test. */
export async function createAdOu(samba: SambaEndpoints, label: string): Promise<AdOu> {
  const client = await adminClient(samba);
  const name = uniquePrefix(label);
  // sAMAccountName is unique domain-wide (20 chars max): tag each login with this OU's suffix.
  const tag = name.slice(-6);
  const login = (user: string) => `${user.slice(0, 13)}.${tag}`;
  const dn = `OU=${name},${samba.baseDn}`;
  const peopleDn = `OU=people,${dn}`;
  const groupsDn = `OU=groups,${dn}`;
  for (const [ouDn, ou] of [
    [dn, name],
    [peopleDn, 'people'],
    [groupsDn, 'groups'],
  ] as const) {
    await client.add(ouDn, { objectClass: ['top', 'organizationalUnit'], ou });
  }
  const change = (operation: 'add' | 'delete' | 'replace', type: string, values: readonly string[]) =>
    new Change({ operation, modification: new Attribute({ type, values: [...values] }) });
  return {
    dn,
    peopleDn,
    groupsDn,
    client,
    login,
    async addUser(user, extra = {}, parentDn = peopleDn) {
      const userDn = `CN=${user},${parentDn}`;
      await client.add(userDn, [
        ...Object.entries({
          objectClass: ['top', 'person', 'organizationalPerson', 'user'],
          cn: user,
          sAMAccountName: login(user),
          userPrincipalName: `${login(user)}@${samba.realm.toLowerCase()}`,
          givenName: 'Test',
          sn: user,
          displayName: `Test ${user}`,
          mail: `${login(user)}@${samba.realm.toLowerCase()}`,
          userAccountControl: '512',
          ...extra,
        }).map(([type, v]) => new Attribute({ type, values: Array.isArray(v) ? v : [v] })),
        new Attribute({ type: 'unicodePwd', values: [unicodePwd('Test-Passw0rd!')] }),
      ]);
      return userDn;
    },
    async addGroup(groupName, members, parentDn = groupsDn) {
      const groupDn = `CN=${groupName},${parentDn}`;
      const attributes: Record<string, string | string[]> = { objectClass: ['top', 'group'], cn: groupName, sAMAccountName: `${name}-${groupName}`.slice(0, 63) };
      if (members.length > 0) attributes.member = [...members];
      await client.add(groupDn, attributes);
      return groupDn;
    },
    async modify(entryDn, changes) {
      await client.modify(
        entryDn,
        Object.entries(changes).map(([type, v]) => change(v === null ? 'delete' : 'replace', type, v === null ? [] : Array.isArray(v) ? v : [v])),
      );
    },
    async addMembers(groupDn, members) {
      await client.modify(groupDn, change('add', 'member', members));
    },
    async removeMembers(groupDn, members) {
      await client.modify(groupDn, change('delete', 'member', members));
    },
    async cleanup() {
      try {
        // A group that is a user's primary group cannot be deleted: hand those users Domain Users back.
        const { searchEntries } = await client.search(dn, { scope: 'sub', filter: '(&(objectClass=user)(!(primaryGroupID=513)))', attributes: ['1.1'] });
        for (const user of searchEntries) {
          await client.modify(user.dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'primaryGroupID', values: ['513'] }) }));
        }
        await client.del(dn, new TreeDeleteControl());
      } finally {
        await client.unbind().catch(() => {});
      }
    },
  };
}

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
      const collected = { users: [] as UserEvent[], groups: [] as GroupEvent[], memberships: [] as MembershipEvent[], runs: [] as SyncRunEvent[] };
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
