import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerReader, BerWriter, Ber } from 'ldapts';
import { parseLdapFilter } from '../src/ad/binary-filter.ts';
import { DirSyncControl, DIRSYNC_FLAGS, ShowDeletedControl, decodeDirSyncResponse } from '../src/ad/controls.ts';
import { escapeBinaryFilterValue, guidStringToBytes, objectGuidToString } from '../src/ad/guid.ts';
import { findRangedAttribute, nextRangeRequest, parseRangedAttribute, rangeRequest } from '../src/ad/range.ts';
import { primaryGroupSid, sidDomain, sidRid, sidStringToBytes, sidToString } from '../src/ad/sid.ts';
import { isDeletedFlag, parseTombstoneDn } from '../src/ad/tombstone.ts';
import { accountStatus, fileTimeToMs, generalizedTimeToMs, UAC } from '../src/ad/user-account-control.ts';
import { decideUsnPass, decodeUsnCursor, encodeUsnCursor, usnChangedFilter } from '../src/ad/usn-cursor.ts';

describe('objectGUID', () => {
  const cases = [
    // Bytes as AD stores them → the string AD tools print.
    { hex: '2a8ba1b6d2f0bb4f8c0a7c9e5f2d1e3a', guid: 'b6a18b2a-f0d2-4fbb-8c0a-7c9e5f2d1e3a' },
    { hex: '00000000000000000000000000000000', guid: '00000000-0000-0000-0000-000000000000' },
    { hex: '0102030405060708090a0b0c0d0e0f10', guid: '04030201-0605-0807-090a-0b0c0d0e0f10' },
    { hex: 'ffffffffffffffffffffffffffffffff', guid: 'ffffffff-ffff-ffff-ffff-ffffffffffff' },
  ];
  for (const { hex, guid } of cases) {
    it(`${hex} ↔ ${guid}`, () => {
      assert.equal(objectGuidToString(Buffer.from(hex, 'hex')), guid);
      assert.equal(guidStringToBytes(guid).toString('hex'), hex);
      assert.equal(guidStringToBytes(`{${guid.toUpperCase()}}`).toString('hex'), hex);
    });
  }
  it('rejects wrong lengths and non-GUIDs', () => {
    assert.throws(() => objectGuidToString(Buffer.alloc(15)), RangeError);
    assert.throws(() => guidStringToBytes('not-a-guid'), RangeError);
  });
  it('escapes bytes for a filter', () => {
    assert.equal(escapeBinaryFilterValue(Buffer.from([0, 0x2a, 0xff])), '\\00\\2a\\ff');
  });
});

describe('objectSid', () => {
  const cases = [
    { hex: '010500000000000515000000a065cf7e784b9b5ffe92a94f4f040000', sid: 'S-1-5-21-2127521184-1604012920-1336513278-1103' },
    { hex: '01020000000000052000000020020000', sid: 'S-1-5-32-544' },
    { hex: '010100000000000100000000', sid: 'S-1-1-0' },
    { hex: '0100000000000005', sid: 'S-1-5' },
  ];
  for (const { hex, sid } of cases) {
    it(`${hex} ↔ ${sid}`, () => {
      assert.equal(sidToString(Buffer.from(hex, 'hex')), sid);
      assert.equal(sidStringToBytes(sid).toString('hex'), hex);
    });
  }
  it('prints authorities ≥ 2^32 in hex', () => {
    const bytes = Buffer.from('010000010000000000', 'hex').subarray(0, 8);
    assert.equal(sidToString(bytes), 'S-1-0x000100000000');
  });
  it('rejects truncated SIDs', () => {
    assert.throws(() => sidToString(Buffer.from('0105000000000005150000', 'hex')), RangeError);
    assert.throws(() => sidStringToBytes('X-1-5'), RangeError);
  });
  it('splits domain and RID, builds the primary group SID', () => {
    const sid = 'S-1-5-21-1-2-3-1105';
    assert.equal(sidDomain(sid), 'S-1-5-21-1-2-3');
    assert.equal(sidRid(sid), 1105);
    assert.equal(primaryGroupSid(sid, 513), 'S-1-5-21-1-2-3-513');
  });
});

