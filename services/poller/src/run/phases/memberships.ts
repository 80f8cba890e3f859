import { createHash } from 'node:crypto';
import { type CurrentMember, diffEdges } from '../../core/diff.ts';
import type { EdgeChange } from '../../core/types.ts';
import type { MembersHash } from '../../delivery/ordered-delivery.ts';
import type { GroupMapping } from '../../directory/dialect.ts';
import { normaliseDn } from '../../directory/dn.ts';
import type { LdapEntry } from '../../directory/entry.ts';
import { lookahead } from '../../directory/lookahead.ts';
import { readExternalId } from '../../directory/mapping.ts';
import { and, type RunContext } from '../context.ts';
import { currentDns } from '../directory-lookup.ts';
import { groupFilter } from './groups.ts';

const GROUP_MEMBER_PAGE = 100;
const EDGE_SLICE = 5_000;

type ListedGroup = { groupId: string; groupDn: string; dns: string[]; logins: string[] };

/** The identity of a group's member list as read (normalised, order-free) and of how it is read. */
function membersHash(dns: readonly string[], logins: readonly string[], attributes: readonly string[], nested: boolean): string {
  return createHash('sha256')
    .update(JSON.stringify([nested, [...attributes].sort(), [...dns].sort(), [...logins].sort()]))
    .digest('base64url');
}

