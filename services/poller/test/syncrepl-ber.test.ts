/** RFC 4533 values, encoded by hand from the ASN.1 of §2.2–2.5 (the live exchange is in delta-fit.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerReader } from 'ldapts';
import { decodeSyncDone, decodeSyncInfo, decodeSyncState, encodeSyncRequestValue } from '../src/directory/syncrepl.ts';

const uuid = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const uuidText = '01234567-89ab-cdef-0123-456789abcdef';
const hex = (s: string) => Buffer.from(s.replaceAll(' ', ''), 'hex');

describe('RFC 4533 BER', () => {
  it('syncRequestValue: refreshOnly, with and without a cookie', () => {
    assert.equal(encodeSyncRequestValue(null).toString('hex'), '30030a0101');
    assert.equal(encodeSyncRequestValue(Buffer.from('ab')).toString('hex'), '30070a010104026162');
  });
  it('syncStateValue: state, UUID, optional cookie', () => {
    const s = decodeSyncState(new BerReader(Buffer.concat([hex('30 17 0a 01 03 04 10'), uuid, hex('04 02 63 6b')])));
    assert.deepEqual({ ...s, cookie: s.cookie?.toString() }, { state: 'delete', uuid: uuidText, cookie: 'ck' });
    assert.equal(decodeSyncState(new BerReader(Buffer.concat([hex('30 15 0a 01 01 04 10'), uuid]))).state, 'add');
  });
  it('syncDoneValue: cookie and refreshDeletes (default false)', () => {
    const d = decodeSyncDone(new BerReader(hex('30 07 04 02 63 6b 01 01 ff')));
    assert.deepEqual({ cookie: d.cookie?.toString(), refreshDeletes: d.refreshDeletes }, { cookie: 'ck', refreshDeletes: true });
    assert.equal(decodeSyncDone(new BerReader(hex('30 00'))).refreshDeletes, false);
  });
  it('syncInfoValue: newcookie, refreshDelete', () => {
    assert.equal(decodeSyncInfo(new BerReader(hex('80 02 63 6b'))).kind, 'newcookie');
    const rd = decodeSyncInfo(new BerReader(hex('a1 04 04 02 63 6b')));
    assert.deepEqual(rd.kind === 'refreshDelete' && { cookie: rd.cookie?.toString(), done: rd.refreshDone }, { cookie: 'ck', done: true });
  });
  it('syncInfoValue syncIdSet: the deleted UUIDs', () => {
    const value = Buffer.concat([hex('a3 17 01 01 ff 31 12 04 10'), uuid]);
    const info = decodeSyncInfo(new BerReader(value));
    assert.deepEqual(info.kind === 'syncIdSet' && { deletes: info.refreshDeletes, uuids: info.uuids }, {
      deletes: true,
      uuids: [uuidText],
    });
  });
});
