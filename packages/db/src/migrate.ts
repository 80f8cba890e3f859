import type { DatabaseConfig } from '@dirstream/config';
import { Migrator } from '@mikro-orm/migrations';
import type { Options } from '@mikro-orm/postgresql';
import { openDatabase, quoteIdent, type Sql } from './database.ts';

export { Migration } from '@mikro-orm/migrations';

// biome-ignore lint/suspicious/noExplicitAny: MikroORM constructs migrations with its own arguments
export type MigrationClass = new (...args: any[]) => import('@mikro-orm/migrations').Migration;

/** Numbered migrations, oldest first: `name` is recorded in the table once applied. */
export type MigrationList = readonly { readonly name: string; readonly class: MigrationClass }[];

export type RunMigrationsOptions = {
  readonly migrations: MigrationList;
  /** The table that records applied migrations. */
  readonly tableName: string;
  /** Schema of that table (created when missing); default: the connection's search path. */
  readonly schema?: string;
  /**
   * Session advisory lock held while migrating: processes that start together take turns. A
   * string is hashed by PostgreSQL (hashtext).
   */
  readonly lockKey: number | string;
  /** Extra MikroORM options (the applier's entities). */
  readonly orm?: Options;
};

/**
 * Applies the pending migrations with MikroORM's migrator (each in its own transaction, all or
 * nothing); idempotent, concurrent callers wait for each other. Returns the names applied.
 */
export async function runMigrations(config: DatabaseConfig, options: RunMigrationsOptions): Promise<string[]> {
  const db = await openDatabase(config, {
    poolSize: 3,
    orm: {
      ...options.orm,
      extensions: [Migrator],
      migrations: {
        migrationsList: [...options.migrations],
        tableName: options.tableName,
        ...(options.schema === undefined ? {} : { schema: options.schema }),
        transactional: true,
        allOrNothing: true,
        silent: true,
      },
    },
  });
  try {
    // The lock lives on a connection of its own, held while the migrator works on others.
    const lock = await db.session();
    try {
      await lock.query(`select pg_advisory_lock(${lockExpression(options.lockKey)})`, [options.lockKey]);
      try {
        const applied = await db.orm.migrator.up();
        return applied.map((m) => m.name);
      } finally {
        await lock.query(`select pg_advisory_unlock(${lockExpression(options.lockKey)})`, [options.lockKey]).catch(() => undefined);
      }
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
}

function lockExpression(key: number | string): string {
  return typeof key === 'string' ? 'hashtext($1)' : '$1';
}

/**
 * The migrations of the list not recorded yet (all of them when the table does not exist): a
 * cheap check on an open pool, so a process that starts on an up-to-date schema does not open
 * the migrator's own connections.
 */
export async function pendingMigrations(
  sql: Sql,
  options: Pick<RunMigrationsOptions, 'migrations' | 'tableName' | 'schema'>,
): Promise<string[]> {
  const table =
    options.schema === undefined ? quoteIdent(options.tableName) : `${quoteIdent(options.schema)}.${quoteIdent(options.tableName)}`;
  const [exists] = await sql.query<{ found: boolean }>('select to_regclass($1) is not null as found', [table]);
  const done = new Set(exists?.found === true ? (await sql.query<{ name: string }>(`select name from ${table}`)).map((r) => r.name) : []);
  return options.migrations.map((m) => m.name).filter((name) => !done.has(name));
}
