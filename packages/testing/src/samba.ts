/**
 * The Samba AD DC of `npm run infra:up` for tests: its endpoints, an admin connection, and an
 * isolated OU per test (the Active Directory counterpart of createLdapSubtree).
 */
import { readFileSync } from 'node:fs';
import { Attribute, Change, Client, Control } from 'ldapts';
import type { SambaEndpoints } from '../../../infra/local/samba.ts';
import { unicodePwd } from '../../../infra/sample/ad-fixture.ts';
import { loadInfra } from './infra.ts';
import { uniquePrefix } from './unique.ts';

export type { SambaEndpoints };

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

export async function adminClient(
  samba: SambaEndpoints,
  url = samba.url,
  serverName = samba.serverName,
  caFile = samba.caFile,
): Promise<Client> {
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
      const attributes: Record<string, string | string[]> = {
        objectClass: ['top', 'group'],
        cn: groupName,
        sAMAccountName: `${name}-${groupName}`.slice(0, 63),
      };
      if (members.length > 0) attributes.member = [...members];
      await client.add(groupDn, attributes);
      return groupDn;
    },
    async modify(entryDn, changes) {
      await client.modify(
        entryDn,
        Object.entries(changes).map(([type, v]) =>
          change(v === null ? 'delete' : 'replace', type, v === null ? [] : Array.isArray(v) ? v : [v]),
        ),
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
        const { searchEntries } = await client.search(dn, {
          scope: 'sub',
          filter: '(&(objectClass=user)(!(primaryGroupID=513)))',
          attributes: ['1.1'],
        });
        for (const user of searchEntries) {
          await client.modify(
            user.dn,
            new Change({ operation: 'replace', modification: new Attribute({ type: 'primaryGroupID', values: ['513'] }) }),
          );
        }
        await client.del(dn, new TreeDeleteControl());
      } finally {
        await client.unbind().catch(() => {});
      }
    },
  };
}
