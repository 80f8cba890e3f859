import { createHash } from 'node:crypto';
import { stableJson } from '@dirstream/events';
import { normaliseDn } from '../directory/dn.ts';

/** Content hash of an entity state; the DN is hashed normalised (case/escaping noise is no change). */
export function stateHash(state: { readonly dn: string }): string {
  return createHash('sha256')
    .update(stableJson({ ...state, dn: normaliseDn(state.dn) }))
    .digest('base64url');
}
