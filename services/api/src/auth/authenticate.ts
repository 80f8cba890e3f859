import type { Database } from '@dirstream/applier';
import type { DirstreamConfig, ProfileConfig } from '@dirstream/config';
import { isDirstreamError, toError } from '@dirstream/errors';
import type { Logger } from '@dirstream/logging';
import { normaliseDn, type SyncControl } from '@dirstream/poller';
import type { Client } from 'ldapts';
import type { BindRefusal } from './ad-codes.ts';
import type { BindOutcome, BindPool } from './bind.ts';
import type { ProfileDirectory } from './directory.ts';
import { findUnsyncedEntry, mapEntry, syncNewUser } from './first-sign-in.ts';
import type { AccessCache } from './access-cache.ts';
import { type Candidate, type EffectiveGroup, parseLogin } from './lookup.ts';
import type { AuthResult } from './outcomes.ts';
import { loginKey, type RateLimits, userKey } from './rate-limit.ts';

/**
 * The sign-in decision (docs/authentication.md "How it decides"): rate limits, the database
 * lookup, the bind as the user on the profile's bind pool (with one retry on a re-resolved DN),
 * the synced state, and the first sign-in of a user the database does not know yet. It returns
 * an outcome; the route turns it into a response, an event and metrics.
 */
export type AuthRequest = {
  readonly login: string;
  /** Lives in this object only, for the length of the request. */
  readonly password: string;
  readonly profile?: string | undefined;
  readonly clientAddress: string;
};

export type AuthenticatedUser = {
  readonly profileId: string;
  readonly profileName: string;
  readonly externalId: string;
  readonly loginName: string;
  readonly displayName: string;
  readonly emails: readonly string[];
  readonly sid?: string;
  readonly groups: readonly EffectiveGroup[];
  readonly roles: readonly string[];
};

export type AuthOutcome = {
  readonly result: AuthResult;
  /** The profile that answered (or that the login named), when there is one. */
  readonly profile: ProfileConfig | null;
  readonly externalId: string | null;
  readonly firstSignIn: boolean;
  readonly user?: AuthenticatedUser;
  /** False when a first sign-in answered from the directory before the applier stored the user. */
  readonly synced?: boolean;
  /** directory-unavailable: which profiles did not answer. */
  readonly unavailable?: readonly string[];
  /** rate-limited: when to come back. */
  readonly retryAfterMs?: number;
};

export type Authenticator = {
  authenticate(request: AuthRequest): Promise<AuthOutcome>;
  /** The configured profiles a request may name (id or name), in sign-in order; null when unknown. */
  profilesFor(profile: string | undefined): readonly ProfileConfig[] | null;
};

export type AuthenticatorDeps = {
  readonly config: DirstreamConfig;
  readonly db: Database;
  /** The login → users, groups and roles lookup (from memory while the database keeps it current). */
  readonly access: AccessCache;
  readonly logger: Logger;
  readonly limits: RateLimits;
  readonly pools: ReadonlyMap<string, BindPool>;
  readonly directories: ReadonlyMap<string, ProfileDirectory>;
  readonly syncControl: () => Promise<SyncControl>;
};

/** A DN that names no entry in any directory we talk to: binding to it costs what a real bind costs. */
const DUMMY_RDN = 'cn=dirstream-no-such-user-1f0e4d2a';

/** Profiles in sign-in order: `serve.auth.profileOrder` first, then the file order; disabled profiles never. */
export function orderProfiles(config: DirstreamConfig): ProfileConfig[] {
  const enabled = config.profiles.filter((p) => p.enabled);
  const rank = (p: ProfileConfig) => {
    const index = config.serve.auth.profileOrder.findIndex((key) => key === p.id || key === p.name);
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  };
  return enabled
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
}

/**
 * The profile's directory cannot answer this sign-in: no server answered, or the service account
 * (the stale-DN and first sign-in lookups) was refused — e.g. its own password expired (data 532).
 */
