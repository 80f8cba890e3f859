/**
 * The demo's directory: a sample subtree loaded online (ldapts, a few connections in parallel)
 * into the shared slapd, removed first when a previous run left one.
 */
import { Attribute, Change, Client, NoSuchObjectError } from 'ldapts';
import { sampleEntries, type SampleOptions } from '../../infra/sample/generate.ts';
import type { LdifEntry } from '../../infra/sample/ldif.ts';

export type DirectoryAccess = { readonly url: string; readonly adminDn: string; readonly adminPassword: string };

export type SeededUser = {
  readonly index: number;
  readonly dn: string;
  readonly uid: string;
  readonly disabled: boolean;
  readonly ou: string;
};
export type SeededGroup = { readonly dn: string; readonly cn: string; readonly memberDns: readonly string[]; readonly large: boolean };

export type SeededDirectory = {
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  readonly users: readonly SeededUser[];
  readonly groups: readonly SeededGroup[];
  /** Direct member values over all groups (user→group and group→group edges). */
  readonly edges: number;
};

const PARALLEL = 4;

export async function connect(access: DirectoryAccess): Promise<Client> {
  const client = new Client({ url: access.url, timeout: 30_000, connectTimeout: 5_000 });
  await client.bind(access.adminDn, access.adminPassword);
  return client;
}

async function inParallel<T>(
  access: DirectoryAccess,
  items: readonly T[],
  work: (client: Client, item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    const client = await connect(access);
    try {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(client, item);
      }
    } finally {
      await client.unbind().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, Math.max(1, items.length)) }, worker));
}

/** Number of RDNs in a DN (commas not escaped by a backslash). */
function depth(dn: string): number {
  let count = 1;
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i++;
    else if (dn[i] === ',') count++;
  }
  return count;
}

/**
 * Deletes `baseDn` and everything below it; returns how many entries went. Groups go first, so
 * refint has no member values left to rewrite when the users are deleted. `settle`: wait until
 * slapd's refint overlay has caught up (needed when the same DNs are re-created next).
 */
export async function removeSubtree(access: DirectoryAccess, baseDn: string, options: { settle: boolean }): Promise<number> {
  const client = await connect(access);
  let dns: string[];
  try {
    const { searchEntries } = await client.search(baseDn, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['1.1'],
      paged: { pageSize: 1000 },
    });
    dns = searchEntries.map((e) => e.dn);
  } catch (error) {
    if (error instanceof NoSuchObjectError) return 0;
    throw error;
  } finally {
    await client.unbind().catch(() => undefined);
  }
  const isGroup = (dn: string) => /^cn=group-/i.test(dn);
  const leaves = dns.filter((dn) => !/^ou=/i.test(dn));
  await inParallel(access, leaves.filter(isGroup), (c, dn) => c.del(dn));
  await inParallel(
    access,
    leaves.filter((dn) => !isGroup(dn)),
    (c, dn) => c.del(dn),
  );
  const ous = dns.filter((dn) => /^ou=/i.test(dn)).sort((a, b) => depth(b) - depth(a));
  const single = await connect(access);
  try {
    if (options.settle && leaves.length > 0) await waitForRefint(single, baseDn);
    for (const dn of ous) await single.del(dn);
  } finally {
    await single.unbind().catch(() => undefined);
  }
  return dns.length;
}

/**
 * slapd's refint overlay rewrites `member` values in a background task after a delete has
 * returned. Entries re-created under the same DNs right away (the next demo run) would lose their
 * group memberships to those late rewrites. refint works through its queue in order, so once it
 * has handled a probe user deleted last, it has handled every earlier delete too.
 */
async function waitForRefint(client: Client, parentDn: string): Promise<void> {
  const userDn = `uid=refint-probe,${parentDn}`;
  const groupDn = `cn=refint-probe,${parentDn}`;
  await client.add(userDn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    uid: 'refint-probe',
    cn: 'probe',
    sn: 'probe',
  });
  await client.add(groupDn, { objectClass: ['top', 'groupOfNames'], cn: 'refint-probe', member: [userDn, 'cn=refint-anchor'] });
  await client.del(userDn);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { searchEntries } = await client.search(groupDn, { scope: 'base', attributes: ['member'] });
    const members = [searchEntries[0]?.member ?? []].flat().map((m) => String(m).toLowerCase());
    if (!members.includes(userDn.toLowerCase())) break;
    if (Date.now() > deadline) throw new Error(`slapd's refint overlay did not process the deletes under ${parentDn} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await client.del(groupDn);
}

function values(entry: LdifEntry, name: string): string[] {
  const value = entry.attributes[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => String(v));
}

/** Loads a sample directory under `baseDn` (created here); the sample's users and groups. */
export async function seedSubtree(access: DirectoryAccess, sample: SampleOptions): Promise<SeededDirectory> {
  const baseDn = sample.baseDn;
  const ou = /^ou=([^,]+)/i.exec(baseDn)?.[1] ?? 'demo';
  const entries = [...sampleEntries({ ...sample, includeBase: false })];
  const containers = entries.filter((e) => /^ou=/i.test(e.dn));
  const userEntries = entries.filter((e) => values(e, 'objectClass').includes('inetOrgPerson'));
  const groupEntries = entries.filter((e) => values(e, 'objectClass').includes('groupOfNames'));

  const client = await connect(access);
  try {
    await client.add(baseDn, { objectClass: ['top', 'organizationalUnit'], ou });
    for (const entry of containers) await client.add(entry.dn, entry.attributes as Record<string, string | string[]>);
  } finally {
    await client.unbind().catch(() => undefined);
  }
  const add = (c: Client, e: LdifEntry) => c.add(e.dn, e.attributes as Record<string, string | string[]>);
  await inParallel(access, userEntries, add);
  await inParallel(access, groupEntries, add);

  const users = userEntries.map((e, index) => ({
    index,
    dn: e.dn,
    uid: values(e, 'uid')[0] ?? '',
    disabled: values(e, 'employeeType').includes('inactive'),
    ou: /,ou=([^,]+),ou=people,/i.exec(e.dn)?.[1] ?? '',
  }));
  const groups = groupEntries.map((e) => ({
    dn: e.dn,
    cn: values(e, 'cn')[0] ?? '',
    memberDns: values(e, 'member'),
    large: values(e, 'description').includes('large group'),
  }));
  return {
    baseDn,
    peopleDn: `ou=people,${baseDn}`,
    groupsDn: `ou=groups,${baseDn}`,
    users,
    groups,
    edges: groups.reduce((sum, g) => sum + g.memberDns.length, 0),
  };
}

export function replace(type: string, value: readonly string[]): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: [...value] }) });
}

export function addValue(type: string, value: string): Change {
  return new Change({ operation: 'add', modification: new Attribute({ type, values: [value] }) });
}

export function deleteValue(type: string, value: string): Change {
  return new Change({ operation: 'delete', modification: new Attribute({ type, values: [value] }) });
}
