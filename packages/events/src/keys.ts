/**
 * Kafka record keys. Identity is (profileId, externalId) for users and groups and the direct edge
 * (profileId, groupId, memberId) for memberships; compaction keeps the newest record per key, so
 * one identity must always produce byte-for-byte the same key.
 *
 * Components are joined with `/`. External IDs come from directories and may contain anything
 * (a DN-like configured attribute can hold `/`), so each component is escaped: `%` → `%25` and
 * `/` → `%2F`, nothing else. A GUID or UUID is left unchanged, so the usual key reads as
 * `<profileId>/<externalId>`. Parsing accepts only that canonical escaping, which keeps
 * key → parts → key an identity.
 */
import { DirstreamError } from '@dirstream/errors';

export type EntityKey = { readonly profileId: string; readonly externalId: string };
export type MembershipKey = {
  readonly profileId: string;
  readonly groupId: string;
  readonly memberId: string;
};

export const KEY_INVALID = 'EVENT_KEY_INVALID';

function invalidKey(message: string, details: Record<string, unknown>): DirstreamError {
  return new DirstreamError(KEY_INVALID, message, { retriable: false, details });
}

function escapeComponent(value: string, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidKey(`key component ${name} must be a non-empty string`, { component: name });
  }
  // A lone surrogate would not survive the UTF-8 round trip through Kafka.
  if (!value.isWellFormed()) {
    throw invalidKey(`key component ${name} is not well-formed Unicode`, { component: name });
  }
  if (value.indexOf('%') === -1 && value.indexOf('/') === -1) return value;
  return value.replaceAll('%', '%25').replaceAll('/', '%2F');
}

function unescapeComponent(part: string, key: string): string {
  if (part.length === 0) throw invalidKey('key has an empty component', { key });
  if (part.indexOf('%') === -1) return part;
  let out = '';
  let from = 0;
  for (let at = part.indexOf('%'); at !== -1; at = part.indexOf('%', from)) {
    const code = part.slice(at + 1, at + 3);
    if (code !== '25' && code !== '2F') {
      throw invalidKey(`key has an invalid escape "%${code}" (only %25 and %2F)`, { key });
    }
    out += part.slice(from, at) + (code === '25' ? '%' : '/');
    from = at + 3;
  }
  return out + part.slice(from);
}

function keyText(key: string | Uint8Array | null | undefined): string {
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(key);
    } catch (error) {
      throw new DirstreamError(KEY_INVALID, 'key is not valid UTF-8', { cause: error });
    }
  }
  throw invalidKey('record has no key', {});
}

function splitKey(key: string | Uint8Array | null | undefined, parts: number): string[] {
  const text = keyText(key);
  const split = text.split('/');
  if (split.length !== parts) {
    throw invalidKey(`key must have ${parts} components separated by "/", got ${split.length}`, {
      key: text,
    });
  }
  return split.map((part) => unescapeComponent(part, text));
}

/** `<profileId>/<externalId>`: the key of a user on `<prefix>.users`. */
export function userKey(profileId: string, externalId: string): string {
  return `${escapeComponent(profileId, 'profileId')}/${escapeComponent(externalId, 'externalId')}`;
}

/** `<profileId>/<externalId>`: the key of a group on `<prefix>.groups`. */
export function groupKey(profileId: string, externalId: string): string {
  return userKey(profileId, externalId);
}

/** `<profileId>/<groupId>/<memberId>`: one direct edge on `<prefix>.memberships`. */
export function membershipKey(profileId: string, groupId: string, memberId: string): string {
  return `${escapeComponent(profileId, 'profileId')}/${escapeComponent(groupId, 'groupId')}/${escapeComponent(memberId, 'memberId')}`;
}

/**
 * `<profileId>`: the key of a sync run on `<prefix>.sync-runs`, so the runs of one profile stay
 * in order. (user-lifecycle records use userKey; dead letters keep the original record's key.)
 */
export function syncRunKey(profileId: string): string {
  return escapeComponent(profileId, 'profileId');
}

/** The inverse of userKey / groupKey. Throws EVENT_KEY_INVALID. Accepts a Kafka key Buffer. */
export function parseEntityKey(key: string | Uint8Array | null | undefined): EntityKey {
  const [profileId, externalId] = splitKey(key, 2) as [string, string];
  return { profileId, externalId };
}

/** The inverse of membershipKey. Throws EVENT_KEY_INVALID. Accepts a Kafka key Buffer. */
export function parseMembershipKey(key: string | Uint8Array | null | undefined): MembershipKey {
  const [profileId, groupId, memberId] = splitKey(key, 3) as [string, string, string];
  return { profileId, groupId, memberId };
}
