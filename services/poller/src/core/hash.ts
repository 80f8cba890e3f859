import { createHash } from 'node:crypto';
import { normaliseDn } from '../directory/dn.ts';

/** Stable JSON: object keys sorted, so equal states give equal strings. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}

/** Content hash of an entity state; the DN is hashed normalised (case/escaping noise is no change). */
export function stateHash(state: { readonly dn: string }): string {
  return createHash('sha256')
    .update(stableJson({ ...state, dn: normaliseDn(state.dn) }))
    .digest('base64url');
}
