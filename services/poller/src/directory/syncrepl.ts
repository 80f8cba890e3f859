import { Ber, BerReader, BerWriter, type Client, Control, SearchReference } from 'ldapts';
import { parseLdapFilter } from '../ad/binary-filter.ts';

/**
 * RFC 4533 (LDAP Content Synchronization), refreshOnly, as far as a poller needs it: the Sync
 * Request control, the Sync State control on each entry, the Sync Done control on the result and
 * the Sync Info intermediate response (syncIdSet of deleted entries). ldapts knows none of them:
 * the controls follow its Control pattern; the intermediate response (LDAP tag 0x79), which its
 * message parser rejects, is read by a small hook on one client's parser.
 */

export const SYNC_REQUEST_OID = '1.3.6.1.4.1.4203.1.9.1.1';
const SYNC_STATE_OID = '1.3.6.1.4.1.4203.1.9.1.2';
const SYNC_DONE_OID = '1.3.6.1.4.1.4203.1.9.1.3';
const SYNC_INFO_OID = '1.3.6.1.4.1.4203.1.9.1.4';
const INTERMEDIATE_RESPONSE = 0x79;

/** RFC 4533 §2.2 syncRequestValue: mode refreshOnly (1), the cookie when there is one. */
export function encodeSyncRequestValue(cookie: Buffer | null): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeEnumeration(1);
  if (cookie !== null) writer.writeBuffer(cookie, Ber.OctetString);
  writer.endSequence();
  return writer.buffer;
}

export type SyncState = { readonly state: 'present' | 'add' | 'modify' | 'delete'; readonly uuid: string; readonly cookie: Buffer | null };
const STATES = ['present', 'add', 'modify', 'delete'] as const;

