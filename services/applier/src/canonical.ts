import { createHash } from 'node:crypto';
import { stableJson } from '@dirstream/events';
import type { Sql } from './database.ts';

export type CanonicalDump = { readonly hash: string; readonly text: string };

/**
 * A sorted, hashed export of the state an application sees: users, groups, present memberships
 * and effective roles. Row IDs and wall-clock timestamps are left out, so a replay into an empty
 * database dumps the same text as the live database it was rebuilt from.
 */
export async function canonicalDump(source: Sql): Promise<CanonicalDump> {
  const run = (sql: string) => source.query(sql);
  const sections: [string, Record<string, unknown>[]][] = [
    [
      'user',
      await run(`select profile_id, external_id, source, login_name, user_principal_name, display_name, given_name,
          surname, emails, phone, title, company, dn, sid, enabled, disabled_reason, version::text as version, attributes
        from users order by profile_id nulls first, external_id nulls first, lower(login_name), login_name`),
    ],
    [
      'group',
      await run(`select profile_id, external_id, name, description, dn, sid, present, version::text as version, attributes
        from groups order by profile_id, external_id`),
    ],
    [
      'membership',
      await run(`select profile_id, group_id, member_id, member_type
        from memberships where present order by profile_id, group_id, member_id`),
    ],
    [
      'role',
      await run(`select profile_id, external_id, role from user_effective_roles
        order by profile_id, external_id, role`),
    ],
  ];
  const lines: string[] = [];
  for (const [name, rows] of sections) {
    for (const row of rows) lines.push(`${name} ${stableJson(row)}`);
  }
  const text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  return { hash: createHash('sha256').update(text).digest('hex'), text };
}
