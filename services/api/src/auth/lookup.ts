import { type Database, findMemberAccess, parsePgArray } from '@dirstream/applier';
import type { ProfileConfig } from '@dirstream/config';

/**
 * Which synced directory users a typed login may mean. The forms: the login name
 * (case-insensitive), on Active Directory also `user@realm` (userPrincipalName) and
 * `DOMAIN\login` (DOMAIN compared with the first `DC=` label of the user's DN, which is the
 * NetBIOS name in every default AD set-up). Local accounts (no profile) never sign in here.
 */
export type LoginForm = {
  /** What is compared with login_name. */
  readonly name: string;
  /** `DOMAIN` of `DOMAIN\login`, lowercase, or null. */
  readonly domain: string | null;
  /** The whole login when it may be a userPrincipalName (has an @), else null. */
  readonly principal: string | null;
};

export function parseLogin(login: string): LoginForm {
  const slash = login.indexOf('\\');
  if (slash > 0 && slash < login.length - 1 && !login.includes('\\', slash + 1)) {
    return { name: login.slice(slash + 1), domain: login.slice(0, slash).toLowerCase(), principal: null };
  }
  return { name: login, domain: null, principal: login.includes('@') ? login : null };
}

/** A directory user row of the application database (what sign-in needs of it). */
export type UserRecord = {
  readonly profileId: string;
  readonly externalId: string;
  readonly loginName: string;
  readonly userPrincipalName: string | null;
  readonly displayName: string;
  readonly emails: readonly string[];
  readonly dn: string;
  readonly sid: string | null;
  readonly enabled: boolean;
};

export type Candidate = { readonly profile: ProfileConfig; readonly user: UserRecord };

type Row = {
  profile_id: string;
  external_id: string;
  login_name: string;
  user_principal_name: string | null;
  display_name: string;
  emails: string[] | string;
  dn: string | null;
  sid: string | null;
  enabled: boolean;
};

/** The first `DC=` label of a DN, lowercase (the NetBIOS domain name in default AD set-ups). */
export function firstDcLabel(dn: string): string | null {
  const match = /(?:^|,)\s*dc\s*=\s*([^,]+)/i.exec(dn);
  return match?.[1] === undefined ? null : match[1].trim().toLowerCase();
}

/**
 * The candidates for a login among `profiles`, in the order given (the caller's profile order).
 * Disabled users are returned too: a known user with the right password whose account is
 * disabled gets 403, not 401.
 */
export async function findCandidates(db: Database, login: string, profiles: readonly ProfileConfig[]): Promise<Candidate[]> {
  const form = parseLogin(login);
  const ids = profiles.map((p) => p.id);
  const rows = await db.query<Row>(
    `select profile_id, external_id, login_name, user_principal_name, display_name, emails, dn, sid, enabled
       from users
      where profile_id = any($1::uuid[])
        and (lower(login_name) = lower($2) or ($3::text is not null and lower(user_principal_name) = lower($3::text)))
      order by id`,
    [ids, form.name, form.principal],
  );
  const out: Candidate[] = [];
  for (const profile of profiles) {
    for (const row of rows) {
      if (row.profile_id !== profile.id || row.dn === null) continue;
      if (form.domain !== null && (profile.directory !== 'active-directory' || firstDcLabel(row.dn) !== form.domain)) continue;
      out.push({
        profile,
        user: {
          profileId: row.profile_id,
          externalId: row.external_id,
          loginName: row.login_name,
          userPrincipalName: row.user_principal_name,
          displayName: row.display_name,
          emails: parsePgArray(row.emails),
          dn: row.dn,
          sid: row.sid,
          enabled: row.enabled,
        },
      });
    }
  }
  return out;
}

export type EffectiveGroup = { readonly id: string; readonly name: string };

/** Effective (nested) groups with their names, and the roles they grant (one statement). */
export function findGroupsAndRoles(
  db: Database,
  profileId: string,
  externalId: string,
): Promise<{ groups: EffectiveGroup[]; roles: string[] }> {
  return findMemberAccess(db, profileId, externalId);
}
