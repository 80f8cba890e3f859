/**
 * A deterministic Active Directory fixture (same options → same entries): users in several OUs,
 * disabled users, users with passwords (the auth path), groups, nested groups and one group above
 * AD's 1,500-value range limit. Seeded over LDAP into a Samba DC (infra/local/samba.ts), which
 * snapshots the result so the slow part happens once.
 */
import { Attribute, type Client } from 'ldapts';

/** Bump when the entries change: it is part of the snapshot cache key. */
export const AD_FIXTURE_VERSION = 1;

export type AdFixtureOptions = {
  /** The OU under the domain root holding everything. */
  readonly ou: string;
  readonly userOus: readonly string[];
  /** Users spread over `userOus`. */
  readonly users: number;
  /** Every n-th user is disabled (userAccountControl 546 / 514); 0 for none. */
  readonly disabledEvery: number;
  /** Users with a real password (UAC 512; the last one disabled, 514). */
  readonly passwordUsers: number;
  /** Department groups, each with a slice of the users; one group per OU holds its users. */
  readonly groups: number;
  /** Members of the `bulk-members` group (cheap users in OU=bulk); 0 for no such group. */
  readonly bulkMembers: number;
};

export const DEFAULT_AD_FIXTURE: AdFixtureOptions = {
  ou: 'sample',
  userOus: ['staff', 'contractors', 'sales'],
  users: 300,
  disabledEvery: 10,
  passwordUsers: 3,
  groups: 6,
  bulkMembers: 2_100,
};

/** The password of the fixture's password users (`pw001`…). */
export const AD_FIXTURE_PASSWORD = 'Fixture-Passw0rd!';

export type AdEntry = {
  readonly dn: string;
  readonly attributes: Readonly<Record<string, string | readonly string[]>>;
  /** Set for users with a password: sent as unicodePwd (needs TLS). */
  readonly password?: string;
};

const GIVEN = ['Ada', 'Jürgen', 'Zoë', 'Łukasz', 'María', 'Søren', 'Fatima', 'Chloé', 'Björn', 'Aiko', 'Nuño', 'Priya'];
const FAMILY = ['Lovelace', 'Müller', 'García', 'Nowak', 'Ødegård', 'Smith', 'Dupont', 'Núñez', 'Kowalski', 'Lee', 'Rossi', 'Nakamura'];
const TITLES = ['Engineer', 'Manager', 'Analyst', 'Director', 'Technician'];

/** AD wants `"password"` (quoted) in UTF-16LE. */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

export function fixtureUserLogin(index: number): string {
  return `u${String(index).padStart(5, '0')}`;
}

