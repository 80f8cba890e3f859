import { z } from 'zod';

/**
 * The shape of dirstream.yaml. Every key is documented in docs/configuration.md; the JSON Schema
 * exported from this (config/dirstream.schema.json) lets editors complete the file.
 */

/** A secret is never written inline: it comes from an environment variable or a file. */
export const secretSchema = z
  .union([z.object({ env: z.string().min(1) }).strict(), z.object({ file: z.string().min(1) }).strict()])
  .describe('A secret: { env: NAME } or { file: /path } (never inline)');

const dn = z.string().min(1);
/** An LDAP attribute name; empty would silently read nothing. */
const attribute = z.string().min(1);
/** An LDAP filter; empty is not a filter. */
const filter = z.string().min(1);
const scope = z.enum(['base', 'one', 'sub']).default('sub');

export const connectionSchema = z
  .object({
    /** Tried in order; the next one on connection failure. */
    urls: z.array(z.string().regex(/^ldaps?:\/\//, 'must start with ldap:// or ldaps://')).min(1),
    startTls: z.boolean().default(false),
    tls: z
      .object({
        caFile: z.string().optional(),
        /** Verification is on unless explicitly turned off. */
        rejectUnauthorized: z.boolean().default(true),
        serverName: z.string().optional(),
      })
      .strict()
      .default({ rejectUnauthorized: true }),
    bindDn: dn,
    bindPassword: secretSchema,
    connectTimeoutMs: z.number().int().positive().default(10_000),
    timeoutMs: z.number().int().positive().default(60_000),
    pageSize: z.number().int().min(1).max(10_000).default(500),
  })
  .strict();

export const userAttributesSchema = z
  .object({
    externalId: attribute.optional(),
    loginName: attribute.optional(),
    displayName: attribute.optional(),
    modified: attribute.optional(),
    givenName: attribute.optional(),
    surname: attribute.optional(),
    email: attribute.optional(),
    phone: attribute.optional(),
    title: attribute.optional(),
    company: attribute.optional(),
    userPrincipalName: attribute.optional(),
    /** Extra attributes carried in `state.attributes`: output name → LDAP attribute. */
    extra: z.record(z.string(), attribute).default({}),
  })
  .strict()
  .default({ extra: {} })
  .describe('Attribute mapping; unset keys take the directory type defaults');

export const usersSchema = z
  .object({
    baseDn: dn,
    scope,
    filter: filter.optional(),
    attributes: userAttributesSchema,
    /** LDAP filter matching disabled users (AD: the userAccountControl bit is always applied). */
    disabledFilter: filter.optional(),
  })
  .strict();

export const groupsSchema = z
  .object({
    baseDn: dn,
    scope,
    filter: filter.optional(),
    nameAttribute: attribute.optional(),
    idAttribute: attribute.optional(),
    memberAttributes: z
      .array(z.enum(['member', 'uniqueMember', 'memberUid']))
      .min(1)
      .optional(),
    nested: z.boolean().default(true),
  })
  .strict();

export const scheduleSchema = z
  .object({
    intervalSeconds: z.number().int().positive().default(300),
    /** Every how many seconds a delta run is replaced by a full pass (the safety net). */
    fullEverySeconds: z.number().int().positive().default(86_400),
    /** The differential mechanism; `auto` probes the server and picks the best it offers (docs/delta-mechanisms.md). */
    delta: z.enum(['auto', 'none', 'timestamp', 'accesslog', 'syncrepl', 'usn', 'dirsync']).default('auto'),
    /** Timestamp deltas re-read this many seconds before the cursor (clock skew, same-second writes). */
    overlapSeconds: z.number().int().min(0).default(5),
    /**
     * Timestamp deltas page through the IDs only to find deletions and entries that left the
     * filter. Unset means on (optional rather than defaulted, so hand-built configs stay valid).
     */
    removalCheck: z.boolean().optional(),
  })
  .strict()
  .default({ intervalSeconds: 300, fullEverySeconds: 86_400, delta: 'auto', overlapSeconds: 5 });

export const policiesSchema = z
  .object({
    /** What happens to users that leave the directory or the filter. */
    removedUsers: z.enum(['disable', 'keep']).default('disable'),
    /** What happens to groups that leave the directory or the filter; unset means `remove`. */
    removedGroups: z.enum(['remove', 'keep']).optional(),
    /** "Synchronize only groups": users outside every synced group are disabled. */
    onlyGroupMembers: z.boolean().default(false),
    /** A run that would disable more users than this halts (count). */
    maxDisableCount: z.number().int().min(0).default(100),
    /** … or more than this share of the profile's enabled users (percent). */
    maxDisablePercent: z.number().min(0).max(100).default(10),
    allowMassDisable: z.boolean().default(false),
    /** A local account with the same login name: skip the directory user, link them, or fail. */
    conflictPolicy: z.enum(['skip', 'link', 'fail']).default('skip'),
    /** Group name → application roles granted to its (effective) members. */
    groupRoles: z.record(z.string(), z.array(z.string())).default({}),
  })
  .strict()
  .default({
    removedUsers: 'disable',
    onlyGroupMembers: false,
    maxDisableCount: 100,
    maxDisablePercent: 10,
    allowMassDisable: false,
    conflictPolicy: 'skip',
    groupRoles: {},
  });

export const profileSchema = z
  .object({
    id: z.uuid(),
    name: z.string().min(1),
    directory: z.enum(['active-directory', 'openldap', 'ldap']),
    enabled: z.boolean().default(true),
    connection: connectionSchema,
    users: usersSchema,
    groups: groupsSchema.optional(),
    schedule: scheduleSchema,
    policies: policiesSchema,
  })
  .strict();

export const kafkaSchema = z
  .object({
    brokers: z.array(z.string().min(1)).min(1),
    clientId: z.string().default('dirstream'),
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .default('dirstream'),
    partitions: z.number().int().positive().default(12),
    replicationFactor: z.number().int().positive().default(1),
    /**
     * min.insync.replicas of the topics dirstream creates: with acks=all (the producers' setting) a
     * write succeeds only once this many replicas have it. Unset: 2 when replicationFactor ≥ 3,
     * else the broker's default.
     */
    minInsyncReplicas: z.number().int().positive().optional(),
    /**
     * Largest event record (key + encoded value) the poller produces; a bigger entry is reported
     * as ENTRY_TOO_LARGE and skipped. Keep it below the topics' max.message.bytes (default 1 MiB).
     * Unset: 1,000,000 (the poller's default).
     */
    maxEventBytes: z.number().int().min(1_024).optional(),
    ssl: z.boolean().default(false),
    /**
     * TLS to the brokers with a private CA and/or a client certificate (mutual TLS). Setting it
     * turns TLS on, as `ssl: true` does; files resolve against the config file's folder.
     */
    tls: z
      .object({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        /** Verification is on unless explicitly turned off. */
        rejectUnauthorized: z.boolean().default(true),
        serverName: z.string().optional(),
      })
      .strict()
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: 'certFile and keyFile go together (a client certificate needs its key)',
      })
      .optional(),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: secretSchema,
      })
      .strict()
      .optional(),
  })
  .strict();