/** One page of groups with their member lists: the edge changes, produced in slices. Returns the unresolved member count. */
async function processMemberPage(
  ctx: RunContext,
  mapping: GroupMapping,
  page: readonly LdapEntry[],
  earlierRenames: boolean,
): Promise<number> {
  const { store, dialect, resolution, logger } = ctx;
  const nested = ctx.profile.groups?.nested === true;
  const listed: ListedGroup[] = [];
  for (const entry of page) {
    const groupId = readExternalId(entry, mapping.externalId, dialect);
    if (groupId === null) continue;
    const members = await dialect.readMembers(entry, mapping, ctx.conn);
    listed.push({
      groupId,
      groupDn: entry.dn,
      dns: members.dns.map(normaliseDn),
      logins: members.loginNames.map((l) => l.toLowerCase()),
    });
  }
  // A group whose member list is unchanged since its edges were last stored (and which had
  // no unresolved member) is skipped, unless this run changed what DNs resolve to.
  const known = await store.loadGroups(listed.map((g) => g.groupId));
  const present = listed.filter((g) => known.get(g.groupId)?.state.present === true);
  const hashes = new Map(present.map((g) => [g.groupId, membersHash(g.dns, g.logins, mapping.memberAttributes, nested)]));
  const unchanged = resolution.changed ? [] : present.filter((g) => known.get(g.groupId)?.membersHash === hashes.get(g.groupId));
  // Without a rename before this run no member value can be a dangling former DN: the member
  // lists of unchanged groups are not sent to the database at all.
  const dangling = earlierRenames ? await store.earlierFormerDns(unchanged.flatMap((g) => g.dns)) : new Set<string>();
  const work = resolution.changed
    ? present
    : present.filter((g) => known.get(g.groupId)?.membersHash !== hashes.get(g.groupId) || g.dns.some((dn) => dangling.has(dn)));
  const [resolved, previousEdges] = await Promise.all([
    store.resolveMembers(
      work.flatMap((g) => g.dns),
      work.flatMap((g) => g.logins),
    ),
    store.loadEdges(work.map((g) => g.groupId)),
  ]);
  const t = ctx.now();
  let unresolved = 0;
  const edges: EdgeChange[] = [];
  const stored: MembersHash[] = [];
  const diffs: {
    groupId: string;
    missingDns: Set<string>;
    missing: number;
    viaFormerDn: boolean;
    added: EdgeChange[];
    removed: EdgeChange[];
  }[] = [];
  for (const g of work) {
    const current: CurrentMember[] = [];
    const missingDns = new Set<string>();
    let missing = 0;
    const viaFormerDn = g.dns.some((dn) => resolved.formerDns.has(dn));
    for (const dn of g.dns) {
      const member = resolved.byDn.get(dn) ?? resolution.heldByDn.get(dn);
      // A former DN keeps an edge through the pass that saw the rename; it never adds one (a
      // user moved back in under another DN is not a member of a group naming a stale DN).
      const stale = member !== undefined && resolved.formerDns.has(dn) && previousEdges.get(g.groupId)?.has(member.memberId) !== true;
      if (!member || stale) {
        missing++;
        missingDns.add(dn);
      } else if (member.memberType === 'user' || nested) current.push(member);
    }
    for (const login of g.logins) {
      const member = resolved.byLogin.get(login) ?? resolution.heldByLogin.get(login);
      if (member) current.push(member);
      else missing++;
    }
    unresolved += missing;
    // Members outside the synced users and groups (another OU, computers, a dangling DN
    // the server kept) are normal in real directories: reported per group, not errors.
    if (missing > 0) {
      const example = missingDns.values().next().value ?? g.logins.find((l) => !resolved.byLogin.has(l));
      logger.info({ dn: g.groupDn, unresolved: missing, example }, 'group members outside the synced users and groups were skipped');
    }
    diffs.push({
      groupId: g.groupId,
      missingDns,
      missing,
      viaFormerDn,
      ...diffEdges(g.groupId, previousEdges.get(g.groupId) ?? new Map(), current, t),
    });
  }
  // A member renamed after this run read the users (or refint already rewrote the group
  // for a rename the state has not seen yet) is listed under a DN the state does not know:
  // before an edge is removed, the member's current DN is asked from the directory.
  const doubtful = diffs.filter((d) => d.removed.length > 0 && d.missingDns.size > 0);
  if (doubtful.length > 0) {
    const dnOf = await currentDns(
      ctx,
      doubtful.flatMap((d) => d.removed),
    );
    for (const d of doubtful) {
      d.removed = d.removed.filter((e) => {
        const dn = dnOf.get(e.memberId);
        return dn === undefined || !d.missingDns.has(dn) || (e.memberType === 'group' && !nested);
      });
    }
  }
  for (const d of diffs) {
    for (const edge of d.added) edges.push(edge);
    for (const edge of d.removed) edges.push(edge);
    // A member found through its former DN counts for this pass only: the group is read again next time.
    const hash = d.missing === 0 && !d.viaFormerDn ? (hashes.get(d.groupId) ?? null) : null;
    if (hash !== known.get(d.groupId)?.membersHash) stored.push({ groupId: d.groupId, hash });
  }
  // A page with very large groups is produced in slices: memory follows the slice, not the
  // page. The member-list hashes go with the last slice, once every edge of the page is stored.
  const slices = Math.max(1, Math.ceil(edges.length / EDGE_SLICE));
  for (let i = 0; i < slices; i++) {
    await ctx.delivery.queue({ edges: edges.slice(i * EDGE_SLICE, (i + 1) * EDGE_SLICE), membersHashes: i === slices - 1 ? stored : [] });
  }
  return unresolved;
}

/** Reads the groups' member lists and produces the edge changes (DESIGN invariant 9). */
export async function readMemberships(ctx: RunContext, mapping: GroupMapping, clauses: readonly (string | null)[]): Promise<void> {
  const groups = ctx.profile.groups;
  if (!groups) return;
  let unresolved = 0;
  const earlierRenames = await ctx.store.hasEarlierFormerDns();
  for (const clause of clauses) {
    for await (const page of lookahead(
      ctx.conn.searchPages(
        {
          baseDn: groups.baseDn,
          scope: groups.scope,
          filter: and(groupFilter(ctx, mapping), clause),
          attributes: [mapping.externalId, ...mapping.memberAttributes],
          binary: ctx.dialect.binaryAttributes,
          ignoreReferrals: ctx.dialect.ignoreReferrals,
          pageSize: GROUP_MEMBER_PAGE,
        },
        ctx.signal,
      ),
    )) {
      unresolved += await processMemberPage(ctx, mapping, page, earlierRenames);
    }
    // A group matching several delta clauses must see the edges its first reading stored.
    await ctx.delivery.flush();
  }
  await ctx.delivery.flush();
  if (unresolved > 0) ctx.logger.info({ unresolved }, 'member values outside the synced users and groups were skipped in total');
}
