import { userMappingAttributes } from '@dirstream/config';
import { createError, errorCode } from '@dirstream/errors';
import type { UserState } from '@dirstream/events';
import { diffUser } from '../../core/diff.ts';
import { stateHash } from '../../core/hash.ts';
import type { UserChange } from '../../core/types.ts';
import { normaliseDn } from '../../directory/dn.ts';
import type { LdapEntry } from '../../directory/entry.ts';
import { lookahead } from '../../directory/lookahead.ts';
import { mapUser } from '../../directory/mapping.ts';
import type { ResolvedMember } from '../../state/store.ts';
import { and, idsOfMapped, type RunContext } from '../context.ts';

/** A user who entered the scope, or took a new DN or login, in a delta: groups already listing them are re-read too. */
export type EnteredUser = { readonly dn: string; readonly login: string };

/** The profile's user filter (the dialect's default unless mapped). */
export function userFilter(ctx: RunContext): string {
  return ctx.userMapping.filter ?? ctx.dialect.defaultUserFilter;
}

async function processUserPage(ctx: RunContext, page: readonly LdapEntry[], disabled: boolean, entered: EnteredUser[]): Promise<void> {
  const { mode, store, scratch, tally, resolution } = ctx;
  tally.usersRead += page.length;
  ctx.counts.entriesRead += page.length;
  const mapped = page.map((entry) => mapUser(entry, ctx.userMapping, ctx.dialect, disabled));
  const ids = idsOfMapped(ctx, mapped);
  const ok = mapped.filter((m) => m.ok);
  // Compare hashes first: the stored state is read only for entries that changed.
  const [heads] = await Promise.all([
    store.loadUserHeads(ok.map((m) => m.externalId)),
    mode === 'full' ? scratch.markSeen('user', ids) : undefined,
  ]);
  const candidates: { m: (typeof ok)[number]; state: UserState; hash: string }[] = [];
  for (const m of ok) {
    let state = m.state;
    const head = heads.get(m.externalId);
    // "Synchronize only groups" decides after the groups were read: keep its verdict until then.
    if (ctx.profile.policies.onlyGroupMembers && state.enabled && head?.disabledReason === 'not-in-synced-group') {
      state = { ...state, enabled: false, disabledReason: 'not-in-synced-group' };
    }
    const hash = stateHash(state);
    if (head?.present && head.hash === hash) continue;
    candidates.push({ m, state, hash });
  }
  const prev = await store.loadUsers(candidates.filter((c) => heads.has(c.m.externalId)).map((c) => c.m.externalId));
  const direct: UserChange[] = [];
  const held: UserChange[] = [];
  const t = ctx.now();
  for (const { m, state, hash } of candidates) {
    const before = prev.get(m.externalId) ?? null;
    const change = diffUser(before, state, t, hash);
    if (!change) continue;
    // Entered the scope, or took a DN / login a group may already list (without refint a group
    // keeps the value of an entry deleted or renamed before, and names the new holder now).
    const arrived = before === null || !before.present || change.rename !== null || change.changed.includes('loginName');
    if (mode === 'delta' && arrived) entered.push({ dn: state.dn, login: state.loginName });
    ctx.changedAt.set(change.externalId, m.changedAt);
    // Disabling changes wait for the safety decision at the end of the run.
    if (change.disables) {
      held.push(change);
      if (change.rename !== null || change.changed.includes('loginName')) {
        const member: ResolvedMember = { memberId: change.externalId, memberType: 'user' };
        resolution.heldByDn.set(normaliseDn(change.state.dn), member);
        resolution.heldByLogin.set(change.state.loginName.toLowerCase(), member);
        resolution.changed = true;
      }
    } else direct.push(change);
  }
  await scratch.holdBack(held);
  await ctx.delivery.queue({ users: direct });
  ctx.progress.add(page.length, 'users');
}

/**
 * Reads the users (enabled and disabled separately when the dialect tells them apart by filter),
 * produces the non-disabling changes and holds the disabling ones back. Returns the users that
 * entered the scope, or took a new DN or login, in a delta.
 */
export async function readUsers(ctx: RunContext, usersBefore: { readonly present: number }): Promise<EnteredUser[]> {
  const { profile, dialect, conn, tally } = ctx;
  const disabledRule = dialect.disabledFilter(profile.users.disabledFilter);
  const filter = userFilter(ctx);
  const attributes = [...new Set([...userMappingAttributes(ctx.userMapping), ...dialect.extraUserAttributes])];
  const variants: { filter: (clause: string | null) => string; disabled: boolean }[] = disabledRule
    ? [
        { filter: (c) => and(filter, c, `(!${disabledRule.startsWith('(') ? disabledRule : `(${disabledRule})`})`), disabled: false },
        { filter: (c) => and(filter, c, disabledRule), disabled: true },
      ]
    : [{ filter: (c) => and(filter, c), disabled: false }];
  const entered: EnteredUser[] = [];
  for (const clause of ctx.clauses) {
    for (const variant of variants) {
      const pages = lookahead(
        conn.searchPages(
          {
            baseDn: profile.users.baseDn,
            scope: profile.users.scope,
            filter: variant.filter(clause),
            attributes,
            binary: dialect.binaryAttributes,
            ignoreReferrals: dialect.ignoreReferrals,
            pageSize: ctx.pageSize,
          },
          ctx.signal,
        ),
      );
      try {
        for await (const page of pages) await processUserPage(ctx, page, variant.disabled, entered);
      } catch (cause) {
        // A base DN that does not exist reads as "no users": the zero-entries rule decides below.
        if (errorCode(cause) !== 'LDAP_NO_SUCH_OBJECT' || tally.usersRead > 0) throw cause;
        tally.usersBaseMissing = true;
      }
    }
  }
  if (tally.usersBaseMissing && (ctx.mode === 'delta' || usersBefore.present === 0)) {
    throw createError('LDAP_NO_SUCH_OBJECT', `users base DN ${profile.users.baseDn} does not exist`, { retriable: false });
  }
  await ctx.delivery.flush();
  return entered;
}
