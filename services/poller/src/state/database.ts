import type { DatabaseConfig } from '@dirstream/config';
import { type Database, type MigrationList, openDatabase, pendingMigrations, runMigrations } from '@dirstream/db';
import { createError } from '@dirstream/errors';
import { stateMigration } from './migrations/0001_state.ts';
import { previousDnMigration } from './migrations/0002_previous_dn.ts';
import { syncRequestsMigration } from './migrations/0003_sync_requests.ts';
import { profileActivityMigration } from './migrations/0004_profile_activity.ts';
import { roleBindingsMigration } from './migrations/0005_role_bindings.ts';

/** The poller's migrations, oldest first; the recorded name is the number and the subject. */
export function pollerMigrations(schema: string): MigrationList {
  return [
    { name: '0001_state', class: stateMigration(schema) },
    { name: '0002_previous_dn', class: previousDnMigration(schema) },
    { name: '0003_sync_requests', class: syncRequestsMigration(schema) },
    { name: '0004_profile_activity', class: profileActivityMigration(schema) },
    { name: '0005_role_bindings', class: roleBindingsMigration(schema) },
  ];
}

const MIGRATIONS_TABLE = 'dirstream_poller_migrations';

/**
 * Applies the poller's pending migrations (`dirstream migrate`, and every poller at start):
 * idempotent, under an advisory lock per schema so pollers starting together take turns.
 */
export async function migratePollerSchema(config: DatabaseConfig): Promise<string[]> {
  try {
    return await runMigrations(config, {
      migrations: pollerMigrations(config.pollerSchema),
      tableName: MIGRATIONS_TABLE,
      schema: config.pollerSchema,
      lockKey: `dirstream-poller-schema:${config.pollerSchema}`,
    });
  } catch (cause) {
    throw createError('STATE_MIGRATION_FAILED', `poller migrations failed on schema ${config.pollerSchema}`, { retriable: true, cause });
  }
}

/**
 * The poller's state database (the one PostgreSQL access of @dirstream/db, failures as
 * STATE_QUERY_FAILED), its schema migrated first when a migration is pending.
 */
export async function openPollerDatabase(config: DatabaseConfig): Promise<Database> {
  const database = await openDatabase(config, { queryErrorCode: 'STATE_QUERY_FAILED' });
  try {
    const pending = await pendingMigrations(database, {
      migrations: pollerMigrations(config.pollerSchema),
      tableName: MIGRATIONS_TABLE,
      schema: config.pollerSchema,
    });
    if (pending.length > 0) await migratePollerSchema(config);
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  return database;
}