function isUnavailable(cause: unknown): boolean {
  return (
    isDirstreamError(cause, 'AUTH_DIRECTORY_UNAVAILABLE') ||
    isDirstreamError(cause, 'LDAP_CONNECTION_FAILED') ||
    isDirstreamError(cause, 'LDAP_BIND_FAILED')
  );
}

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { config, db, logger, limits } = deps;
  const ordered = orderProfiles(config);
  const auth = config.serve.auth;

  const pool = (profile: ProfileConfig) => deps.pools.get(profile.id) as BindPool;
  const directory = (profile: ProfileConfig) => deps.directories.get(profile.id) as ProfileDirectory;

  /**
   * After a successful bind, on the user's own connection: does the profile's disabled rule match
   * the entry now? (AD refuses the bind of a disabled account itself, data 533; other servers
   * accept it, and only the profile's `disabledFilter` says the account is off.) An entry the
   * user may not read counts as not disabled: the synced state decides then.
   */
  const disabledCheck = (profile: ProfileConfig, dn: string) => {
    const rule = profile.users.disabledFilter;
    if (rule === undefined) return undefined;
    return async (client: Client) => {
      try {
        const { searchEntries } = await client.search(dn, { scope: 'base', filter: `(&(objectClass=*)${rule})`, attributes: ['1.1'] });
        return searchEntries.length > 0;
      } catch (cause) {
        logger.debug({ profileId: profile.id, err: toError(cause) }, 'disabled rule not readable as the user');
        return false;
      }
    };
  };

  /** Bind as a synced user; on "invalid credentials" re-resolve the DN by external ID and retry once if it moved. */
  async function bindKnown(candidate: Candidate, password: string): Promise<BindOutcome<boolean | undefined>> {
    const { profile, user } = candidate;
    const first = await pool(profile).bind(user.dn, password, disabledCheck(profile, user.dn));
    if (first.ok || first.refusal !== 'invalid-credentials') return first;
    // Also done when the DN did not move: a wrong password then costs one bind and one search,
    // as an unknown login does (one search, one bind), so timing tells them apart less.
    const entry = await directory(profile).findById(user.externalId);
    if (entry === null || normaliseDn(entry.dn) === normaliseDn(user.dn)) return first;
    logger.info({ profileId: profile.id, externalId: user.externalId }, 'sign-in: DN moved since the last sync, binding at the new DN');
    return pool(profile).bind(entry.dn, password, disabledCheck(profile, entry.dn));
  }

  function succeed(candidate: Candidate, firstSignIn: boolean): AuthOutcome {
    const { profile, user } = candidate;
    return {
      result: 'success',
      profile,
      externalId: user.externalId,
      firstSignIn,
      synced: true,
      user: {
        profileId: profile.id,
        profileName: profile.name,
        externalId: user.externalId,
        loginName: user.loginName,
        displayName: user.displayName,
        emails: user.emails,
        ...(user.sid === null ? {} : { sid: user.sid }),
        groups: user.groups,
        roles: user.roles,
      },
    };
  }

  const refused = (
    result: BindRefusal | 'directory-unavailable',
    profile: ProfileConfig | null,
    externalId: string | null,
    firstSignIn = false,
    unavailable?: string[],
  ): AuthOutcome => ({
    result,
    profile,
    externalId,
    firstSignIn,
    ...(unavailable === undefined ? {} : { unavailable }),
  });

  async function trySynced(candidates: readonly Candidate[], password: string): Promise<AuthOutcome> {
    const unavailable: string[] = [];
    for (const candidate of candidates) {
      let outcome: BindOutcome<boolean | undefined>;
      try {
        outcome = await bindKnown(candidate, password);
      } catch (cause) {
        if (!isUnavailable(cause)) throw cause;
        unavailable.push(candidate.profile.name);
        continue;
      }
      const { profile, user } = candidate;
      if (!outcome.ok) {
        // The directory recognised the account and said why it cannot sign in: that is the answer.
        if (outcome.refusal !== 'invalid-credentials') return refused(outcome.refusal, profile, user.externalId);
        continue;
      }
      if (outcome.value === true || !user.enabled) return refused('account-disabled', profile, user.externalId);
      return succeed(candidate, false);
    }
    // Never "accept" and never "wrong password" while the directory that may hold the right answer is away.
    if (unavailable.length > 0) return refused('directory-unavailable', null, null, false, unavailable);
    const named = candidates[0] as Candidate;
    return refused('invalid-credentials', named.profile, named.user.externalId);
  }

  async function dummyBind(profiles: readonly ProfileConfig[], password: string): Promise<void> {
    const profile = profiles[0];
    if (profile === undefined) return;
    await pool(profile)
      .bind(`${DUMMY_RDN},${profile.users.baseDn}`, password)
      .catch(() => undefined);
  }

  async function tryUnsynced(profiles: readonly ProfileConfig[], login: string, password: string): Promise<AuthOutcome> {
    if (!auth.firstSignIn.enabled) {
      await dummyBind(profiles, password);
      return refused('invalid-credentials', null, null);
    }
    const form = parseLogin(login);
    const unavailable: string[] = [];
    let named: { profile: ProfileConfig; externalId: string } | null = null;
    for (const profile of profiles) {
      const dir = directory(profile);
      try {
        const entry = await findUnsyncedEntry(dir, form);
        if (entry === null) continue;
        const state = mapEntry(dir, entry);
        if (state === null) {
          // The poller could not sync it either (a required attribute is missing): not a user of ours.
          logger.warn({ profileId: profile.id }, 'first sign-in: the entry found cannot be mapped (see the sync log)');
          continue;
        }
        const outcome = await pool(profile).bind(entry.dn, password, disabledCheck(profile, entry.dn));
        if (!outcome.ok) {
          if (outcome.refusal !== 'invalid-credentials') return refused(outcome.refusal, profile, state.externalId, true);
          named ??= { profile, externalId: state.externalId };
          continue;
        }
        if (outcome.value === true || !state.enabled) return refused('account-disabled', profile, state.externalId, true);
        const stored = await syncNewUser(
          { db, syncControl: deps.syncControl, logger, waitMs: auth.firstSignIn.waitMs },
          profile.id,
          state.externalId,
          state.loginName,
        );
        if (stored) {
          // Read back as stored (with the memberships the same pass synced), never from the cache.
          const found = (await deps.access.read(login, [profile])).find((c) => c.user.externalId === state.externalId);
          if (found !== undefined) return succeed(found, true);
        }
        return {
          result: 'success',
          profile,
          externalId: state.externalId,
          firstSignIn: true,
          synced: false,
          user: {
            profileId: profile.id,
            profileName: profile.name,
            externalId: state.externalId,
            loginName: state.loginName,
            displayName: state.displayName,
            emails: state.emails,
            ...(state.sid === null ? {} : { sid: state.sid }),
            groups: [],
            roles: [],
          },
        };
      } catch (cause) {
        if (!isUnavailable(cause)) throw cause;
        unavailable.push(profile.name);
      }
    }
    if (named !== null) return refused('invalid-credentials', named.profile, named.externalId, true);
    if (unavailable.length === profiles.length && profiles.length > 0)
      return refused('directory-unavailable', null, null, false, unavailable);
    // Nobody has this login: spend a bind like a wrong password does (timing, invariant 10).
    await dummyBind(
      profiles.filter((p) => !unavailable.includes(p.name)),
      password,
    );
    if (unavailable.length > 0) return refused('directory-unavailable', null, null, false, unavailable);
    return refused('invalid-credentials', null, null);
  }

  function profilesFor(key: string | undefined): readonly ProfileConfig[] | null {
    if (key === undefined) return ordered;
    const found = ordered.filter((p) => p.id === key || p.name === key);
    return found.length === 0 ? null : found.slice(0, 1);
  }

  return {
    profilesFor,
    async authenticate(request) {
      const profiles = profilesFor(request.profile) ?? [];
      const typed = loginKey(request.login);
      const keys = { client: request.clientAddress, logins: [typed] };
      let wait = await limits.blockedFor(keys);
      if (wait > 0) return { result: 'rate-limited', profile: null, externalId: null, firstSignIn: false, retryAfterMs: wait };

      const lookup = await deps.access.lookup(request.login, profiles);
      const candidates = lookup.candidates;
      const identity = [typed, ...candidates.map((c) => userKey(c.profile.id, c.user.externalId))];
      wait = await limits.blockedFor({ client: request.clientAddress, logins: identity });
      if (wait > 0) {
        const first = candidates[0];
        return {
          result: 'rate-limited',
          profile: first?.profile ?? null,
          externalId: first?.user.externalId ?? null,
          firstSignIn: false,
          retryAfterMs: wait,
        };
      }

      let outcome =
        candidates.length > 0
          ? await trySynced(candidates, request.password)
          : await tryUnsynced(profiles, request.login, request.password);
      // Decided from memory while the database changed (the NOTIFY came during the bind): decide
      // again from the database. Only answers that the synced state shaped: the bind accepted the
      // password, so binding again cannot count towards a lockout.
      if (
        lookup.generation !== null &&
        (outcome.result === 'success' || outcome.result === 'account-disabled') &&
        deps.access.changedSince(lookup.generation)
      ) {
        const fresh = await deps.access.read(request.login, profiles);
        outcome =
          fresh.length > 0 ? await trySynced(fresh, request.password) : await tryUnsynced(profiles, request.login, request.password);
      }
      const logins =
        outcome.profile !== null && outcome.externalId !== null ? [...identity, userKey(outcome.profile.id, outcome.externalId)] : identity;
      if (outcome.result === 'invalid-credentials')
        await limits.recordFailure({ client: request.clientAddress, logins: [...new Set(logins)] });
      else if (outcome.result === 'success') await limits.recordSuccess([...new Set(logins)]);
      return outcome;
    },
  };
}
