import type { SyncControl } from '@dirstream/poller';
import { createSyncControl } from '@dirstream/poller';
import type { ServeContext } from '../context.ts';
import { createAccessCache } from './access-cache.ts';
import { type Authenticator, createAuthenticator, orderProfiles } from './authenticate.ts';
import { type BindPool, createBindPool } from './bind.ts';
import { createProfileDirectory, type ProfileDirectory } from './directory.ts';
import { type ClientCheck, createClientCheck } from './clients.ts';
import { type AuthEventPublisher, createAuthEventPublisher } from './events.ts';
import { type AuthMetrics, createAuthMetrics } from './metrics.ts';
import { createRateLimits } from './rate-limit.ts';

/**
 * Everything sign-in holds for the life of the process: a bind pool and a service-account
 * directory per profile, the rate limits, the auth-event publisher, the metrics and (opened on
 * the first first-sign-in) the poller's sync control. Registers one readiness check per profile.
 */
export type AuthService = {
  readonly authenticator: Authenticator;
  readonly events: AuthEventPublisher;
  readonly metrics: AuthMetrics;
  readonly clients: ClientCheck;
  /** Lookups answered so far from the lookup cache and from the database. */
  lookups(): { readonly cache: number; readonly database: number };
  /** Whether the lookup cache answers now (docs/authentication.md, "Lookup cache"). */
  readonly cacheLive: boolean;
  close(): Promise<void>;
};

export function createAuthService(ctx: ServeContext): AuthService {
  const { config, logger } = ctx;
  const log = logger.child({ component: 'auth' });
  const metrics = createAuthMetrics(ctx.metrics);
  const pools = new Map<string, BindPool>();
  const directories = new Map<string, ProfileDirectory>();
  for (const profile of orderProfiles(config)) {
    pools.set(
      profile.id,
      createBindPool({
        profile,
        maxPerServer: config.serve.auth.maxConcurrentBindsPerServer,
        logger: log,
        onServerError: (url) => metrics.bindError(profile.id, url),
      }),
    );
    const directory = createProfileDirectory(profile, log);
    directories.set(profile.id, directory);
    if (!profile.connection.startTls && profile.connection.urls.some((url) => url.startsWith('ldap:'))) {
      log.warn(
        { profileId: profile.id },
        `profile ${profile.name}: user passwords would cross the network unencrypted (ldap:// without startTls)`,
      );
    }
    ctx.readiness.push({ name: `directory:${profile.name}`, check: () => directory.ping() });
  }

  const clients = createClientCheck(config.serve.auth.clients);
  if (clients.open && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(config.serve.listen.host)) {
    log.warn(
      { host: config.serve.listen.host },
      'sign-in is open to any caller that reaches the public listener: set serve.auth.clients so that only your applications can check passwords',
    );
  }

  let control: Promise<SyncControl> | null = null;
  const syncControl = () => {
    control ??= createSyncControl(config.database);
    const pending = control;
    pending.catch(() => {
      if (control === pending) control = null;
    });
    return pending;
  };

  const access = createAccessCache({
    db: ctx.db,
    database: config.database,
    enabled: config.serve.auth.cache.enabled,
    maxEntries: config.serve.auth.cache.maxEntries,
    logger: log,
    onLookup: (source) => metrics.lookup(source),
  });
  metrics.cacheLiveFrom(() => access.live);
  const events = createAuthEventPublisher({ kafka: config.kafka, logger: log, onDropped: (n) => metrics.eventDropped(n) });
  const authenticator = createAuthenticator({
    config,
    db: ctx.db,
    access,
    logger: log,
    limits: createRateLimits(config.serve.auth.rateLimit),
    pools,
    directories,
    syncControl,
  });

  return {
    authenticator,
    events,
    metrics,
    clients,
    lookups: () => access.counts(),
    get cacheLive() {
      return access.live;
    },
    async close() {
      await events.close();
      await access.close();
      await Promise.all([...pools.values()].map((p) => p.close()));
      await Promise.all([...directories.values()].map((d) => d.close()));
      const pending = control;
      control = null;
      if (pending) await (await pending.catch(() => null))?.close();
    },
  };
}
