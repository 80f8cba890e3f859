import { diffGroup } from '../../core/diff.ts';
import type { GroupChange } from '../../core/types.ts';
import { chunkedIdClauses } from '../../directory/delta-timestamp.ts';
import type { GroupMapping } from '../../directory/dialect.ts';
import { escapeFilterValue } from '../../directory/dn.ts';
import { lookahead } from '../../directory/lookahead.ts';
import { groupAttributeList, mapGroup } from '../../directory/mapping.ts';
import { and, idsOfMapped, type RunContext } from '../context.ts';
import { formerDnClauses } from '../former-dn-clauses.ts';
import type { EnteredUser } from './users.ts';

/** The profile's group filter (the dialect's default unless mapped). */
export function groupFilter(ctx: RunContext, mapping: GroupMapping): string {
  return mapping.filter ?? ctx.dialect.defaultGroupFilter;
}

/** The clauses the groups are read with: a full pass reads all; a delta also re-reads the groups its changes may concern. */
export async function groupClauses(
  ctx: RunContext,
  mapping: GroupMapping,
  entered: readonly EnteredUser[],
): Promise<readonly (string | null)[]> {
  if (ctx.mode === 'full') return ctx.clauses;
  // A group may list a user before the user entered the scope (created, back in the filter):
  // no change of the group marks it, so a delta re-reads the groups naming these users.
  const memberClauses = namingClauses(mapping, entered);
  // Groups still naming a member by a DN it left in an earlier pass (no refint, or refint not
  // covering the group) hold a dangling reference now: a delta re-reads them too.
  const formerClauses = await formerDnClauses(ctx.store, (id) => ctx.dialect.idFilter(mapping.externalId, id));
  return [...ctx.clauses, ...memberClauses, ...formerClauses];
}

/** Clauses for the groups listing these entries as members: 50 entries a clause, one part per member attribute each. */
function namingClauses(mapping: GroupMapping, entries: readonly { readonly dn: string; readonly login: string | null }[]): string[] {
  return chunkedIdClauses(
    entries.flatMap((e) =>
      mapping.memberAttributes.flatMap((attribute) =>
        attribute === 'memberUid'
          ? e.login === null
            ? []
            : [`(memberUid=${escapeFilterValue(e.login)})`]
          : [`(${attribute}=${escapeFilterValue(e.dn)})`],
      ),
    ),
    (part) => part,
    50 * mapping.memberAttributes.length,
  );
}

/**
 * The clauses a delta reads memberships with: the groups' clauses, and the groups listing a group
 * that took its DN in this pass (created, renamed or moved): without refint a group may still list
 * that DN for an entry deleted or renamed before, and names the new holder now (DESIGN invariant 9),
 * though no change of its own marks it.
 */
export function membershipClauses(ctx: RunContext, mapping: GroupMapping, clauses: readonly (string | null)[], arrived: readonly string[]) {
  if (ctx.mode === 'full' || arrived.length === 0) return clauses;
  return [
    ...clauses,
    ...namingClauses(
      mapping,
      arrived.map((dn) => ({ dn, login: null })),
    ),
  ];
}

/**
 * Reads the groups as entities (so group→group members resolve before the edges are read).
 * Returns, in a delta, the DNs groups took in this pass (see membershipClauses).
 */
export async function readGroups(ctx: RunContext, mapping: GroupMapping, clauses: readonly (string | null)[]): Promise<string[]> {
  const { profile, dialect, mode } = ctx;
  const groups = profile.groups;
  const arrived: string[] = [];
  if (!groups) return arrived;
  for (const clause of clauses) {
    for await (const page of lookahead(
      ctx.conn.searchPages(
        {
          baseDn: groups.baseDn,
          scope: groups.scope,
          filter: and(groupFilter(ctx, mapping), clause),
          attributes: [...groupAttributeList(mapping, false), ...dialect.extraGroupAttributes],
          binary: dialect.binaryAttributes,
          ignoreReferrals: dialect.ignoreReferrals,
          pageSize: ctx.pageSize,
        },
        ctx.signal,
      ),
    )) {
      ctx.counts.entriesRead += page.length;
      const mapped = page.map((entry) => mapGroup(entry, mapping, dialect));
      const ids = idsOfMapped(ctx, mapped);
      if (mode === 'full') await ctx.scratch.markSeen('group', ids);
      const ok = mapped.filter((m) => m.ok);
      const prev = await ctx.store.loadGroups(ok.map((m) => m.externalId));
      const t = ctx.now();
      const out: GroupChange[] = [];
      for (const m of ok) {
        const change = diffGroup(prev.get(m.externalId) ?? null, m.state, t);
        if (change) {
          ctx.changedAt.set(change.externalId, m.changedAt);
          out.push(change);
          if (mode === 'delta' && (change.op === 'created' || change.rename !== null)) arrived.push(change.state.dn);
        }
      }
      await ctx.delivery.queue({ groups: out });
      ctx.progress.add(page.length, 'groups');
    }
    await ctx.delivery.flush();
  }
  await ctx.delivery.flush();
  return arrived;
}
