/**
 * CRC-64-AVRO, the 64-bit Rabin fingerprint the Avro specification defines for schema
 * fingerprints and single-object encoding ("Schema Fingerprints"). avsc only offers MD5 and
 * SHA-256, so it is computed here. Schemas are fingerprinted once at start-up, so BigInt is fine.
 */
const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

function buildTable(): readonly bigint[] {
  const table: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) {
      fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK);
    }
    table.push(fp);
  }
  return table;
}

const TABLE = buildTable();

/** The unsigned 64-bit Rabin fingerprint of the bytes (UTF-8 for a string). */
export function rabinFingerprint64(data: string | Uint8Array): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = EMPTY;
  for (const byte of bytes) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  }
  return fp;
}

/** The fingerprint as the 8 little-endian bytes that follow the C3 01 marker. */
export function fingerprintBytes(fingerprint: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fingerprint & MASK);
  return out;
}
