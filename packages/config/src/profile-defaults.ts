import type { ProfileConfig } from './types.ts';

export type DirectoryType = ProfileConfig['directory'];
export type MemberAttribute = 'member' | 'uniqueMember' | 'memberUid';
export type DeltaMechanism = ProfileConfig['schedule']['delta'];

/** The LDAP attributes a user entry is read from. Optional fields are undefined when not mapped. */
export type UserMapping = {
  /** Which entries under users.baseDn are users. */
  readonly filter: string;
  /** The stable unique ID (objectGUID / entryUUID / configured). */
  readonly externalId: string;
  readonly loginName: string;
  /** Candidates in order: the first attribute present on the entry gives the display name. */
  readonly displayName: readonly string[];
  /** The modification marker carried in the state (whenChanged / modifyTimestamp). */
  readonly modified: string;
  /** AD only: the change counter (uSNChanged) the `usn` delta cursor reads. */
  readonly changeCounter: string | undefined;
  readonly givenName: string | undefined;
  readonly surname: string | undefined;
  readonly email: string | undefined;
  readonly phone: string | undefined;
  readonly title: string | undefined;
  readonly company: string | undefined;
  readonly userPrincipalName: string | undefined;
  /** Output name → LDAP attribute, carried in `state.attributes`. */
  readonly extra: Readonly<Record<string, string>>;
};

export type GroupMapping = {
  /** Which entries under groups.baseDn are groups. */
  readonly filter: string;
  readonly externalId: string;
  readonly name: string;
  /** Every attribute listed is read; `memberUid` holds login names, the others DNs. */
  readonly memberAttributes: readonly MemberAttribute[];
  readonly nested: boolean;
};

export type ProfileDefaults = {
  readonly users: UserMapping;
  readonly groups: GroupMapping;
  /** What `schedule.delta: auto` means for this directory type. */
  readonly delta: Exclude<DeltaMechanism, 'auto'>;
};

const ACTIVE_DIRECTORY: ProfileDefaults = {
  users: {
    filter: '(&(objectCategory=person)(objectClass=user))',
    externalId: 'objectGUID',
    loginName: 'sAMAccountName',
    displayName: ['displayName', 'cn', 'name'],
    modified: 'whenChanged',
    changeCounter: 'uSNChanged',
    givenName: 'givenName',
    surname: 'sn',
    email: 'mail',
    phone: 'telephoneNumber',
    title: 'title',
    company: 'company',
    userPrincipalName: 'userPrincipalName',
    extra: {},
  },
  groups: { filter: '(objectClass=group)', externalId: 'objectGUID', name: 'cn', memberAttributes: ['member'], nested: true },
  delta: 'usn',
};

const OPENLDAP: ProfileDefaults = {
  users: {
    filter: '(objectClass=inetOrgPerson)',
    externalId: 'entryUUID',
    loginName: 'uid',
    displayName: ['displayName', 'cn'],
    modified: 'modifyTimestamp',
    changeCounter: undefined,
    givenName: 'givenName',
    surname: 'sn',
    email: 'mail',
    phone: 'telephoneNumber',
    title: 'title',
    company: 'o',
    userPrincipalName: undefined,
    extra: {},
  },
  groups: {
    filter: '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))',
    externalId: 'entryUUID',
    name: 'cn',
    memberAttributes: ['member', 'uniqueMember', 'memberUid'],
    nested: true,
  },
  delta: 'accesslog',
};

/**
 * A generic LDAPv3 server: the OpenLDAP attributes (entryUUID is RFC 4530); servers without it
 * set `users.attributes.externalId` (e.g. nsUniqueId, ipaUniqueID, GUID). Only modifyTimestamp
 * deltas are portable.
 */
const GENERIC_LDAP: ProfileDefaults = { ...OPENLDAP, delta: 'timestamp' };

const DEFAULTS: Readonly<Record<DirectoryType, ProfileDefaults>> = {
  'active-directory': ACTIVE_DIRECTORY,
  openldap: OPENLDAP,
  ldap: GENERIC_LDAP,
};

/** The attribute mapping and delta mechanism a directory type uses when the profile sets none. */
export function profileDefaults(directory: DirectoryType): ProfileDefaults {
  return DEFAULTS[directory];
}

type MappingSource = Pick<ProfileConfig, 'directory' | 'users'>;

/** The profile's user mapping: each configured attribute (and the filter) replaces the directory type default. */
export function resolveUserMapping(profile: MappingSource): UserMapping {
  const defaults = profileDefaults(profile.directory).users;
  const configured = profile.users.attributes;
  return {
    filter: profile.users.filter ?? defaults.filter,
    externalId: configured.externalId ?? defaults.externalId,
    loginName: configured.loginName ?? defaults.loginName,
    // A configured display name attribute is the only candidate: no silent fallback to cn.
    displayName: configured.displayName === undefined ? defaults.displayName : [configured.displayName],
    modified: configured.modified ?? defaults.modified,
    changeCounter: defaults.changeCounter,
    givenName: configured.givenName ?? defaults.givenName,
    surname: configured.surname ?? defaults.surname,
    email: configured.email ?? defaults.email,
    phone: configured.phone ?? defaults.phone,
    title: configured.title ?? defaults.title,
    company: configured.company ?? defaults.company,
    userPrincipalName: configured.userPrincipalName ?? defaults.userPrincipalName,
    extra: { ...configured.extra },
  };
}

/**
 * The profile's group mapping, or undefined when it synchronises no groups. The group ID
 * attribute defaults to the users' external ID attribute.
 */
export function resolveGroupMapping(profile: Pick<ProfileConfig, 'directory' | 'users' | 'groups'>): GroupMapping | undefined {
  if (profile.groups === undefined) return undefined;
  const defaults = profileDefaults(profile.directory).groups;
  return {
    filter: profile.groups.filter ?? defaults.filter,
    externalId: profile.groups.idAttribute ?? profile.users.attributes.externalId ?? defaults.externalId,
    name: profile.groups.nameAttribute ?? defaults.name,
    memberAttributes: profile.groups.memberAttributes ?? defaults.memberAttributes,
    nested: profile.groups.nested,
  };
}

/** The delta mechanism a profile uses: `auto` becomes the directory type's default. */
export function resolveDeltaMechanism(profile: Pick<ProfileConfig, 'directory' | 'schedule'>): Exclude<DeltaMechanism, 'auto'> {
  return profile.schedule.delta === 'auto' ? profileDefaults(profile.directory).delta : profile.schedule.delta;
}

/** Every LDAP attribute a user mapping reads (for the search request), without duplicates. */
export function userMappingAttributes(mapping: UserMapping): string[] {
  const names = [
    mapping.externalId,
    mapping.loginName,
    ...mapping.displayName,
    mapping.modified,
    mapping.changeCounter,
    mapping.givenName,
    mapping.surname,
    mapping.email,
    mapping.phone,
    mapping.title,
    mapping.company,
    mapping.userPrincipalName,
    ...Object.values(mapping.extra),
  ];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    if (name === undefined || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}
