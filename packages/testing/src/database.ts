import { createDatabase, databaseUrl, dropDatabase } from '@dirstream/db';
import type { Infra } from './infra.ts';
import { uniquePrefix } from './unique.ts';

export type TestDatabase = {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
};

/** A fresh, empty database for one test file (dropped by `drop()`, connections included). */
export async function createTestDatabase(infra: Infra, label = 'db'): Promise<TestDatabase> {
  const name = uniquePrefix(label).replace(/-/g, '_');
  await createDatabase(infra.postgres.url, name);
  return {
    name,
    url: databaseUrl(infra.postgres.url, name),
    drop: () => dropDatabase(infra.postgres.url, name),
  };
}
