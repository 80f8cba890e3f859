import { hash } from 'node:crypto';
import { stableJson } from '@dirstream/events';
import { normaliseDn } from '../directory/dn.ts';

/** Content hash of an entity state; the DN is hashed normalised (case/escaping noise is no change). */
export function stateHash(state: { readonly dn: string }): string {
  // One-shot hash: no Hash object per entity (a full pass hashes every entry it reads).
  return hash('sha256', stableJson({ ...state, dn: normaliseDn(state.dn) }), 'base64url');
}
