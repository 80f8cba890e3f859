import type { EdgeChange } from '../core/types.ts';
import { chunkedIdClauses } from '../directory/delta-timestamp.ts';
import { normaliseDn } from '../directory/dn.ts';
import { readExternalId } from '../directory/mapping.ts';
import type { RunContext } from './context.ts';

type Lookup = {
  readonly ids: readonly string[];
  readonly base: string;
  readonly scope: 'base' | 'one' | 'sub';
  readonly attribute: string;
};

/** The entries with these IDs below `base` (whatever the filter): ID → normalised DN. */
async function findByIds(ctx: RunContext, lookup: Lookup): Promise<Map<string, string>> {
  const { conn, dialect } = ctx;
  const out = new Map<string, string>();
  for (const clause of chunkedIdClauses([...new Set(lookup.ids)], (id) => dialect.idFilter(lookup.attribute, id))) {
    const entries = await conn.searchAll({
      baseDn: lookup.base,
      scope: lookup.scope,
      filter: clause,
      attributes: [lookup.attribute],
      binary: dialect.binaryAttributes,
      ignoreReferrals: dialect.ignoreReferrals,
    });
    for (const entry of entries) {
      const id = readExternalId(entry, lookup.attribute, dialect);
      if (id !== null) out.set(id, normaliseDn(entry.dn));
    }
  }
  return out;
}

/** Which of these user IDs still exist below the users base, whatever the filter. */
export async function existingUserIds(ctx: RunContext, ids: readonly string[]): Promise<Set<string>> {
  if (ctx.tally.usersBaseMissing) return new Set();
  const { users } = ctx.profile;
  const found = await findByIds(ctx, { ids, base: users.baseDn, scope: users.scope, attribute: ctx.userMapping.externalId });
  return new Set(found.keys());
}

/** The normalised DNs the directory holds now for these members (users base, groups base). */
export async function currentDns(ctx: RunContext, members: readonly EdgeChange[]): Promise<Map<string, string>> {
  const { profile, userMapping, groupMapping } = ctx;
  const idsOf = (type: EdgeChange['memberType']) => members.filter((m) => m.memberType === type).map((m) => m.memberId);
  const users = await findByIds(ctx, {
    ids: idsOf('user'),
    base: profile.users.baseDn,
    scope: profile.users.scope,
    attribute: userMapping.externalId,
  });
  if (!profile.groups || !groupMapping) return users;
  const groups = await findByIds(ctx, {
    ids: idsOf('group'),
    base: profile.groups.baseDn,
    scope: profile.groups.scope,
    attribute: groupMapping.externalId,
  });
  return new Map([...users, ...groups]);
}
