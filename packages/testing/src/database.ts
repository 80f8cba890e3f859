import pg from 'pg';
import type { Infra } from './infra.ts';
import { uniquePrefix } from './unique.ts';

export type TestDatabase = {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
};

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** A fresh, empty database for one test file (dropped by `drop()`, connections included). */
export async function createTestDatabase(infra: Infra, label = 'db'): Promise<TestDatabase> {
  const name = uniquePrefix(label).replace(/-/g, '_');
  const admin = new pg.Client({ connectionString: infra.postgres.url });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(infra.postgres.url, name),
    async drop() {
      const client = new pg.Client({ connectionString: infra.postgres.url });
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