export const databaseSchema = z
  .object({
    /** postgres://user@host:port/db — put the password in `password`, not in the URL. */
    url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    password: secretSchema.optional(),
    /** Schema of the poller's own state (cursors, hashes, versions). */
    pollerSchema: z.string().default('dirstream_poller'),
    poolSize: z.number().int().positive().default(10),
  })
  .strict();

export const applierSchema = z
  .object({
    groupId: z.string().default('dirstream-applier'),
    /** Max records applied in one transaction. */
    maxBatchSize: z.number().int().positive().default(2_000),
    /** Where /metrics, /healthz and /readyz listen: 0.0.0.0 (or the pod IP) for Prometheus and probes. */
    metricsHost: z.string().min(1).default('127.0.0.1'),
    metricsPort: z.number().int().min(0).max(65_535).default(9464),
    /** Warn when more enabled directory users than this exist (0 = no limit). */
    seatLimit: z.number().int().min(0).default(0),
    applyRetries: z.number().int().min(0).default(3),
  })
  .strict()
  .default({
    groupId: 'dirstream-applier',
    maxBatchSize: 2_000,
    metricsHost: '127.0.0.1',
    metricsPort: 9464,
    seatLimit: 0,
    applyRetries: 3,
  });

/** The `poller` block when the file has none (also what hand-built configs in tests use). */
export const POLLER_DEFAULTS = { metricsHost: '127.0.0.1', metricsPort: 9465 } as const;

/** `dirstream poller`: its /metrics, /healthz and /readyz listener. */
export const pollerSchema = z
  .object({
    metricsHost: z.string().min(1).default(POLLER_DEFAULTS.metricsHost),
    metricsPort: z.number().int().min(0).max(65_535).default(POLLER_DEFAULTS.metricsPort),
  })
  .strict()
  .default(POLLER_DEFAULTS);

/** A listener's TLS: PEM files, read at start-up. */
export const listenerTlsSchema = z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict();

/** A bearer token for the admin listener: a secret and the role it grants. */
export const adminTokenSchema = z
  .object({
    /** Who holds the token (shown in logs, never the token itself). */
    name: z.string().min(1),
    role: z.enum(['viewer', 'operator']),
    token: secretSchema,
  })
  .strict();

