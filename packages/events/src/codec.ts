/**
 * Avro single-object encoding (Avro specification, "Single-object encoding"): the two marker
 * bytes C3 01, the writer schema's CRC-64-AVRO fingerprint as 8 little-endian bytes, then the
 * Avro binary body. Any Avro library holding the .avsc files can decode a record; no registry
 * service is needed. Encoding always uses the newest version of a record type; decoding finds
 * the writer version by fingerprint and resolves it to the newest, so old records (compacted
 * topics keep them for ever) read as today's type.
 */
import { DirstreamError } from '@dirstream/errors';
import avro from 'avsc';
import { createBodyCheck } from './body-check.ts';
import { fingerprintBytes } from './fingerprint.ts';
import { DEFAULT_SCHEMAS_DIR, loadSchemas, type SchemaSet, type SchemaVersion } from './schemas.ts';
import { findUnknownSymbol, isRecordType } from './symbol-checks.ts';
import { type EventOf, RECORD_TYPES, type RecordType } from './types.ts';

export const EVENT_DECODE_FAILED = 'EVENT_DECODE_FAILED';
export const EVENT_UNKNOWN_SCHEMA = 'EVENT_UNKNOWN_SCHEMA';
export const EVENT_ENCODE_FAILED = 'EVENT_ENCODE_FAILED';

const MARKER_0 = 0xc3;
const MARKER_1 = 0x01;
const HEADER_LENGTH = 10;

export type SchemaRef = {
  readonly recordType: RecordType;
  readonly version: number;
  /** The writer schema's fingerprint as 16 hex digits (the unsigned value). */
  readonly fingerprint: string;
};

export type Codec = {
  /** Encodes with the newest schema version. Throws EVENT_ENCODE_FAILED on an invalid event. */
  encode<T extends RecordType>(type: T, event: EventOf<T>): Buffer;
  /**
   * Decodes a record of the given type written with any known version, as the newest version.
   * Throws EVENT_DECODE_FAILED (malformed bytes, or a record of another type) or
   * EVENT_UNKNOWN_SCHEMA (a writer schema this build does not know); never anything else.
   */
  decode<T extends RecordType>(type: T, bytes: Uint8Array): EventOf<T>;
  /** Which record type and version wrote these bytes (reads the header only). Same errors. */
  identify(bytes: Uint8Array): SchemaRef;
  /** The schema versions this codec knows, oldest first. */
  readonly schemas: SchemaSet;
};

export type CodecOptions = {
  /** Where the v<N>.avsc folders are; defaults to the repository's schemas/. */
  readonly schemasDir?: string;
};

type WriterEntry = {
  readonly ref: SchemaRef;
  readonly low: number;
  readonly high: number;
  readonly check: (bytes: Uint8Array, start: number) => void;
  /** Newest reader type and the resolver from this writer (null when this is the newest). */
  readonly reader: avro.Type;
  readonly resolver: avro.Resolver | null;
};

type TypeEntry = {
  readonly type: avro.Type;
  readonly header: Buffer;
  readonly writers: readonly WriterEntry[];
};

function decodeError(message: string, cause?: unknown, details?: Record<string, unknown>): DirstreamError {
  return new DirstreamError(EVENT_DECODE_FAILED, message, { retriable: false, cause, details });
}

