import { Attribute, Change, Client } from 'ldapts';
import type { Infra } from './infra.ts';
import { uniquePrefix } from './unique.ts';

export type LdapSubtree = {
  /** `ou=<unique>,<suffix>`, with ou=people and ou=groups below it. */
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  /** Bound as the directory admin. */
  readonly client: Client;
  addUser(uid: string, attributes?: Record<string, string | string[]>, parentDn?: string): Promise<string>;
  addGroup(cn: string, memberDns: readonly string[], parentDn?: string): Promise<string>;
  modify(dn: string, changes: Record<string, string | string[] | null>): Promise<void>;
  cleanup(): Promise<void>;
};

/** An isolated OU under the shared slapd's suffix for one test file. */
export async function createLdapSubtree(infra: Infra, label = 'ldap'): Promise<LdapSubtree> {
  const { url, suffix, adminDn, adminPassword } = infra.openldap;
  const client = new Client({ url, timeout: 30_000, connectTimeout: 5_000 });
  await client.bind(adminDn, adminPassword);
  const ou = uniquePrefix(label);
  const baseDn = `ou=${ou},${suffix}`;
  const peopleDn = `ou=people,${baseDn}`;
  const groupsDn = `ou=groups,${baseDn}`;
  await client.add(baseDn, { objectClass: ['top', 'organizationalUnit'], ou });
  await client.add(peopleDn, { objectClass: ['top', 'organizationalUnit'], ou: 'people' });
  await client.add(groupsDn, { objectClass: ['top', 'organizationalUnit'], ou: 'groups' });
  return {
    baseDn,
    peopleDn,
    groupsDn,
    client,
    async addUser(uid, attributes = {}, parentDn = peopleDn) {
      const dn = `uid=${uid},${parentDn}`;
      await client.add(dn, {
        objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        uid,
        cn: `User ${uid}`,
        sn: uid,
        mail: `${uid}@example.test`,
        ...attributes,
      });
      return dn;
    },
    async addGroup(cn, memberDns, parentDn = groupsDn) {
      const dn = `cn=${cn},${parentDn}`;
      await client.add(dn, { objectClass: ['top', 'groupOfNames'], cn, member: memberDns.length > 0 ? [...memberDns] : [adminDn] });
      return dn;
    },
    async modify(dn, changes) {
      await client.modify(
        dn,
        Object.entries(changes).map(
          ([type, values]) =>
            new Change({
              operation: values === null ? 'delete' : 'replace',
              modification: new Attribute({ type, values: values === null ? [] : Array.isArray(values) ? values : [values] }),
            }),
        ),
      );
    },
    async cleanup() {
      try {
        const { searchEntries } = await client.search(baseDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] });
        // Children before parents: longer DNs first.
        const dns = searchEntries.map((e) => e.dn).sort((a, b) => b.length - a.length);
        for (const dn of dns) await client.del(dn).catch(() => {});
      } finally {
        await client.unbind().catch(() => {});
      }
    },
  };
}