/** `serve.auth` when the file has none: see docs/authentication.md for why these numbers. */
export const AUTH_DEFAULTS = {
  clients: [] as never[],
  profileOrder: [] as string[],
  rateLimit: {
    perLogin: { failures: 4, windowSeconds: 900 },
    perClient: { failures: 200, windowSeconds: 60 },
  },
  maxConcurrentBindsPerServer: 16,
  cache: { enabled: true, maxEntries: 10_000 },
  failureFloorMs: 150,
  firstSignIn: { enabled: true, waitMs: 5_000 },
} as const;

/** `serve.auth`: sign-in by binding to the directory as the user (POST /v1/authenticate). */
export const authSchema = z
  .object({
    /** Applications allowed to call sign-in, each with its bearer token; empty = any caller that reaches the listener. */
    clients: z.array(z.object({ name: z.string().min(1), token: secretSchema }).strict()).default([]),
    /** Profiles (id or name) tried first, in this order, when a login exists in several; the rest follow in file order. */
    profileOrder: z.array(z.string().min(1)).default([]),
    rateLimit: z
      .object({
        /** Failed attempts per login (and per resolved user) in the window; keep below the directory's lockout threshold. */
        perLogin: z
          .object({ failures: z.number().int().min(1).default(4), windowSeconds: z.number().int().min(1).default(900) })
          .strict()
          .default(AUTH_DEFAULTS.rateLimit.perLogin),
        /** Failed attempts per client address in the window (an application server speaks for many users). */
        perClient: z
          .object({ failures: z.number().int().min(1).default(200), windowSeconds: z.number().int().min(1).default(60) })
          .strict()
          .default(AUTH_DEFAULTS.rateLimit.perClient),
      })
      .strict()
      .default(AUTH_DEFAULTS.rateLimit),
    /** User binds in flight per directory server (and pooled bind connections per server). */
    maxConcurrentBindsPerServer: z.number().int().min(1).max(1_024).default(16),
    cache: z
      .object({
        /**
         * Keep each login's users, groups and roles in memory, cleared by the database (a NOTIFY from
         * the application tables' triggers) whenever they change; off while that LISTEN is down.
         */
        enabled: z.boolean().default(true),
        /** Logins kept (least recently used dropped first); each holds its users' groups and roles. */
        maxEntries: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .default(AUTH_DEFAULTS.cache),
    /** Every refused sign-in (401) answers no sooner than this after the request arrived, hiding what was checked. */
    failureFloorMs: z.number().int().min(0).max(10_000).default(150),
    firstSignIn: z
      .object({
        /** A login the directory has but the database not yet: bind, ask the poller to sync, answer. */
        enabled: z.boolean().default(true),
        /** How long to wait for the applier to store the new user before answering from the directory read. */
        waitMs: z.number().int().min(0).max(60_000).default(5_000),
      })
      .strict()
      .default(AUTH_DEFAULTS.firstSignIn),
  })
  .strict()
  .default(AUTH_DEFAULTS);

/** The `serve` block when the file has none (also what hand-built configs in tests use). */
export const SERVE_DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080 },
  bodyLimitBytes: 16_384,
  admin: { host: '127.0.0.1', port: 8081, tokens: [] as never[] },
  auth: AUTH_DEFAULTS,
} as const;

/** `dirstream serve`: the public listener (sign-in, health, metrics) and the admin listener. */
export const serveSchema = z
  .object({
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        tls: listenerTlsSchema.optional(),
      })
      .strict()
      .default(SERVE_DEFAULTS.listen),
    /** Largest request body accepted, in bytes (413 above). */
    bodyLimitBytes: z.number().int().min(256).max(1_048_576).default(16_384),
    admin: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8081),
        tls: listenerTlsSchema.optional(),
        tokens: z.array(adminTokenSchema).default([]),
      })
      .strict()
      .default(SERVE_DEFAULTS.admin),
    auth: authSchema,
  })
  .strict()
  .default(SERVE_DEFAULTS);

/** OpenTelemetry tracing: off unless an OTLP endpoint is set here or in OTEL_EXPORTER_OTLP_ENDPOINT. */
export const tracingSchema = z
  .object({
    /** OTLP/HTTP base URL of a collector (spans go to `<url>/v1/traces`); wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
    otlpEndpoint: z
      .string()
      .regex(/^https?:\/\//, 'must be an http:// or https:// URL')
      .optional(),
  })
  .strict()
  .optional();

export const configSchema = z
  .object({
    kafka: kafkaSchema,
    database: databaseSchema,
    poller: pollerSchema,
    applier: applierSchema,
    serve: serveSchema,
    tracing: tracingSchema,
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    profiles: z.array(profileSchema).default([]),
  })
  .strict();

export type Secret = z.infer<typeof secretSchema>;
export type RawConfig = z.infer<typeof configSchema>;
export type ProfileConfigRaw = z.infer<typeof profileSchema>;
