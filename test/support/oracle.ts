/**
 * The convergence oracle: what the database must hold, computed independently of the poller and
 * the applier from a plain `ldapsearch` snapshot of the directory (test/support/ldif.ts) and the
 * product rules of DESIGN.md, then compared with the tables.
 *
 * Rules modelled (openldap profile, users under usersBaseDn, groupOfNames under groupsBaseDn,
 * disabled = `employeeType: inactive`, conflict policy `skip`):
 * - a user in the directory is a row keyed by entryUUID with login = uid, display name =
 *   displayName else cn, enabled = not disabled, dn = its DN;
 * - a user that left (deleted, moved out of the base) keeps its last row, disabled;
 * - a directory user never stored whose login (case-insensitive) is a local account's is not
 *   stored (skip) — once stored, a user stays whatever its login becomes;
 * - groups keyed by entryUUID with name = cn, present while in the directory;
 * - direct memberships: each `member` DN (or `uniqueMember` DN, an optional `#'…'B` UID cut off,
 *   RFC 4517 NameAndOptionalUID) of a group that is a user or a group of the snapshot (anything
 *   else, e.g. the refint placeholder cn=admin, is dangling and ignored). On a server without
 *   refint (`tolerateFormerDns`), a DN that named an entry at the previous sync and that entry now
 *   has another DN keeps an edge that existed in this sync only (DESIGN invariant 9), never later,
 *   and never adds one;
 * - roles (`groupRoles`), decided once per sync on the snapshot: a name bound to a group still in
 *   the directory stays with it through renames; a binding whose group is gone is released; an
 *   unbound name binds to the one group carrying it (case-insensitive), to none while several
 *   carry it. Enabled users get the roles of every bound group they are an effective member of.
 */
import { type LdifEntry, ldapsearch } from './ldif.ts';

export type ExpectedUser = {
  readonly loginName: string;
  readonly displayName: string;
  readonly enabled: boolean;
  readonly dn: string;
};
export type ExpectedGroup = { readonly name: string; readonly present: boolean };

export type ModelState = {
  readonly users: ReadonlyMap<string, ExpectedUser>;
  readonly groups: ReadonlyMap<string, ExpectedGroup>;
  /** `${groupId}|${memberId}` → memberType. */
  readonly edges: ReadonlyMap<string, 'user' | 'group'>;
  /** `${userId}|${role}` of enabled users (empty when no roles are configured). */
  readonly roles?: ReadonlySet<string>;
};

export type SnapshotUser = ExpectedUser;
export type DirectorySnapshot = {
  readonly users: ReadonlyMap<string, SnapshotUser>;
  readonly groups: ReadonlyMap<string, { readonly name: string; readonly dn: string }>;
  readonly edges: ReadonlyMap<string, 'user' | 'group'>;
  /** Each group's member DNs as listed (comparable form), for the former-DN rule. */
  readonly members?: ReadonlyMap<string, readonly string[]>;
};

/** RFC 4517 NameAndOptionalUID: `dn#'0101'B` names `dn`. */
export function memberDnOf(value: string): string {
  return value.replace(/#'[01]*'B\s*$/i, '');
}

/**
 * DN comparison form (RFC 4514): RDNs split on unescaped `,`, each `type=value` with the value
 * unescaped (`\,` and `\2C` are the same comma, `\E5\B1\B1` is 山), lower-cased, outer blanks
 * trimmed; joined with NUL, which no DN value here holds.
 */
export function comparableDn(dn: string): string {
  const rdns: string[] = [];
  let bytes: number[] = [];
  const flush = () => {
    rdns.push(
      Buffer.from(bytes)
        .toString('utf8')
        .trim()
        .toLowerCase()
        .replace(/\s*=\s*/, '='),
    );
    bytes = [];
  };
  const text = Buffer.from(dn, 'utf8');
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as number;
    if (c === 0x5c /* \ */ && i + 1 < text.length) {
      const hex = text.subarray(i + 1, i + 3).toString('latin1');
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(text[i + 1] as number);
        i += 1;
      }
    } else if (c === 0x2c /* , */) flush();
    else bytes.push(c);
  }
  flush();
  return rdns.join('\u0000');
}

