import { type ProfileConfig, resolveGroupMapping, resolveUserMapping, type UserMapping } from '@dirstream/config';
import type { DisabledReason, GroupState, RunError, UserState } from '@dirstream/events';
import type { Dialect, GroupMapping } from './dialect.ts';
import { firstString, type LdapEntry, parseGeneralizedTime, stringValues, values } from './entry.ts';

/** The profile's group mapping (config) plus the attributes the poller reads besides. */
export function resolveGroupReadMapping(profile: ProfileConfig): GroupMapping | null {
  const mapping = resolveGroupMapping(profile);
  if (mapping === undefined) return null;
  return { ...mapping, description: 'description', modified: resolveUserMapping(profile).modified };
}

export function groupAttributeList(mapping: GroupMapping, withMembers: boolean): string[] {
  const names = new Set([mapping.externalId, mapping.name, mapping.description, mapping.modified]);
  if (withMembers) for (const attribute of mapping.memberAttributes) names.add(attribute);
  return [...names];
}

export type Mapped<T> =
  | { readonly ok: true; readonly externalId: string; readonly state: T; readonly changedAt: number | null }
  | { readonly ok: false; readonly externalId: string | null; readonly error: RunError };

function missing(entry: LdapEntry, externalId: string | null, attribute: string, field: string): Mapped<never> {
  return {
    ok: false,
    externalId,
    error: {
      dn: entry.dn,
      code: 'ENTRY_MISSING_ATTRIBUTE',
      message: `required attribute ${attribute} (${field}) is missing or empty`,
    },
  };
}

/**
 * The first field holding a NUL character: PostgreSQL text and jsonb cannot store U+0000, so such
 * an entry could be emitted but never stored (the poller's state, the applier's tables).
 */
function fieldWithNul(state: UserState | GroupState): string | null {
  // Runs for every entry read: plain loops, no entry arrays.
  const fields = state as unknown as Record<string, unknown>;
  for (const field in fields) {
    const value = fields[field];
    if (typeof value === 'string' && value.includes('\u0000')) return field;
    if (Array.isArray(value) && value.some((v) => typeof v === 'string' && v.includes('\u0000'))) return field;
  }
  for (const name in state.attributes) {
    if (state.attributes[name]?.some((v) => v.includes('\u0000'))) return `attributes.${name}`;
  }
  return null;
}

/** The mapping's extra attributes in name order, worked out once per mapping instead of once per entry. */
const sortedExtras = new WeakMap<UserMapping, readonly (readonly [string, string])[]>();
function extrasInOrder(mapping: UserMapping): readonly (readonly [string, string])[] {
  let extras = sortedExtras.get(mapping);
  if (extras === undefined) {
    extras = Object.entries(mapping.extra).sort(([a], [b]) => (a < b ? -1 : 1));
    sortedExtras.set(mapping, extras);
  }
  return extras;
}

function checked<T extends UserState | GroupState>(entry: LdapEntry, externalId: string, state: T, changedAt: number | null): Mapped<T> {
  const field = fieldWithNul(state);
  if (field === null) return { ok: true, externalId, state, changedAt };
  return {
    ok: false,
    externalId,
    error: { dn: entry.dn, code: 'ENTRY_INVALID_VALUE', message: `${field} contains a NUL character, which cannot be stored` },
  };
}

export function readExternalId(entry: LdapEntry, attribute: string, dialect: Dialect): string | null {
  const raw = values(entry, attribute)[0];
  if (raw === undefined || raw.length === 0) return null;
  return dialect.normaliseId(raw);
}

/** Maps one entry to a UserState; `enabled`/`disabledReason` come from the disabled rule. */
export function mapUser(entry: LdapEntry, mapping: UserMapping, dialect: Dialect, directoryDisabled: boolean): Mapped<UserState> {
  const externalId = readExternalId(entry, mapping.externalId, dialect);
  if (externalId === null) return missing(entry, null, mapping.externalId, 'externalId');
  const loginName = firstString(entry, mapping.loginName);
  if (loginName === null) return missing(entry, externalId, mapping.loginName, 'loginName');
  let displayName: string | null = null;
  for (const attribute of mapping.displayName) {
    displayName = firstString(entry, attribute);
    if (displayName !== null) break;
  }
  if (displayName === null) return missing(entry, externalId, mapping.displayName.join(' | '), 'displayName');
  const optional = (attribute: string | undefined) => (attribute === undefined ? null : firstString(entry, attribute));
  const attributes: Record<string, string[]> = {};
  for (const [name, attribute] of extrasInOrder(mapping)) {
    const v = stringValues(entry, attribute);
    if (v.length > 0) attributes[name] = v;
  }
  const reason: DisabledReason | null = directoryDisabled ? 'directory-disabled' : null;
  const state: UserState = {
    externalId,
    sid: null,
    sidHistory: [],
    dn: entry.dn,
    loginName,
    userPrincipalName: optional(mapping.userPrincipalName),
    displayName,
    givenName: optional(mapping.givenName),
    surname: optional(mapping.surname),
    emails: mapping.email === undefined ? [] : [...stringValues(entry, mapping.email)].sort(),
    phone: optional(mapping.phone),
    title: optional(mapping.title),
    company: optional(mapping.company),
    enabled: !directoryDisabled,
    disabledReason: reason,
    attributes,
  };
  return checked(
    entry,
    externalId,
    dialect.enrichUser ? dialect.enrichUser(entry, state) : state,
    parseGeneralizedTime(firstString(entry, mapping.modified)),
  );
}

export function mapGroup(entry: LdapEntry, mapping: GroupMapping, dialect: Dialect): Mapped<GroupState> {
  const externalId = readExternalId(entry, mapping.externalId, dialect);
  if (externalId === null) return missing(entry, null, mapping.externalId, 'externalId');
  const name = firstString(entry, mapping.name);
  if (name === null) return missing(entry, externalId, mapping.name, 'name');
  const state: GroupState = {
    externalId,
    sid: null,
    dn: entry.dn,
    name,
    description: firstString(entry, mapping.description),
    present: true,
    attributes: {},
  };
  return checked(
    entry,
    externalId,
    dialect.enrichGroup ? dialect.enrichGroup(entry, state) : state,
    parseGeneralizedTime(firstString(entry, mapping.modified)),
  );
}
