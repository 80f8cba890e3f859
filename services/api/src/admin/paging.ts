import { z } from 'zod';
import { httpError } from '../http/errors.ts';

/** `limit` of every paged list: 1-200, 50 unless given. */
export const limitSchema = z.coerce.number().int().min(1).max(200).default(50);

/** An opaque keyset cursor: the sort key of the last row returned, base64url JSON. */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number, field = 'cursor'): (string | number)[] | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === arity && values.every((v) => typeof v === 'string' || typeof v === 'number')) {
      return values as (string | number)[];
    }
  } catch {
    // falls through to the 400
  }
  throw httpError('HTTP_BAD_REQUEST', `query.${field}: not a cursor this API returned`, {
    body: { code: 'HTTP_BAD_REQUEST', field: `query.${field}`, message: 'not a cursor this API returned' },
  });
}

export const cursorSchema = z.string().max(512).optional();

/** A page of a list: the rows and the cursor of the next page (null on the last). */
export type Page<T> = { readonly items: readonly T[]; readonly nextCursor: string | null };

/** Rows fetched with limit + 1: the extra row only says there is a next page. */
export function toPage<R, T>(rows: readonly R[], limit: number, map: (row: R) => T, keyOf: (row: R) => (string | number)[]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(map), nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

export function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