export type SnapshotOptions = {
  readonly url: string;
  readonly bindDn: string;
  readonly passwordFile: string;
  readonly usersBaseDn: string;
  readonly groupsBaseDn: string;
  /** `active-directory`: objectGUID, sAMAccountName, userAccountControl bit 0x2 (default openldap). */
  readonly dialect?: 'openldap' | 'active-directory';
  readonly env?: Readonly<Record<string, string>>;
};

/** objectGUID bytes → the canonical string: the first three fields little-endian (MS-DTYP 2.3.4). */
export function guidString(bytes: Buffer): string {
  const hex = (b: Buffer) => b.toString('hex');
  const le = (start: number, length: number) => hex(Buffer.from(bytes.subarray(start, start + length)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

const DIALECTS = {
  openldap: {
    usersFilter: '(objectClass=inetOrgPerson)',
    userAttributes: ['entryUUID', 'uid', 'cn', 'displayName', 'employeeType'],
    groupsFilter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))',
    groupAttributes: ['entryUUID', 'cn', 'member', 'uniqueMember'],
    id: (e: LdifEntry) => e.attributes.get('entryuuid')?.[0],
    login: (e: LdifEntry) => e.attributes.get('uid')?.[0],
    name: (e: LdifEntry) => e.attributes.get('displayname')?.[0] ?? e.attributes.get('cn')?.[0],
    enabled: (e: LdifEntry) => !(e.attributes.get('employeetype') ?? []).some((v) => v.toLowerCase() === 'inactive'),
  },
  'active-directory': {
    usersFilter: '(&(objectCategory=person)(objectClass=user))',
    userAttributes: ['objectGUID', 'sAMAccountName', 'displayName', 'cn', 'name', 'userAccountControl'],
    groupsFilter: '(objectClass=group)',
    groupAttributes: ['objectGUID', 'cn', 'member'],
    id: (e: LdifEntry) => {
      const raw = e.raw.get('objectguid')?.[0];
      return raw === undefined ? undefined : guidString(raw);
    },
    login: (e: LdifEntry) => e.attributes.get('samaccountname')?.[0],
    name: (e: LdifEntry) => e.attributes.get('displayname')?.[0] ?? e.attributes.get('cn')?.[0] ?? e.attributes.get('name')?.[0],
    enabled: (e: LdifEntry) => (Number(e.attributes.get('useraccountcontrol')?.[0] ?? 0) & 0x2) === 0,
  },
} as const;

export async function snapshotDirectory(options: SnapshotOptions): Promise<DirectorySnapshot> {
  const d = DIALECTS[options.dialect ?? 'openldap'];
  const common = {
    url: options.url,
    bindDn: options.bindDn,
    passwordFile: options.passwordFile,
    ...(options.env ? { env: options.env } : {}),
  };
  const [userEntries, groupEntries] = await Promise.all([
    ldapsearch({ ...common, baseDn: options.usersBaseDn, filter: d.usersFilter, attributes: d.userAttributes }),
    ldapsearch({ ...common, baseDn: options.groupsBaseDn, filter: d.groupsFilter, attributes: d.groupAttributes }),
  ]);
  const users = new Map<string, SnapshotUser>();
  const byDn = new Map<string, { id: string; type: 'user' | 'group' }>();
  for (const entry of userEntries) {
    const id = d.id(entry);
    const login = d.login(entry);
    const name = d.name(entry);
    if (id === undefined || login === undefined || name === undefined) continue; // not a valid user
    users.set(id, { loginName: login, displayName: name, enabled: d.enabled(entry), dn: entry.dn });
    byDn.set(comparableDn(entry.dn), { id, type: 'user' });
  }
  const groups = new Map<string, { name: string; dn: string }>();
  for (const entry of groupEntries) {
    const id = d.id(entry);
    const name = entry.attributes.get('cn')?.[0];
    if (id === undefined || name === undefined) continue;
    groups.set(id, { name, dn: entry.dn });
    byDn.set(comparableDn(entry.dn), { id, type: 'group' });
  }
  const edges = new Map<string, 'user' | 'group'>();
  const members = new Map<string, string[]>();
  for (const entry of groupEntries) {
    const id = d.id(entry);
    if (id === undefined || !groups.has(id)) continue;
    const listed = [...(entry.attributes.get('member') ?? []), ...(entry.attributes.get('uniquemember') ?? []).map(memberDnOf)].map(
      comparableDn,
    );
    members.set(id, listed);
    for (const memberDn of listed) {
      const member = byDn.get(memberDn);
      if (member !== undefined) edges.set(`${id}|${member.id}`, member.type);
    }
  }
  return { users, groups, edges, members };
}

/**
 * OpenLDAP's refint overlay rewrites `member` values in a background task after a modrdn or
 * delete has returned. Until it is done a group still names the old DN, and if the group itself is
 * renamed first, refint's rewrite is lost (the value stays dangling). Tests that check the
 * product's logic, not that race, wait here until every member value below `baseDn` names an
 * existing entry (or one of `placeholders`). Returns how long it waited.
 */
export async function waitForRefint(
  options: { url: string; bindDn: string; passwordFile: string; baseDn: string; placeholders?: readonly string[] },
  timeoutMs = 120_000,
): Promise<number> {
  const common = { url: options.url, bindDn: options.bindDn, passwordFile: options.passwordFile, baseDn: options.baseDn };
  const startedAt = Date.now();
  for (;;) {
    const [entries, groups] = await Promise.all([
      ldapsearch({ ...common, filter: '(objectClass=*)', attributes: ['1.1'] }),
      ldapsearch({ ...common, filter: '(|(member=*)(uniqueMember=*))', attributes: ['member', 'uniqueMember'] }),
    ]);
    const existing = new Set([...entries.map((e) => comparableDn(e.dn)), ...(options.placeholders ?? []).map(comparableDn)]);
    // slapo-refint leaves uniqueMember values with a UID (`dn#'01'B`) alone: they stay dangling,
    // as on a server without refint, so they are not waited for.
    const dangling = groups
      .flatMap((g) => [
        ...(g.attributes.get('member') ?? []),
        ...(g.attributes.get('uniquemember') ?? []).filter((v) => memberDnOf(v) === v),
      ])
      .filter((dn) => !existing.has(comparableDn(dn)));
    if (dangling.length === 0) return Date.now() - startedAt;
    if (Date.now() - startedAt > timeoutMs) {
      throw new Error(`refint did not settle in ${timeoutMs} ms: ${dangling.length} member values name no entry, e.g. ${dangling[0]}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export type ModelOptions = {
  /** policies.groupRoles of the profile. */
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
  /** A server without refint: a former DN counts in the sync right after the rename only. */
  readonly tolerateFormerDns?: boolean;
};

/** The expected database, advanced after each successful sync with the directory as it was read. */
export function createModel(options: ModelOptions = {}) {
  const users = new Map<string, ExpectedUser>();
  const groups = new Map<string, ExpectedGroup>();
  let edges = new Map<string, 'user' | 'group'>();
  let roles = new Set<string>();
  /** DN (comparable) → entity at the previous sync. */
  let previousDns = new Map<string, { id: string; type: 'user' | 'group' }>();
  /** Configured (lower-cased) group name → bound group ID. */
  const bindings = new Map<string, string>();
  const configured = Object.entries(options.groupRoles ?? {});
  return {
    /** `localLogins`: local accounts' login names at the time of the sync. */
    observe(snapshot: DirectorySnapshot, localLogins: ReadonlySet<string> = new Set()): void {
      const locals = new Set([...localLogins].map((l) => l.toLowerCase()));
      for (const [id, user] of snapshot.users) {
        if (!users.has(id) && locals.has(user.loginName.toLowerCase())) continue;
        users.set(id, user);
      }
      for (const [id, user] of users) if (!snapshot.users.has(id) && user.enabled) users.set(id, { ...user, enabled: false });
      for (const [id, group] of snapshot.groups) groups.set(id, { name: group.name, present: true });
      for (const [id, group] of groups) if (!snapshot.groups.has(id)) groups.set(id, { ...group, present: false });
      const previousEdges = edges;
      edges = new Map(snapshot.edges);
      const currentDns = new Map<string, { id: string; type: 'user' | 'group' }>();
      for (const [id, user] of snapshot.users) currentDns.set(comparableDn(user.dn), { id, type: 'user' });
      for (const [id, group] of snapshot.groups) currentDns.set(comparableDn(group.dn), { id, type: 'group' });
      if (options.tolerateFormerDns && snapshot.members) {
        const dnNow = new Map([...currentDns].map(([dn, e]) => [e.id, dn]));
        for (const [groupId, listed] of snapshot.members) {
          for (const dn of listed) {
            if (currentDns.has(dn)) continue;
            const before = previousDns.get(dn);
            // Renamed since the previous sync (still there under another DN): an edge that existed
            // is kept in this sync only; a stale DN never adds one.
            const key = before === undefined ? '' : `${groupId}|${before.id}`;
            if (before !== undefined && dnNow.has(before.id) && dnNow.get(before.id) !== dn && previousEdges.has(key))
              edges.set(key, before.type);
          }
        }
      }
      previousDns = currentDns;
      // Role bindings follow the group's identity.
      const carriers = (name: string) => [...snapshot.groups].filter(([, g]) => g.name.toLowerCase() === name).map(([id]) => id);
      for (const [name] of configured) {
        const key = name.toLowerCase();
        const bound = bindings.get(key);
        if (bound !== undefined && !snapshot.groups.has(bound)) bindings.delete(key);
        if (!bindings.has(key)) {
          const found = carriers(key);
          if (found.length === 1) bindings.set(key, found[0] as string);
        }
      }
      const granting = new Map<string, string[]>();
      for (const [name, names] of configured) {
        const key = name.toLowerCase();
        const bound = bindings.get(key);
        if (bound === undefined) continue;
        granting.set(bound, [...(granting.get(bound) ?? []), ...names]);
      }
      roles = new Set();
      if (granting.size > 0) {
        const direct = new Map<string, string[]>();
        for (const [key, type] of edges) {
          const [groupId, memberId] = key.split('|') as [string, string];
          if (type === 'group' || users.get(memberId) !== undefined) direct.set(memberId, [...(direct.get(memberId) ?? []), groupId]);
        }
        for (const [userId, user] of users) {
          if (!user.enabled || !snapshot.users.has(userId)) continue;
          const seen = new Set<string>();
          const queue = [...(direct.get(userId) ?? [])];
          while (queue.length > 0) {
            const g = queue.shift() as string;
            if (seen.has(g) || !snapshot.groups.has(g)) continue;
            seen.add(g);
            for (const role of granting.get(g) ?? []) roles.add(`${userId}|${role}`);
            queue.push(...(direct.get(g) ?? []));
          }
        }
      }
    },
    expected(): ModelState {
      return { users: new Map(users), groups: new Map(groups), edges: new Map(edges), roles: new Set(roles) };
    },
  };
}

type Query = (sql: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/** What the applier's tables hold for one profile. */
export async function readDatabase(query: Query, profileId: string): Promise<ModelState> {
  const users = new Map<string, ExpectedUser>();
  for (const row of await query('select external_id, login_name, display_name, enabled, dn from users where profile_id = $1', [
    profileId,
  ])) {
    users.set(String(row.external_id), {
      loginName: String(row.login_name),
      displayName: String(row.display_name),
      enabled: row.enabled === true,
      dn: String(row.dn ?? ''),
    });
  }
  const groups = new Map<string, ExpectedGroup>();
  for (const row of await query('select external_id, name, present from groups where profile_id = $1', [profileId])) {
    groups.set(String(row.external_id), { name: String(row.name), present: row.present === true });
  }
  const edges = new Map<string, 'user' | 'group'>();
  for (const row of await query('select group_id, member_id, member_type from memberships where profile_id = $1 and present', [
    profileId,
  ])) {
    edges.set(`${String(row.group_id)}|${String(row.member_id)}`, row.member_type === 'group' ? 'group' : 'user');
  }
  const roles = new Set<string>();
  for (const row of await query('select external_id, role from user_effective_roles where profile_id = $1', [profileId])) {
    roles.add(`${String(row.external_id)}|${String(row.role)}`);
  }
  return { users, groups, edges, roles };
}

function sameUser(a: ExpectedUser, b: ExpectedUser): boolean {
  return (
    a.loginName === b.loginName && a.displayName === b.displayName && a.enabled === b.enabled && comparableDn(a.dn) === comparableDn(b.dn)
  );
}

/** The first difference between the expected and the actual state (sorted, so stable), or null. */
export function firstDifference(expected: ModelState, actual: ModelState): string | null {
  const ids = (a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>) => [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const id of ids(expected.users, actual.users)) {
    const e = expected.users.get(id);
    const a = actual.users.get(id);
    if (e === undefined) return `user ${id}: in the database but not expected: ${JSON.stringify(a)}`;
    if (a === undefined) return `user ${id}: expected ${JSON.stringify(e)}, missing from the database`;
    if (!sameUser(e, a)) return `user ${id}: expected ${JSON.stringify(e)}, database has ${JSON.stringify(a)}`;
  }
  for (const id of ids(expected.groups, actual.groups)) {
    const e = expected.groups.get(id);
    const a = actual.groups.get(id);
    if (JSON.stringify(e) !== JSON.stringify(a))
      return `group ${id}: expected ${JSON.stringify(e ?? null)}, database has ${JSON.stringify(a ?? null)}`;
  }
  for (const key of ids(expected.edges, actual.edges)) {
    const e = expected.edges.get(key);
    const a = actual.edges.get(key);
    if (e !== a) return `membership ${key}: expected ${e ?? 'absent'}, database has ${a ?? 'absent'}`;
  }
  if (expected.roles !== undefined && actual.roles !== undefined) {
    for (const key of [...new Set([...expected.roles, ...actual.roles])].sort()) {
      if (expected.roles.has(key) !== actual.roles.has(key)) {
        return `role ${key}: expected ${expected.roles.has(key) ? 'granted' : 'not granted'}, database ${actual.roles.has(key) ? 'grants it' : 'does not'}`;
      }
    }
  }
  return null;
}

/** Replaces the entity IDs in a difference message with their name and DN (for people). */
export function annotate(message: string, snapshot: DirectorySnapshot, expected: ModelState): string {
  return message.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (id) => {
    const user = snapshot.users.get(id) ?? expected.users.get(id);
    if (user !== undefined) return `${id} (user ${user.loginName}, ${user.dn})`;
    const group = snapshot.groups.get(id);
    if (group !== undefined) return `${id} (group ${group.name}, ${group.dn})`;
    return id;
  });
}

/** Counts for a progress line. */
export function describeState(state: ModelState): string {
  const enabled = [...state.users.values()].filter((u) => u.enabled).length;
  const present = [...state.groups.values()].filter((g) => g.present).length;
  const roles = state.roles === undefined || state.roles.size === 0 ? '' : `, ${state.roles.size} role grants`;
  return `${state.users.size} users (${enabled} enabled), ${present}/${state.groups.size} groups present, ${state.edges.size} memberships${roles}`;
}