describe('userAccountControl', () => {
  const now = Date.UTC(2026, 10, 22);
  const future = String((BigInt(now + 86_400_000) + 11_644_473_600_000n) * 10_000n);
  const past = String((BigInt(now - 86_400_000) + 11_644_473_600_000n) * 10_000n);
  const cases = [
    {
      name: 'normal 512',
      input: { userAccountControl: 512 },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'disabled 514',
      input: { userAccountControl: 514 },
      enabled: false,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'disabled + never expires 66050',
      input: { userAccountControl: 66050 },
      enabled: false,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'computed lockout',
      input: { userAccountControl: 512, computed: UAC.LOCKOUT },
      enabled: true,
      lockedOut: true,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'computed password expired',
      input: { userAccountControl: 512, computed: UAC.PASSWORD_EXPIRED },
      enabled: true,
      lockedOut: false,
      passwordExpired: true,
      accountExpired: false,
    },
    {
      name: 'computed 0 wins over lockoutTime',
      input: { userAccountControl: 512, computed: 0, lockoutTime: past },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'lockoutTime without computed',
      input: { userAccountControl: 512, lockoutTime: past },
      enabled: true,
      lockedOut: true,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'lockoutTime 0',
      input: { userAccountControl: 512, lockoutTime: '0' },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'account expired',
      input: { userAccountControl: 512, accountExpires: past },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: true,
    },
    {
      name: 'account expires later',
      input: { userAccountControl: 512, accountExpires: future },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
    {
      name: 'accountExpires never',
      input: { userAccountControl: 512, accountExpires: '9223372036854775807' },
      enabled: true,
      lockedOut: false,
      passwordExpired: false,
      accountExpired: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = accountStatus({ ...c.input, nowMs: now });
      assert.deepEqual(
        { enabled: s.enabled, lockedOut: s.lockedOut, passwordExpired: s.passwordExpired, accountExpired: s.accountExpired },
        { enabled: c.enabled, lockedOut: c.lockedOut, passwordExpired: c.passwordExpired, accountExpired: c.accountExpired },
      );
    });
  }
  it('converts FILETIME and GeneralizedTime', () => {
    assert.equal(fileTimeToMs('116444736000000000'), 0);
    assert.equal(fileTimeToMs('0'), null);
    assert.equal(fileTimeToMs('9223372036854775807'), null);
    assert.equal(generalizedTimeToMs('20261122030405.0Z'), Date.UTC(2026, 10, 22, 3, 4, 5));
    assert.equal(generalizedTimeToMs('20261122030405.5+0100'), Date.UTC(2026, 10, 22, 2, 4, 5, 500));
    assert.equal(generalizedTimeToMs('garbage'), null);
  });
});

describe('range retrieval', () => {
  const cases = [
    {
      text: 'member;range=0-1499',
      parsed: { attribute: 'member', low: 0, high: 1499 },
      next: 'member;range=1500-*',
      nextStep: 'member;range=1500-2999',
    },
    { text: 'member;range=1500-*', parsed: { attribute: 'member', low: 1500, high: null }, next: null, nextStep: null },
    {
      text: 'Member;Range=3000-4499',
      parsed: { attribute: 'Member', low: 3000, high: 4499 },
      next: 'Member;range=4500-*',
      nextStep: 'Member;range=4500-5999',
    },
    {
      text: 'member;binary;range=0-9',
      parsed: { attribute: 'member;binary', low: 0, high: 9 },
      next: 'member;binary;range=10-*',
      nextStep: 'member;binary;range=10-1509',
    },
    { text: 'member', parsed: null, next: null, nextStep: null },
    { text: 'member;range=9-3', parsed: null, next: null, nextStep: null },
    { text: 'member;range=x-*', parsed: null, next: null, nextStep: null },
  ];
  for (const c of cases) {
    it(c.text, () => {
      const parsed = parseRangedAttribute(c.text);
      assert.deepEqual(parsed, c.parsed);
      if (parsed) {
        assert.equal(nextRangeRequest(parsed), c.next);
        assert.equal(nextRangeRequest(parsed, 1500), c.nextStep);
      }
    });
  }
  it('builds requests and finds the ranged name among attributes', () => {
    assert.equal(rangeRequest('member', 0, 1500), 'member;range=0-1499');
    assert.equal(rangeRequest('member', 0), 'member;range=0-*');
    assert.deepEqual(findRangedAttribute(['dn', 'cn', 'member;range=0-1499'], 'MEMBER'), { attribute: 'member', low: 0, high: 1499 });
    assert.equal(findRangedAttribute(['member'], 'member'), null);
  });
});

