import type { DatabaseConfig } from '@dirstream/config';
import { classifySqlState, createError, type ErrorCode, toError } from '@dirstream/errors';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { CompiledQuery, type Kysely } from 'kysely';

/**
 * How dirstream talks to PostgreSQL: MikroORM owns the pool (and the applier's entities and
 * migrations); SQL goes through its Kysely instance as text with real `$1` bind parameters.
 * Arrays and JSON travel as parameters (a JS array binds as a PostgreSQL array, an object or a
 * `JSON.stringify`ed string as json), never spliced into the statement.
 */
export type Sql = {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
};

export type Database = Sql & {
  /** The poller's state schema from the configuration (quoted with quoteIdent when used). */
  readonly schema: string;
  /** The MikroORM instance that owns the pool: entities and the migrator, nothing else. */
  readonly orm: MikroORM;
  /** One transaction: every statement of `work` commits together or not at all. */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  /** A dedicated connection held until `release` (advisory locks, LISTEN, temporary tables). */
  session(): Promise<Session>;
  close(): Promise<void>;
};

export type Session = Sql & { release(): Promise<void> };

export type OpenDatabaseOptions = {
  /** Pool size; defaults to config.poolSize. */
  readonly poolSize?: number;
  /**
   * When set, a failed statement is thrown as a DirstreamError with this code (retriable when its
   * SQLSTATE says connection, serialization, resources or shutdown), the driver's error as its
   * cause. Unset: the driver's error itself (its `code` is the SQLSTATE).
   */
  readonly queryErrorCode?: ErrorCode;
  /** Extra MikroORM options (entities, extensions, migrations). */
  readonly orm?: Options;
};

// biome-ignore lint/suspicious/noExplicitAny: raw SQL has no table types
type AnyKysely = Kysely<any>;

/** A SQLSTATE worth a retry: every class but the data ones (classifySqlState, packages/errors). */
export function isRetriableSqlState(sqlState: unknown): boolean {
  return typeof sqlState === 'string' && classifySqlState(sqlState) === 'retriable';
}

function sqlOn(executor: AnyKysely, errorCode: ErrorCode | undefined): Sql {
  return {
    async query<R>(text: string, params: readonly unknown[] = []) {
      try {
        const result = await executor.executeQuery(CompiledQuery.raw(text, params as unknown[]));
        return result.rows as R[];
      } catch (cause) {
        const err = toError(cause);
        if (errorCode === undefined) throw err;
        const sqlState = (err as { code?: unknown }).code;
        throw createError(errorCode, `query failed: ${err.message}`, {
          retriable: isRetriableSqlState(sqlState),
          cause: err,
          details: { sqlState },
        });
      }
    },
  };
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Opens the pool on the configured database. Fails with DB_CONNECT_FAILED (retriable). */
export async function openDatabase(config: DatabaseConfig, options: OpenDatabaseOptions = {}): Promise<Database> {
  let orm: MikroORM;
  try {
    orm = await MikroORM.init({
      clientUrl: config.url,
      ...(config.password === undefined ? {} : { password: config.password }),
      entities: [],
      discovery: { warnWhenNoEntities: false },
      pool: { min: 0, max: options.poolSize ?? config.poolSize },
      debug: false,
      allowGlobalContext: false,
      ...options.orm,
    });
  } catch (cause) {
    throw createError('DB_CONNECT_FAILED', 'cannot connect to the database', { retriable: true, cause });
  }
  const kysely = orm.em.getKysely() as AnyKysely;
  const code = options.queryErrorCode;
  const base = sqlOn(kysely, code);
  return {
    schema: config.pollerSchema,
    orm,
    query: base.query,
    async transaction(work) {
      return kysely.transaction().execute((trx) => work(sqlOn(trx as AnyKysely, code)));
    },
    session() {
      return new Promise<Session>((resolve, reject) => {
        let release!: () => void;
        const released = new Promise<void>((r) => {
          release = r;
        });
        let opened = false;
        const finished = kysely
          .connection()
          .execute(async (connection) => {
            opened = true;
            resolve({
              ...sqlOn(connection as AnyKysely, code),
              release: async () => {
                release();
                await finished;
              },
            });
            await released;
          })
          .catch((cause: unknown) => {
            if (!opened) reject(toError(cause));
          });
      });
    },
    async close() {
      await orm.close(true);
    },
  };
}
