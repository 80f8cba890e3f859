import pg from 'pg';
import { quoteIdent } from './database.ts';

/**
 * Creating and dropping whole databases (tests, the demo): statements that cannot run inside a
 * transaction, sent over one short connection to the server's maintenance database.
 */
async function onServer(serverUrl: string, statements: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** `serverUrl` with its database replaced by `name`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates database `name`; with `replace`, drops one of that name first (its connections too). */
export async function createDatabase(serverUrl: string, name: string, options: { readonly replace?: boolean } = {}): Promise<void> {
  const create = `create database ${quoteIdent(name)}`;
  await onServer(serverUrl, options.replace ? [`drop database if exists ${quoteIdent(name)} with (force)`, create] : [create]);
}

/** Drops database `name` if it exists, closing its connections. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, [`drop database if exists ${quoteIdent(name)} with (force)`]);
}