describe('tombstones', () => {
  const cases = [
    {
      dn: 'CN=alice\\0ADEL:5e6f1d2a-0b1c-4d2e-8f3a-1b2c3d4e5f60,CN=Deleted Objects,DC=dirstream,DC=test',
      parsed: { name: 'alice', guid: '5e6f1d2a-0b1c-4d2e-8f3a-1b2c3d4e5f60', parentDn: 'CN=Deleted Objects,DC=dirstream,DC=test' },
    },
    {
      dn: 'CN=Smith\\, John\\0ADEL:5E6F1D2A-0B1C-4D2E-8F3A-1B2C3D4E5F60,CN=Deleted Objects,DC=x',
      parsed: { name: 'Smith\\, John', guid: '5e6f1d2a-0b1c-4d2e-8f3a-1b2c3d4e5f60', parentDn: 'CN=Deleted Objects,DC=x' },
    },
    { dn: 'CN=alice,OU=People,DC=dirstream,DC=test', parsed: null },
    { dn: 'CN=DEL:x,DC=y', parsed: null },
  ];
  for (const c of cases) it(c.dn, () => assert.deepEqual(parseTombstoneDn(c.dn), c.parsed));
  it('reads isDeleted', () => {
    assert.equal(isDeletedFlag('TRUE'), true);
    assert.equal(isDeletedFlag(['TRUE']), true);
    assert.equal(isDeletedFlag('FALSE'), false);
    assert.equal(isDeletedFlag(undefined), false);
  });
});

describe('controls', () => {
  it('Show Deleted is critical with no value', () => {
    const w = new BerWriter();
    new ShowDeletedControl().write(w);
    const r = new BerReader(w.buffer);
    r.readSequence();
    assert.equal(r.readString(), '1.2.840.113556.1.4.417');
    assert.equal(r.readBoolean(), true);
    assert.equal(r.remain, 0);
  });
  it('DirSync encodes flags (sign bit included), maxBytes and cookie', () => {
    const control = new DirSyncControl({
      flags: DIRSYNC_FLAGS.OBJECT_SECURITY | DIRSYNC_FLAGS.INCREMENTAL_VALUES,
      maxBytes: 1_000_000,
      cookie: Buffer.from('abc'),
    });
    const w = new BerWriter();
    control.write(w);
    const r = new BerReader(w.buffer);
    r.readSequence();
    assert.equal(r.readString(), '1.2.840.113556.1.4.841');
    assert.equal(r.readBoolean(), true);
    const value = new BerReader(r.readString(Ber.OctetString, true)!);
    value.readSequence();
    assert.equal(value.readInt()! >>> 0, 0x8000_0001);
    assert.equal(value.readInt(), 1_000_000);
    assert.equal(value.readString(Ber.OctetString, true)!.toString(), 'abc');
  });
  it('DirSync with no cookie sends an empty octet string', () => {
    const w = new BerWriter();
    new DirSyncControl().write(w);
    assert.match(w.buffer.toString('hex'), /0400$/);
  });
  it('decodes the response cookie', () => {
    for (const more of [0, 1]) {
      const w = new BerWriter();
      w.startSequence();
      w.writeInt(more);
      w.writeInt(0);
      w.writeBuffer(Buffer.from([1, 2, 3, 250]), Ber.OctetString);
      w.endSequence();
      const decoded = decodeDirSyncResponse(new BerReader(w.buffer));
      assert.equal(decoded.moreResults, more === 1);
      assert.deepEqual([...decoded.cookie], [1, 2, 3, 250]);
    }
  });
});

