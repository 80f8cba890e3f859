export { isRetriableSqlState, openDatabase, quoteIdent } from './database.ts';
export type { Database, OpenDatabaseOptions, Session, Sql } from './database.ts';
export { Migration, pendingMigrations, runMigrations } from './migrate.ts';
export type { MigrationClass, MigrationList, RunMigrationsOptions } from './migrate.ts';
export type { ListenHandlers, Listener } from './listen.ts';
export { listen } from './listen.ts';
export { createDatabase, databaseUrl, dropDatabase } from './admin.ts';
