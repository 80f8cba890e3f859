import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeDatabase, type Database, openDatabase, toPgArray } from '@dirstream/applier';
import type { DatabaseConfig } from '@dirstream/config';
import { loadInfra } from '@dirstream/testing';

/** toPgArray's literals read back by PostgreSQL as the driver's own bound arrays do. */
describe('toPgArray', () => {
  let db: Database;
  before(async () => {
    db = await openDatabase({ database: { url: loadInfra().postgres.url, pollerSchema: 'unused', poolSize: 1 } as DatabaseConfig });
  });
  after(async () => {
    if (db !== undefined) await closeDatabase(db);
  });

  const same = async (type: string, values: readonly (string | number | boolean | null)[]) => {
    const [row] = await db.query<{ literal: unknown; bound: unknown; equal: boolean }>(
      `select $1::${type}[]::text as literal, $2::${type}[]::text as bound, $1::${type}[] is not distinct from $2::${type}[] as equal`,
      [toPgArray(values), values],
    );
    assert.equal(row?.equal, true, `${String(row?.literal)} <> ${String(row?.bound)}`);
  };

  it('text with quotes, backslashes, separators, braces, blanks, the word NULL, real NULLs and non-ASCII', async () => {
    await same('text', [
      'plain',
      `O'Brien "Ali"`,
      'back\\slash',
      'a,b',
      '{x}',
      ' padded ',
      '',
      'NULL',
      null,
      'café ß 東京',
      '\\"',
      'end\\',
    ]);
  });

  it('uuid, bigint and boolean columns', async () => {
    await same('uuid', ['7d1a5e0c-0000-4000-8000-00000000000a', null]);
    await same('bigint', [1, 9_007_199_254_740_991, null]);
    await same('boolean', [true, false, null]);
  });

  it('jsonb documents and nested text[] literals as elements', async () => {
    await same('jsonb', [JSON.stringify({ a: 'x"y', b: ['\\'] }), null, '{}']);
    await same('text', [toPgArray(['a@example.test', 'q"uote']), null]);
  });

  it('an empty array', async () => {
    await same('text', []);
  });
});