describe('USN cursor', () => {
  const dc = {
    dsServiceName: 'CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=dirstream,DC=test',
    invocationId: 'b6a18b2a-f0d2-4fbb-8c0a-7c9e5f2d1e3a',
    highestCommittedUsn: '4200',
  };
  const cursor = { dsServiceName: dc.dsServiceName, invocationId: dc.invocationId, usn: '4100' };
  it('round-trips', () => {
    assert.deepEqual(decodeUsnCursor(encodeUsnCursor(cursor)), cursor);
    assert.equal(decodeUsnCursor(null), null);
    assert.equal(decodeUsnCursor('20261122030405Z'), null);
    assert.equal(decodeUsnCursor('ad-usn:{broken'), null);
    assert.equal(decodeUsnCursor('ad-usn:{"dsa":"x","inv":"y","usn":"12a"}'), null);
  });
  const cases = [
    { name: 'no cursor', cursor: null, dc, expected: { mode: 'full', reason: 'no-cursor' } },
    { name: 'same DC', cursor, dc, expected: { mode: 'delta', sinceUsn: '4100' } },
    { name: 'same DC, nothing new', cursor, dc: { ...dc, highestCommittedUsn: '4100' }, expected: { mode: 'delta', sinceUsn: '4100' } },
    {
      name: 'other DC',
      cursor,
      dc: { ...dc, dsServiceName: dc.dsServiceName.replace('DC1', 'DC2') },
      expected: { mode: 'full', reason: 'other-dc' },
    },
    {
      name: 'restored DC',
      cursor,
      dc: { ...dc, invocationId: '00000000-0000-0000-0000-000000000001' },
      expected: { mode: 'full', reason: 'dc-restored' },
    },
    { name: 'USN rolled back', cursor, dc: { ...dc, highestCommittedUsn: '4000' }, expected: { mode: 'full', reason: 'usn-rollback' } },
  ] as const;
  for (const c of cases) it(c.name, () => assert.deepEqual(decideUsnPass(c.cursor, c.dc), c.expected));
  it('filters strictly after the cursor', () => assert.equal(usnChangedFilter('4100'), '(uSNChanged>=4101)'));
});

describe('binary-safe filter parsing', () => {
  const encode = (text: string) => {
    const w = new BerWriter();
    parseLdapFilter(text).write(w);
    return w.buffer;
  };
  it('sends \\xx escapes in equality assertions as raw bytes', () => {
    const bytes = encode('(objectGUID=\\2a\\8b\\a1\\b6)');
    assert.ok(bytes.includes(Buffer.from([0x04, 0x04, 0x2a, 0x8b, 0xa1, 0xb6])), bytes.toString('hex'));
  });
  it('sends literal non-ASCII text as UTF-8, escaped or not', () => {
    const literal = encode('(sn=Müller)');
    const escaped = encode('(sn=M\\c3\\bcller)');
    assert.deepEqual(literal, escaped);
    assert.ok(literal.includes(Buffer.from('Müller', 'utf8')));
  });
  it('keeps substring and nested filters as UTF-8 text', () => {
    const bytes = encode('(&(objectClass=user)(!(cn=Zoë*))(uSNChanged>=42))');
    assert.ok(bytes.includes(Buffer.from('Zoë', 'utf8')));
    assert.ok(bytes.includes(Buffer.from('42')));
  });
});
