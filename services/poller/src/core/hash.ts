import { createHash } from 'node:crypto';
import { normaliseDn } from '../directory/dn.ts';

/** Stable JSON: object keys sorted, so equal states give equal strings. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + stableJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Default sort order is by UTF-16 code units, as `<` compares strings.
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${stableJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** Content hash of an entity state; the DN is hashed normalised (case/escaping noise is no change). */
export function stateHash(state: { readonly dn: string }): string {
  return createHash('sha256')
    .update(stableJson({ ...state, dn: normaliseDn(state.dn) }))
    .digest('base64url');
}