/** Every entry of the fixture, parents before children, members before their groups. */
export function adFixtureEntries(domainDn: string, options: AdFixtureOptions = DEFAULT_AD_FIXTURE): AdEntry[] {
  const root = `OU=${options.ou},${domainDn}`;
  const realm = domainDn
    .split(',')
    .map((p) => p.replace(/^DC=/i, ''))
    .join('.')
    .toLowerCase();
  const entries: AdEntry[] = [{ dn: root, attributes: { objectClass: ['top', 'organizationalUnit'], ou: options.ou } }];
  const ou = (name: string) => {
    entries.push({ dn: `OU=${name},${root}`, attributes: { objectClass: ['top', 'organizationalUnit'], ou: name } });
  };
  for (const name of options.userOus) ou(name);
  ou('groups');
  if (options.bulkMembers > 0) ou('bulk');

  const usersByOu = new Map<string, string[]>(options.userOus.map((o) => [o, []]));
  const allUsers: string[] = [];
  for (let i = 0; i < options.users; i++) {
    const login = fixtureUserLogin(i);
    const given = GIVEN[i % GIVEN.length]!;
    const family = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!;
    const unit = options.userOus[i % options.userOus.length]!;
    const cn = `${given} ${family} ${login}`;
    const dn = `CN=${cn},OU=${unit},${root}`;
    const disabled = options.disabledEvery > 0 && i % options.disabledEvery === options.disabledEvery - 1;
    entries.push({
      dn,
      attributes: {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn,
        sAMAccountName: login,
        userPrincipalName: `${login}@${realm}`,
        givenName: given,
        sn: family,
        displayName: `${given} ${family}`,
        mail: `${login}@${realm}`,
        title: TITLES[i % TITLES.length]!,
        company: 'Dirstream Test',
        // 0x20 PASSWD_NOTREQD: these users have no password; 0x2 marks the disabled ones.
        userAccountControl: String(disabled ? 546 : 544),
      },
    });
    usersByOu.get(unit)!.push(dn);
    allUsers.push(dn);
  }
  for (let i = 0; i < options.passwordUsers; i++) {
    const login = `pw${String(i + 1).padStart(3, '0')}`;
    const dn = `CN=Password User ${i + 1},OU=${options.userOus[0]},${root}`;
    const last = i === options.passwordUsers - 1 && options.passwordUsers > 1;
    entries.push({
      dn,
      attributes: {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: `Password User ${i + 1}`,
        sAMAccountName: login,
        userPrincipalName: `${login}@${realm}`,
        givenName: 'Password',
        sn: `User ${i + 1}`,
        displayName: `Password User ${i + 1}`,
        userAccountControl: last ? '514' : '512',
      },
      password: AD_FIXTURE_PASSWORD,
    });
    usersByOu.get(options.userOus[0]!)!.push(dn);
  }
  const bulk: string[] = [];
  for (let i = 0; i < options.bulkMembers; i++) {
    const login = `b${String(i).padStart(5, '0')}`;
    const dn = `CN=${login},OU=bulk,${root}`;
    entries.push({
      dn,
      attributes: {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: login,
        sAMAccountName: login,
        userAccountControl: '544',
      },
    });
    bulk.push(dn);
  }

  const groupsDn = `OU=groups,${root}`;
  const group = (name: string, members: readonly string[], description: string) => {
    const dn = `CN=${name},${groupsDn}`;
    const attributes: Record<string, string | readonly string[]> = {
      objectClass: ['top', 'group'],
      cn: name,
      sAMAccountName: name,
      description,
    };
    if (members.length > 0) attributes.member = members;
    entries.push({ dn, attributes });
    return dn;
  };
  const ouGroups = options.userOus.map((o) => group(`${o}-all`, usersByOu.get(o)!, `Everyone in OU=${o}`));
  for (let g = 0; g < options.groups; g++) {
    // Department g: every user whose index ≡ g (mod groups), a spread across all OUs.
    group(
      `dept-${g + 1}`,
      allUsers.filter((_, i) => i % options.groups === g),
      `Department ${g + 1}`,
    );
  }
  // Nested: everyone ⊃ {staff-all, contractors-all, sales-all}; admins ⊃ dept-1 + a user.
  group('everyone', ouGroups, 'All OU groups (nested)');
  if (options.groups > 0) group('admins', [`CN=dept-1,${groupsDn}`, allUsers[0]!].filter(Boolean), 'Nested: dept-1 and one user');
  if (bulk.length > 0) group('bulk-members', bulk, `A large group (${bulk.length} members, above the 1,500-value range)`);
  return entries;
}

/** Adds the fixture over `client` (bound as a domain admin over TLS). Returns the entry count. */
export async function seedAdFixture(client: Client, domainDn: string, options: AdFixtureOptions = DEFAULT_AD_FIXTURE): Promise<number> {
  const entries = adFixtureEntries(domainDn, options);
  for (const entry of entries) {
    const attributes: Attribute[] = Object.entries(entry.attributes).map(
      ([type, value]) => new Attribute({ type, values: typeof value === 'string' ? [value] : [...value] }),
    );
    if (entry.password) attributes.push(new Attribute({ type: 'unicodePwd', values: [unicodePwd(entry.password)] }));
    await client.add(entry.dn, attributes);
  }
  return entries.length;
}
