import type { DirstreamConfig } from '@dirstream/config';
import { RateLimiterMemory } from 'rate-limiter-flexible';

/**
 * Failed sign-ins counted per login (every spelling of it: the typed login and, once resolved,
 * the user it names) and per client address, each in a fixed window. Only failures count: a
 * user who signs in is never slowed down, and a success clears the login's count. In memory per
 * process: behind N replicas an attacker gets N times the budget, so size `perLogin.failures`
 * with the replica count in mind (docs/authentication.md).
 */
export type RateLimits = {
  /** Milliseconds until one of these keys may try again, or 0 when none is over its budget. */
  blockedFor(keys: { readonly client: string; readonly logins: readonly string[] }): Promise<number>;
  recordFailure(keys: { readonly client: string; readonly logins: readonly string[] }): Promise<void>;
  recordSuccess(logins: readonly string[]): Promise<void>;
};

/** The key of a typed login: case and Unicode form do not make a new budget. */
export function loginKey(login: string): string {
  return `login:${login.normalize('NFKC').toLowerCase()}`;
}

export function userKey(profileId: string, externalId: string): string {
  return `user:${profileId}/${externalId}`;
}

export function createRateLimits(config: DirstreamConfig['serve']['auth']['rateLimit']): RateLimits {
  const perLogin = new RateLimiterMemory({
    points: config.perLogin.failures,
    duration: config.perLogin.windowSeconds,
    keyPrefix: 'auth-login',
  });
  const perClient = new RateLimiterMemory({
    points: config.perClient.failures,
    duration: config.perClient.windowSeconds,
    keyPrefix: 'auth-client',
  });

  const wait = async (limiter: RateLimiterMemory, key: string, budget: number) => {
    const state = await limiter.get(key);
    return state !== null && state.consumedPoints >= budget ? Math.max(1, state.msBeforeNext) : 0;
  };

  return {
    async blockedFor({ client, logins }) {
      const waits = await Promise.all([
        wait(perClient, client, config.perClient.failures),
        ...logins.map((key) => wait(perLogin, key, config.perLogin.failures)),
      ]);
      return waits.reduce((a, b) => Math.max(a, b), 0);
    },
    async recordFailure({ client, logins }) {
      await Promise.all([perClient.penalty(client, 1), ...logins.map((key) => perLogin.penalty(key, 1))]);
    },
    async recordSuccess(logins) {
      await Promise.all(logins.map((key) => perLogin.delete(key)));
    },
  };
}