function parseType(entry: SchemaVersion): avro.Type {
  const registry: Record<string, avro.Type> = {};
  const type = avro.Type.forSchema(entry.schema as avro.Schema, {
    registry,
    wrapUnions: false,
    omitRecordMethods: true,
  });
  // Decoded records are then plain objects (prototype Object.prototype), so they compare,
  // spread and serialise like the objects producers built. avsc creates them with `new`.
  for (const named of Object.values(registry)) {
    if (named.typeName === 'record') {
      (named as avro.types.RecordType).recordConstructor.prototype = Object.prototype;
    }
  }
  return type;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** avsc writes `bytes` only from Buffers; dead letters may carry plain Uint8Arrays. */
function normalise(type: RecordType, event: unknown): unknown {
  if (type !== 'dead-letter' || event === null || typeof event !== 'object') return event;
  const record = event as { key?: unknown; value?: unknown };
  const key = record.key instanceof Uint8Array ? toBuffer(record.key) : record.key;
  const value = record.value instanceof Uint8Array ? toBuffer(record.value) : record.value;
  if (key === record.key && value === record.value) return event;
  return { ...record, key, value };
}

function firstInvalidPath(type: avro.Type, event: unknown): string {
  let found = '';
  type.isValid(event, {
    errorHook: (path, value) => {
      if (found === '') found = `${path.join('.') || '(root)'}: ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
    },
  });
  return found;
}

export function createCodec(options: CodecOptions = {}): Codec {
  const schemas = loadSchemas(options.schemasDir ?? DEFAULT_SCHEMAS_DIR);
  const entries = {} as Record<RecordType, TypeEntry>;
  const allWriters: WriterEntry[] = [];

  for (const recordType of RECORD_TYPES) {
    const versions = schemas[recordType];
    const newest = versions[versions.length - 1]!;
    const reader = parseType(newest);
    const writers = versions.map((version): WriterEntry => {
      const header = fingerprintBytes(version.fingerprint);
      const writerType = version === newest ? reader : parseType(version);
      return {
        ref: { recordType, version: version.version, fingerprint: version.fingerprint.toString(16).padStart(16, '0') },
        low: header.readUInt32LE(0),
        high: header.readUInt32LE(4),
        check: createBodyCheck(JSON.parse(version.canonicalForm)),
        reader,
        resolver: version === newest ? null : reader.createResolver(writerType),
      };
    });
    for (const writer of writers) allWriters.push(writer);
    entries[recordType] = {
      type: reader,
      header: Buffer.concat([Buffer.from([MARKER_0, MARKER_1]), fingerprintBytes(newest.fingerprint)]),
      writers,
    };
  }

  function findWriter(bytes: Uint8Array): WriterEntry {
    if (!(bytes instanceof Uint8Array)) throw decodeError('record value is not bytes (a tombstone?)');
    if (bytes.length < HEADER_LENGTH) {
      throw decodeError(`record is ${bytes.length} bytes, shorter than the 10-byte single-object header`);
    }
    if (bytes[0] !== MARKER_0 || bytes[1] !== MARKER_1) {
      throw decodeError('record does not start with the Avro single-object marker C3 01');
    }
    const view = toBuffer(bytes);
    const low = view.readUInt32LE(2);
    const high = view.readUInt32LE(6);
    for (const writer of allWriters) {
      if (writer.low === low && writer.high === high) return writer;
    }
    const fingerprint = view.readBigUInt64LE(2).toString(16).padStart(16, '0');
    throw new DirstreamError(EVENT_UNKNOWN_SCHEMA, `no known schema has fingerprint ${fingerprint}`, {
      retriable: false,
      details: { fingerprint },
    });
  }

  return {
    schemas,

    encode(type, event) {
      const entry = isRecordType(type) ? entries[type] : undefined;
      if (entry === undefined) {
        throw new DirstreamError(EVENT_ENCODE_FAILED, `unknown record type ${JSON.stringify(type)}`);
      }
      const unknown = findUnknownSymbol(type, event);
      if (unknown !== null) {
        throw new DirstreamError(EVENT_ENCODE_FAILED, `${type} has a value types.ts does not allow: ${unknown}`, {
          details: { recordType: type },
        });
      }
      const value = normalise(type, event);
      let body: Buffer;
      try {
        body = entry.type.toBuffer(value);
      } catch (error) {
        throw new DirstreamError(EVENT_ENCODE_FAILED, `${type} does not match its schema at ${firstInvalidPath(entry.type, value)}`, {
          cause: error,
          details: { recordType: type },
        });
      }
      return Buffer.concat([entry.header, body], HEADER_LENGTH + body.length);
    },

    decode<T extends RecordType>(type: T, bytes: Uint8Array): EventOf<T> {
      const writer = findWriter(bytes);
      if (writer.ref.recordType !== type) {
        throw decodeError(`expected a ${type} record, got ${writer.ref.recordType} v${writer.ref.version}`, undefined, {
          expected: type,
          actual: writer.ref.recordType,
        });
      }
      const buffer = toBuffer(bytes);
      try {
        writer.check(buffer, HEADER_LENGTH);
        const result = writer.reader.decode(buffer, HEADER_LENGTH, writer.resolver ?? undefined);
        if (result.offset !== buffer.length) throw new Error(`body ended at ${result.offset} of ${buffer.length}`);
        return result.value as EventOf<T>;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw decodeError(`cannot decode ${type} v${writer.ref.version}: ${message}`, error, {
          recordType: type,
          version: writer.ref.version,
        });
      }
    },

    identify(bytes) {
      return findWriter(bytes).ref;
    },
  };
}