/** A 16-byte syncUUID as the entryUUID string form. */
export function uuidString(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** RFC 4533 §2.3 syncStateValue. */
export function decodeSyncState(value: BerReader): SyncState {
  value.readSequence();
  const state = STATES[value.readEnumeration() ?? -1];
  const uuid = value.readString(Ber.OctetString, true) as Buffer | null;
  if (state === undefined || uuid === null || uuid.length !== 16) throw new Error('malformed Sync State control');
  const cookie = value.remain > 0 && value.peek() === Ber.OctetString ? (value.readString(Ber.OctetString, true) as Buffer) : null;
  return { state, uuid: uuidString(uuid), cookie };
}

/** RFC 4533 §2.4 syncDoneValue. */
export function decodeSyncDone(value: BerReader): { cookie: Buffer | null; refreshDeletes: boolean } {
  value.readSequence();
  let cookie: Buffer | null = null;
  let refreshDeletes = false;
  if (value.remain > 0 && value.peek() === Ber.OctetString) cookie = value.readString(Ber.OctetString, true) as Buffer;
  if (value.remain > 0 && value.peek() === Ber.Boolean) refreshDeletes = value.readBoolean() ?? false;
  return { cookie, refreshDeletes };
}

export type SyncInfo =
  | { readonly kind: 'newcookie'; readonly cookie: Buffer }
  | { readonly kind: 'refreshDelete' | 'refreshPresent'; readonly cookie: Buffer | null; readonly refreshDone: boolean }
  | { readonly kind: 'syncIdSet'; readonly cookie: Buffer | null; readonly refreshDeletes: boolean; readonly uuids: string[] };

/** RFC 4533 §2.5 syncInfoValue (a CHOICE of context tags 0–3). */
export function decodeSyncInfo(value: BerReader): SyncInfo {
  const tag = value.peek();
  if (tag === 0x80) return { kind: 'newcookie', cookie: value.readString(0x80, true) as Buffer };
  value.readSequence(tag ?? undefined);
  const end = value.offset + value.length;
  let cookie: Buffer | null = null;
  if (value.offset < end && value.peek() === Ber.OctetString) cookie = value.readString(Ber.OctetString, true) as Buffer;
  if (tag === 0xa1 || tag === 0xa2) {
    const refreshDone = value.offset < end && value.peek() === Ber.Boolean ? (value.readBoolean() ?? true) : true;
    return { kind: tag === 0xa1 ? 'refreshDelete' : 'refreshPresent', cookie, refreshDone };
  }
  if (tag !== 0xa3) throw new Error(`malformed Sync Info message (tag 0x${(tag ?? 0).toString(16)})`);
  const refreshDeletes = value.offset < end && value.peek() === Ber.Boolean ? (value.readBoolean() ?? false) : false;
  const uuids: string[] = [];
  value.readSequence(0x31);
  const setEnd = value.offset + value.length;
  while (value.offset < setEnd) uuids.push(uuidString(value.readString(Ber.OctetString, true) as Buffer));
  return { kind: 'syncIdSet', cookie, refreshDeletes, uuids };
}

class SyncRequestControl extends Control {
  readonly cookie: Buffer | null;
  constructor(cookie: Buffer | null) {
    super(SYNC_REQUEST_OID, { critical: true });
    this.cookie = cookie;
  }
  override writeControl(writer: BerWriter): void {
    writer.writeBuffer(encodeSyncRequestValue(this.cookie), Ber.OctetString);
  }
}

/**
 * Not sent: ldapts parses a response control only when a request control names its type as
 * `responseType`, so these stand in for the response types and collect what they parse.
 */
class ResponseListener extends Control {
  readonly onValue: (reader: BerReader) => void;
  constructor(type: string, onValue: (reader: BerReader) => void) {
    super(type, { responseType: type });
    this.onValue = onValue;
  }
  override write(): void {}
  override parseControl(reader: BerReader): void {
    this.onValue(reader);
  }
}

export type SyncRefreshResult = {
  /** Entries added or modified since the cookie (or every entry, without a cookie). */
  readonly changed: readonly string[];
  /** Deleted (or out of scope) since the cookie: delete states and syncIdSets with refreshDeletes. */
  readonly deleted: readonly string[];
  /** True when the server answered with a present phase: deletions are then not listed. */
  readonly presentPhase: boolean;
  readonly cookie: Buffer | null;
};

type ParserHook = {
  _getMessageFromProtocolOperation(messageId: number, operation: number, reader: BerReader, details: unknown): unknown;
  __syncInfo?: (messageId: number, info: SyncInfo) => void;
};

/** Makes one client's parser accept Sync Info intermediate responses (once per client). */
function hookIntermediateResponses(client: Client): ParserHook {
  const parser = (client as unknown as { messageParser: ParserHook }).messageParser;
  if (parser.__syncInfo !== undefined) return parser;
  const original = parser._getMessageFromProtocolOperation.bind(parser);
  parser.__syncInfo = () => undefined;
  parser._getMessageFromProtocolOperation = (messageId, operation, reader, details) => {
    if (operation !== INTERMEDIATE_RESPONSE) return original(messageId, operation, reader, details);
    // IntermediateResponse ::= [APPLICATION 25] SEQUENCE { responseName [0] OPTIONAL, responseValue [1] OPTIONAL }
    const end = reader.offset + reader.length;
    let name: string | null = null;
    let value: Buffer | null = null;
    while (reader.offset < end) {
      const tag = reader.peek();
      if (tag === 0x80) name = reader.readString(0x80) as string;
      else if (tag === 0x81) value = reader.readString(0x81, true) as Buffer;
      else break;
    }
    if (name === SYNC_INFO_OID && value !== null) parser.__syncInfo?.(messageId, decodeSyncInfo(new BerReader(value)));
    // A reference without URIs: the client keeps it with the search's references, the search goes on.
    return new SearchReference({ messageId, uris: [] });
  };
  return parser;
}

/**
 * One refreshOnly content synchronisation below `baseDn`: what changed since `cookie` (IDs only,
 * the run re-reads the entries through its own filters) and the new cookie.
 */
export async function syncRefresh(
  client: Client,
  request: { readonly baseDn: string; readonly scope: 'base' | 'one' | 'sub'; readonly filter: string; readonly sizeLimit?: number },
  cookie: Buffer | null,
): Promise<SyncRefreshResult> {
  const changed = new Set<string>();
  const deleted = new Set<string>();
  let presentPhase = false;
  let lastCookie: Buffer | null = cookie;
  const parser = hookIntermediateResponses(client);
  // The poller runs one operation at a time on a connection: the Sync Info messages are this search's.
  parser.__syncInfo = (_id, info) => {
    if (info.cookie !== null) lastCookie = info.cookie;
    if (info.kind === 'syncIdSet') {
      if (info.refreshDeletes) for (const uuid of info.uuids) deleted.add(uuid);
      else presentPhase = true;
    } else if (info.kind === 'refreshPresent') presentPhase = true;
  };
  const state = new ResponseListener(SYNC_STATE_OID, (reader) => {
    const s = decodeSyncState(reader);
    if (s.cookie !== null) lastCookie = s.cookie;
    if (s.state === 'delete') deleted.add(s.uuid);
    else if (s.state === 'present') presentPhase = true;
    else changed.add(s.uuid);
  });
  let refreshDeletes = false;
  const done = new ResponseListener(SYNC_DONE_OID, (reader) => {
    const d = decodeSyncDone(reader);
    if (d.cookie !== null) lastCookie = d.cookie;
    refreshDeletes = d.refreshDeletes;
  });
  try {
    // The answer is collected whole by ldapts (one message per changed entry, IDs only): the size
    // limit keeps it to what a delta may hold; above it the run does a full pass instead.
    const limits = request.sizeLimit === undefined ? {} : { sizeLimit: request.sizeLimit };
    await client.search(request.baseDn, { scope: request.scope, filter: parseLdapFilter(request.filter), attributes: ['1.1'], ...limits }, [
      new SyncRequestControl(cookie),
      state,
      done,
    ]);
  } finally {
    parser.__syncInfo = () => undefined;
  }
  // Sync Done with refreshDeletes FALSE after a cookie ends a present phase (RFC 4533 §3.3.1):
  // entries not listed as present are gone, which an ID-only answer cannot say here.
  if (cookie !== null && !refreshDeletes && changed.size + deleted.size === 0 && presentPhase) presentPhase = true;
  for (const id of deleted) changed.delete(id);
  return { changed: [...changed], deleted: [...deleted], presentPhase, cookie: lastCookie };
}
