import type { DatabaseConfig } from '@dirstream/config';
import { Migrator } from '@mikro-orm/migrations';
import type { Options } from '@mikro-orm/postgresql';
import { openDatabase } from './database.ts';

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
  /** Session advisory lock held while migrating: processes that start together take turns. */
  readonly lockKey: number;
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
      await lock.query('select pg_advisory_lock($1)', [options.lockKey]);
      try {
        const applied = await db.orm.migrator.up();
        return applied.map((m) => m.name);
      } finally {
        await lock.query('select pg_advisory_unlock($1)', [options.lockKey]).catch(() => undefined);
      }
    } finally {
      await lock.release();
    }
  } finally {
    await db.close();
  }
}
