/**
 * Tombstones (MS-ADTS 3.1.1.5.5): a deleted object keeps its objectGUID, gets `isDeleted: TRUE`
 * and an RDN mangled to `<old RDN value>\0ADEL:<guid>` (the `\0A` being an escaped line feed),
 * and moves under CN=Deleted Objects. Only visible with the Show Deleted control.
 */

export type TombstoneName = {
  /** The RDN value the object had before deletion. */
  readonly name: string;
  readonly guid: string;
  /** The parent the tombstone lives in (normally CN=Deleted Objects,…). */
  readonly parentDn: string;
};

/** Splits the first RDN off a DN, honouring `\,` escapes. */
function splitFirstRdn(dn: string): [string, string] {
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === ',') return [dn.slice(0, i), dn.slice(i + 1)];
  }
  return [dn, ''];
}

const DEL_MARKER = /(?:\\0A|\n)DEL:([0-9a-fA-F-]{36})$/;

export function parseTombstoneDn(dn: string): TombstoneName | null {
  const [rdn, parentDn] = splitFirstRdn(dn);
  const eq = rdn.indexOf('=');
  if (eq < 0) return null;
  const value = rdn.slice(eq + 1);
  const m = DEL_MARKER.exec(value);
  if (!m) return null;
  return { name: value.slice(0, m.index), guid: m[1]!.toLowerCase(), parentDn };
}

export function isTombstoneDn(dn: string): boolean {
  return parseTombstoneDn(dn) !== null;
}

/** LDAP booleans are the strings TRUE / FALSE. */
export function isDeletedFlag(value: unknown): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v.toUpperCase() === 'TRUE' : Buffer.isBuffer(v) && v.toString().toUpperCase() === 'TRUE';
}
