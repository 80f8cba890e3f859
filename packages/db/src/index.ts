export { isRetriableSqlState, openDatabase, quoteIdent } from './database.ts';
export type { Database, OpenDatabaseOptions, Session, Sql } from './database.ts';
export { Migration, pendingMigrations, runMigrations } from './migrate.ts';
export type { MigrationClass, MigrationList, RunMigrationsOptions } from './migrate.ts';
