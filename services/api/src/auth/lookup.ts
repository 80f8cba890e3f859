import { parsePgArray, type Sql } from '@dirstream/applier';
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

export type EffectiveGroup = { readonly id: string; readonly name: string };

/** A directory user row of the application database (what sign-in needs of it), with its access. */
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
  /** Effective (nested) groups that are present, ordered by name. */
  readonly groups: readonly EffectiveGroup[];
  /** The roles those groups grant (none while the user is disabled), sorted. */
  readonly roles: readonly string[];
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
  groups: EffectiveGroup[];
  roles: string[] | string;
};

/** The first `DC=` label of a DN, lowercase (the NetBIOS domain name in default AD set-ups). */
export function firstDcLabel(dn: string): string | null {
  const match = /(?:^|,)\s*dc\s*=\s*([^,]+)/i.exec(dn);
  return match?.[1] === undefined ? null : match[1].trim().toLowerCase();
}

/**
 * The login's users with their effective groups and roles, in one statement (one round trip per
 * sign-in). Effective groups follow the rules of the `effective_memberships` view (direct edges
 * that are present, nested through groups, cycle-safe by the path array) but the recursion starts
 * at this user: the view builds the closure of every member before filtering, which a sign-in
 * cannot afford on a large directory. Roles follow `user_effective_roles`: the names a group's
 * events bound to it (`groups.role_bindings`, migration 20261126153000), enabled users only.
 */
const CANDIDATES_SQL = `
select u.profile_id, u.external_id, u.login_name, u.user_principal_name, u.display_name, u.emails, u.dn, u.sid, u.enabled,
       a.groups, a.roles
  from users u
 cross join lateral (
   with recursive closure (group_id, path) as (
     select m.group_id, array[m.member_id, m.group_id]
       from memberships m
      where m.profile_id = u.profile_id and m.member_id = u.external_id and m.member_type = 'user' and m.present
     union all
     select m.group_id, c.path || m.group_id
       from closure c
       join memberships m on m.profile_id = u.profile_id and m.member_id = c.group_id and m.member_type = 'group' and m.present
      where not (m.group_id = any (c.path))
   ), effective as (
     select g.external_id, g.name, g.role_bindings
       from (select distinct group_id from closure) e
       join groups g on g.profile_id = u.profile_id and g.external_id = e.group_id and g.present
   )
   select coalesce((select json_agg(json_build_object('id', external_id, 'name', name) order by lower(name), external_id) from effective),
                   '[]'::json) as groups,
          array(select distinct gr.role
                  from effective e
                  join group_roles gr on gr.profile_id = u.profile_id and lower(gr.group_name) = any (e.role_bindings)
                 where u.enabled) as roles
 ) a
 where u.profile_id = any($1::uuid[])
   and (lower(u.login_name) = lower($2) or ($3::text is not null and lower(u.user_principal_name) = lower($3::text)))
 order by u.id`;

/**
 * The candidates for a login among `profiles`, in the order given (the caller's profile order).
 * Disabled users are returned too: a known user with the right password whose account is
 * disabled gets 403, not 401.
 */
export async function findCandidates(db: Sql, login: string, profiles: readonly ProfileConfig[]): Promise<Candidate[]> {
  const form = parseLogin(login);
  const rows = await db.query<Row>(CANDIDATES_SQL, [profiles.map((p) => p.id), form.name, form.principal]);
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
          groups: row.groups,
          roles: parsePgArray(row.roles).sort(),
        },
      });
    }
  }
  return out;
}
