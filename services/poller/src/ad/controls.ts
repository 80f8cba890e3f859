import { Ber, BerWriter, Control } from 'ldapts';
import type { BerReader } from 'ldapts';

/**
 * AD's LDAP controls that ldapts does not ship. A response control is parsed into the request's
 * own instance (ldapts matches it by `responseType`), so the caller reads the cookie from the
 * object it passed in.
 */

/** LDAP_SERVER_SHOW_DELETED_OID: include tombstones (isDeleted=TRUE) in the results. No value. */
export class ShowDeletedControl extends Control {
  static readonly type = '1.2.840.113556.1.4.417';

  constructor(options: { critical?: boolean } = {}) {
    super(ShowDeletedControl.type, { critical: options.critical ?? true });
  }
}

/** DirSync request flags (MS-ADTS 3.1.1.3.4.1.3). */
export const DIRSYNC_FLAGS = {
  OBJECT_SECURITY: 0x1,
  ANCESTORS_FIRST_ORDER: 0x800,
  PUBLIC_DATA_ONLY: 0x2000,
  INCREMENTAL_VALUES: 0x8000_0000,
} as const;

export type DirSyncResponse = {
  /** Non-zero: the server has more changes; search again with the new cookie. */
  readonly moreResults: boolean;
  readonly cookie: Buffer;
};

/**
 * LDAP_SERVER_DIRSYNC_OID. Request value: SEQUENCE { flags INTEGER, maxBytes INTEGER,
 * cookie OCTET STRING }; response value: SEQUENCE { moreResults INTEGER, unused INTEGER,
 * cookie OCTET STRING }. Must be critical, cannot be combined with paging, and the search base
 * must be a naming context root.
 */
export class DirSyncControl extends Control {
  static readonly type = '1.2.840.113556.1.4.841';

  readonly flags: number;
  readonly maxBytes: number;
  readonly cookie: Buffer;
  /** Filled in from the server's response control. */
  response: DirSyncResponse | undefined;

  constructor(options: { flags?: number; maxBytes?: number; cookie?: Buffer | null } = {}) {
    super(DirSyncControl.type, { critical: true });
    this.flags = options.flags ?? 0;
    this.maxBytes = options.maxBytes ?? 0x10_0000;
    this.cookie = options.cookie ?? Buffer.alloc(0);
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    // The flags are a ULONG on the wire as a signed 32-bit INTEGER (INCREMENTAL_VALUES is the sign bit).
    value.writeInt(this.flags | 0);
    value.writeInt(this.maxBytes);
    value.writeBuffer(this.cookie, Ber.OctetString);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }

  protected override parseControl(reader: BerReader): void {
    this.response = decodeDirSyncResponse(reader);
  }
}

export function decodeDirSyncResponse(reader: BerReader): DirSyncResponse {
  if (reader.readSequence() === null) throw new Error('DirSync response control has no value');
  const more = reader.readInt() ?? 0;
  reader.readInt();
  const cookie = reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0);
  return { moreResults: more !== 0, cookie: Buffer.from(cookie) };
}
