import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { DirstreamError, isDirstreamError } from '@dirstream/errors';
import { createCodec } from '../src/codec.ts';
import { RECORD_TYPES, type RecordType, type SyncRunEvent } from '../src/types.ts';
import { encodeWithVersion, SAMPLES } from './helpers.ts';

const codec = createCodec();
const decodeFailed = (e: unknown) => isDirstreamError(e, 'EVENT_DECODE_FAILED') && !(e as DirstreamError).retriable;
const unknownSchema = (e: unknown) => isDirstreamError(e, 'EVENT_UNKNOWN_SCHEMA');
const encodeFailed = (e: unknown) => isDirstreamError(e, 'EVENT_ENCODE_FAILED');

describe('codec round trip', () => {
  for (const type of RECORD_TYPES) {
    it(`${type}: encode then decode gives the same plain object`, () => {
      const bytes = codec.encode(type, SAMPLES[type]);
      assert.equal(bytes[0], 0xc3);
      assert.equal(bytes[1], 0x01);
      const newest = codec.schemas[type].at(-1)!;
      assert.equal(bytes.readBigUInt64LE(2), newest.fingerprint);
      assert.deepEqual(codec.identify(bytes), {
        recordType: type,
        version: newest.version,
        fingerprint: newest.fingerprint.toString(16).padStart(16, '0'),
      });
      const decoded = codec.decode(type, bytes);
      assert.deepStrictEqual(decoded, SAMPLES[type]);
      assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    });

    it(`${type}: decodes from a plain Uint8Array at an offset`, () => {
      const bytes = codec.encode(type, SAMPLES[type]);
      const backing = new Uint8Array(bytes.length + 7);
      backing.set(bytes, 7);
      assert.deepStrictEqual(codec.decode(type, backing.subarray(7)), SAMPLES[type]);
    });
  }

  it('keeps times and versions as numbers', () => {
    const decoded = codec.decode('user-event', codec.encode('user-event', SAMPLES['user-event']));
    assert.equal(typeof decoded.times.observedAt, 'number');
    assert.equal(typeof decoded.version, 'number');
    assert.equal(decoded.version, SAMPLES['user-event'].version);
  });

  it('sync-run: server is optional for producers and null when left out', () => {
    const { server: _server, ...withoutServer } = SAMPLES['sync-run'];
    const decoded = codec.decode('sync-run', codec.encode('sync-run', withoutServer as SyncRunEvent));
    assert.equal(decoded.server, null);
  });

  it('sync-run: a record written with v1 decodes as the newest, server = null, phasesMs = null', () => {
    const v1 = codec.schemas['sync-run'][0]!;
    const { server: _server, phasesMs: _phases, ...v1Event } = SAMPLES['sync-run'];
    const bytes = encodeWithVersion(v1, v1Event);
    assert.equal(codec.identify(bytes).version, 1);
    assert.deepStrictEqual(codec.decode('sync-run', bytes), { ...v1Event, server: null, phasesMs: null });
  });

  it('sync-run: a record written with v2 decodes as the newest, phasesMs = null', () => {
    const v2 = codec.schemas['sync-run'][1]!;
    const { phasesMs: _phases, ...v2Event } = SAMPLES['sync-run'];
    const bytes = encodeWithVersion(v2, v2Event);
    assert.equal(codec.identify(bytes).version, 2);
    assert.deepStrictEqual(codec.decode('sync-run', bytes), { ...v2Event, phasesMs: null });
  });

  it('group-event: roleBindings round-trips; a record written with v1 decodes with roleBindings = null', () => {
    const bound = { ...SAMPLES['group-event'], op: 'renamed' as const, roleBindings: ['admins', 'staff'] };
    assert.deepStrictEqual(codec.decode('group-event', codec.encode('group-event', bound)).roleBindings, ['admins', 'staff']);
    const v1 = codec.schemas['group-event'][0]!;
    const { roleBindings: _bindings, ...v1Event } = SAMPLES['group-event'];
    const bytes = encodeWithVersion(v1, v1Event);
    assert.equal(codec.identify(bytes).version, 1);
    assert.deepStrictEqual(codec.decode('group-event', bytes), { ...v1Event, roleBindings: null });
  });

  it('dead-letter: accepts plain Uint8Array keys and values', () => {
    const event = { ...SAMPLES['dead-letter'], key: new Uint8Array([1, 2, 3]), value: null };
    const decoded = codec.decode('dead-letter', codec.encode('dead-letter', event));
    assert.deepEqual([...decoded.key!], [1, 2, 3]);
    assert.equal(decoded.value, null);
  });
});

