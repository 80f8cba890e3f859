/**
 * objectGUID: 16 bytes in Microsoft's mixed-endian layout (the first three fields little-endian,
 * the last eight bytes as they are). The canonical form used as external ID is the lowercase
 * hyphenated string AD tools print (`Get-ADUser` / `samba-tool`).
 */

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function objectGuidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`objectGUID must be 16 bytes, got ${bytes.length}`);
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Array.from(bytes.subarray(from, to));
    if (reverse) part.reverse();
    return part.map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

export function isGuidString(value: string): boolean {
  return GUID_PATTERN.test(value.toLowerCase());
}

export function guidStringToBytes(guid: string): Buffer {
  const normal = guid.toLowerCase().replace(/^\{|\}$/g, '');
  if (!GUID_PATTERN.test(normal)) throw new RangeError(`not a GUID: ${guid}`);
  const hex = normal.replaceAll('-', '');
  const raw = Buffer.from(hex, 'hex');
  const out = Buffer.alloc(16);
  out.set(raw.subarray(0, 4).reverse(), 0);
  out.set(raw.subarray(4, 6).reverse(), 4);
  out.set(raw.subarray(6, 8).reverse(), 6);
  out.set(raw.subarray(8, 16), 8);
  return out;
}

/** Bytes as an RFC 4515 filter value (`\xx` per byte), for `(objectGUID=…)`. */
export function escapeBinaryFilterValue(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}
