/**
 * objectSid / sIDHistory: the binary SID (MS-DTYP 2.4.2.2) as its `S-1-5-21-…` string form:
 * revision (1 byte), sub-authority count (1), identifier authority (6, big-endian), then each
 * sub-authority as a little-endian uint32.
 */

export function sidToString(bytes: Uint8Array): string {
  if (bytes.length < 8) throw new RangeError(`SID too short: ${bytes.length} bytes`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const revision = view.readUInt8(0);
  const count = view.readUInt8(1);
  if (bytes.length !== 8 + 4 * count) {
    throw new RangeError(`SID length ${bytes.length} does not match ${count} sub-authorities`);
  }
  const authority = view.readUIntBE(2, 6);
  // MS-DTYP: authorities of 2^32 and above are printed in hex.
  const authorityText = authority >= 2 ** 32 ? `0x${authority.toString(16).toUpperCase().padStart(12, '0')}` : String(authority);
  const parts = [`S-${revision}-${authorityText}`];
  for (let i = 0; i < count; i++) parts.push(String(view.readUInt32LE(8 + 4 * i)));
  return parts.join('-');
}

export function sidStringToBytes(sid: string): Buffer {
  const match = /^S-(\d+)-(0x[0-9a-fA-F]+|\d+)((?:-\d+)*)$/i.exec(sid);
  if (!match) throw new RangeError(`not a SID: ${sid}`);
  const subs = match[3] ? match[3].slice(1).split('-').map(Number) : [];
  if (subs.length > 15) throw new RangeError(`too many sub-authorities: ${sid}`);
  const out = Buffer.alloc(8 + 4 * subs.length);
  out.writeUInt8(Number(match[1]), 0);
  out.writeUInt8(subs.length, 1);
  out.writeUIntBE(Number(match[2]), 2, 6);
  subs.forEach((sub, i) => {
    if (!Number.isInteger(sub) || sub < 0 || sub > 0xffff_ffff) throw new RangeError(`bad sub-authority in ${sid}`);
    out.writeUInt32LE(sub, 8 + 4 * i);
  });
  return out;
}

/** The domain part of an account SID (everything but the last sub-authority, the RID). */
export function sidDomain(sid: string): string {
  const cut = sid.lastIndexOf('-');
  return sid.slice(0, cut);
}

export function sidRid(sid: string): number {
  return Number(sid.slice(sid.lastIndexOf('-') + 1));
}

/** The SID of the group a `primaryGroupID` names: the account's domain SID + that RID. */
export function primaryGroupSid(accountSid: string, primaryGroupId: number): string {
  return `${sidDomain(accountSid)}-${primaryGroupId}`;
}