describe('codec encode errors', () => {
  it('rejects values types.ts does not allow', () => {
    const user = SAMPLES['user-event'];
    assert.throws(() => codec.encode('user-event', { ...user, op: 'deleted' as 'updated' }), encodeFailed);
    assert.throws(
      () => codec.encode('user-event', { ...user, state: { ...user.state, disabledReason: 'gone' as 'outside-filter' } }),
      encodeFailed,
    );
    assert.throws(() => codec.encode('user-event', { ...user, source: { ...user.source, mode: 'incremental' as 'full' } }), encodeFailed);
    assert.throws(
      () => codec.encode('user-lifecycle', { ...SAMPLES['user-lifecycle'], type: 'user-deleted' as 'user-enabled' }),
      encodeFailed,
    );
  });

  it('rejects events that do not match the schema, naming the field', () => {
    const user = SAMPLES['user-event'];
    assert.throws(
      () => codec.encode('user-event', { ...user, state: { ...user.state, loginName: undefined as unknown as string } }),
      (e: unknown) => encodeFailed(e) && /state\.loginName/.test((e as Error).message),
    );
    assert.throws(() => codec.encode('user-event', { ...user, version: 1.5 }), encodeFailed);
    assert.throws(() => codec.encode('user-event', { ...user, version: 2 ** 60 }), encodeFailed);
    assert.throws(() => codec.encode('unknown' as RecordType, user as never), encodeFailed);
  });
});

describe('codec decode errors', () => {
  const user = codec.encode('user-event', SAMPLES['user-event']);

  it('empty, short and header-only records', () => {
    assert.throws(() => codec.decode('user-event', Buffer.alloc(0)), decodeFailed);
    assert.throws(() => codec.decode('user-event', user.subarray(0, 9)), decodeFailed);
    assert.throws(() => codec.decode('user-event', user.subarray(0, 10)), decodeFailed);
  });

  it('a tombstone (null value)', () => {
    assert.throws(() => codec.decode('membership-event', null as unknown as Buffer), decodeFailed);
  });

  it('wrong marker', () => {
    const bad = Buffer.from(user);
    bad[0] = 0xc2;
    assert.throws(() => codec.decode('user-event', bad), decodeFailed);
    const json = Buffer.from(JSON.stringify(SAMPLES['user-event']));
    assert.throws(() => codec.decode('user-event', json), decodeFailed);
  });

  it('unknown fingerprint', () => {
    const bad = Buffer.from(user);
    bad[5] = bad[5]! ^ 0xff;
    assert.throws(() => codec.decode('user-event', bad), unknownSchema);
    assert.throws(() => codec.identify(bad), unknownSchema);
  });

  it('a record of another type', () => {
    const group = codec.encode('group-event', SAMPLES['group-event']);
    assert.throws(() => codec.decode('user-event', group), decodeFailed);
  });

  it('every truncation of the body', () => {
    for (let length = 10; length < user.length; length++) {
      assert.throws(() => codec.decode('user-event', user.subarray(0, length)), decodeFailed, `length ${length}`);
    }
  });

  it('trailing bytes', () => {
    assert.throws(() => codec.decode('user-event', Buffer.concat([user, Buffer.from([0])])), decodeFailed);
  });

  it('a huge array count does not allocate or loop', () => {
    const header = codec.encode('sync-run', SAMPLES['sync-run']).subarray(0, 10);
    // eventId "", runId "", profileId "", directoryType "", mode "", status "", reason null,
    // startedAt 0, finishedAt 0, 13 zero counts, then an errors array claiming 2^31 items.
    const body = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, ...new Array(13).fill(0), 0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]);
    assert.throws(
      () => codec.decode('sync-run', Buffer.concat([header, body])),
      (e: unknown) => decodeFailed(e) && /block count/.test((e as Error).message),
    );
  });

  it('fuzz: random bytes and mutated records only ever throw DirstreamError', () => {
    const samples = RECORD_TYPES.map((type) => [type, codec.encode(type, SAMPLES[type])] as const);
    let decoded = 0;
    for (let round = 0; round < 3000; round++) {
      const [type, valid] = samples[round % samples.length]!;
      let bytes: Buffer;
      if (round % 3 === 0) {
        bytes = randomBytes(round % 64);
      } else if (round % 3 === 1) {
        // Valid header, random body.
        bytes = Buffer.concat([valid.subarray(0, 10), randomBytes(round % 200)]);
      } else {
        // A valid record with a few bytes of the body flipped.
        bytes = Buffer.from(valid);
        for (let flips = 1 + (round % 4); flips > 0; flips--) {
          const at = 10 + Math.floor(Math.random() * (bytes.length - 10));
          bytes[at] = Math.floor(Math.random() * 256);
        }
      }
      try {
        codec.decode(type, bytes);
        decoded++;
      } catch (error) {
        assert.ok(error instanceof DirstreamError, `round ${round}: ${String(error)}`);
        assert.ok(['EVENT_DECODE_FAILED', 'EVENT_UNKNOWN_SCHEMA'].includes(error.code));
      }
    }
    // Some flipped strings still decode (they are just different text); that is fine.
    assert.ok(decoded < 3000);
  });
});
