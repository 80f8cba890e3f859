import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dnChange,
  escapeDnValue,
  escapeFilterValue,
  isUnderDn,
  nameAndOptionalUidDn,
  normaliseDn,
  parentDn,
  parseDn,
  type Rdn,
} from '../src/directory/dn.ts';

describe('normaliseDn', () => {
  const same: [string, string][] = [
    ['uid=alice,ou=People,dc=Example,dc=test', 'UID=Alice, OU=people , DC=example,DC=TEST'],
    ['cn=Doe\\, John,ou=x', 'CN=doe\\2C john,OU=X'],
    ['cn=Doe\\, John,ou=x', 'cn="Doe, John",ou=x'],
    ['cn=Doe\\, John,ou=x', 'CN = "doe\\, JOHN" , OU=x'],
    ['cn=a+uid=b,dc=x', 'uid=B+cn=A,dc=x'],
    ['cn=Jürgen,dc=x', 'cn=J\\C3\\BCrgen,dc=x'],
    ['cn=\\ lead,dc=x', 'cn=\\20lead,dc=x'],
    ['cn=trail\\ ,dc=x', 'cn=trail\\20,dc=x'],
    ['cn=a,ou=b,dc=x', '2.5.4.3=A,OID.2.5.4.11=b,0.9.2342.19200300.100.1.25=x'],
  ];
  for (const [a, b] of same) {
    it(`${a} ≡ ${b}`, () => assert.equal(normaliseDn(a), normaliseDn(b)));
  }
  const different: [string, string][] = [
    ['cn=Doe\\, John,ou=x', 'cn=Doe,cn=John,ou=x'],
    ['cn=a,ou=x', 'cn=a,ou=y'],
    ['cn=a b,dc=x', 'cn=ab,dc=x'],
    ['cn=" a",dc=x', 'cn=a,dc=x'],
    ['cn="Doe, John",ou=x', 'cn=Doe,cn=John,ou=x'],
  ];
  for (const [a, b] of different) {
    it(`${a} ≠ ${b}`, () => assert.notEqual(normaliseDn(a), normaliseDn(b)));
  }
  it('keeps an escaped comma escaped in the normal form', () => {
    assert.equal(normaliseDn('CN=Doe\\, John,OU=X'), 'cn=doe\\, john,ou=x');
  });
  it('lowercases plain DNs and still escapes, trims and maps what is not plain', () => {
    // Expected forms written out by hand (RFC 4514 escaping of the lowercased values).
    const expected: [string, string][] = [
      ['UID=Alice,OU=People,DC=Example,DC=test', 'uid=alice,ou=people,dc=example,dc=test'],
      ['cn=John  Smith,dc=x', 'cn=john  smith,dc=x'],
      ['cn=a#b,dc=x', 'cn=a#b,dc=x'],
      ['cn=Ärger,dc=X', 'cn=ärger,dc=x'],
      ['cn=a=b,dc=x', 'cn=a\\=b,dc=x'],
      ['cn=a ,dc=x', 'cn=a,dc=x'],
      ['cn=a, dc=x', 'cn=a,dc=x'],
      ['2.5.4.3=A,dc=x', 'cn=a,dc=x'],
      ['cn=#AB,dc=x', 'cn=#ab,dc=x'],
      ['cn=a+UID=b,dc=x', 'cn=a+uid=b,dc=x'],
      ['CN=Doe\\, John,OU=X', 'cn=doe\\, john,ou=x'],
      ['CN=Doe\\2C John,OU=X', 'cn=doe\\, john,ou=x'],
      ['cn=\\#Xyz,dc=x', 'cn=\\#xyz,dc=x'],
      ['cn=a\\ b,dc=x', 'cn=a b,dc=x'],
      ['', ''],
    ];
    for (const [dn, normal] of expected) assert.equal(normaliseDn(dn), normal, dn);
  });
  it('gives a plain DN the normal form the parser gives it', () => {
    // A trailing space sends the same DN through the parser (it drops unescaped trailing spaces).
    const words = [
      'Alice',
      "o'Brien",
      'Jürgen Groß',
      'ΟΔΟΣ',
      'a#b',
      'x-1_2',
      'Ünal.Çelik',
      'İz',
      'Doe\\, John',
      'a\\+B',
      'Q\\"x',
      'back\\\\slash',
      'X\\=y',
      'l\\<G\\>',
      's\\;c',
      'end\\,',
    ];
    for (const a of words) {
      for (const b of words) {
        const dn = `CN=${a},OU=${b},dc=Example,dc=test`;
        assert.equal(normaliseDn(dn), normaliseDn(`${dn} `), dn);
      }
    }
  });
  it('parses types and values', () => {
    assert.deepEqual(parseDn('cn=a\\+b+uid=c,dc=x'), [
      [
        { type: 'cn', value: 'a+b' },
        { type: 'uid', value: 'c' },
      ],
      [{ type: 'dc', value: 'x' }],
    ]);
  });
});

describe('quoted RDN values (RFC 1779 / RFC 2253 §4 input form)', () => {
  // Expectations written out by hand from the RFC's grammar, not derived from the escaped form.
  const parsed: [string, Rdn[]][] = [
    ['cn="Doe, John",ou=x', [[{ type: 'cn', value: 'Doe, John' }], [{ type: 'ou', value: 'x' }]]],
    ['cn = "Doe, John" ,ou=x', [[{ type: 'cn', value: 'Doe, John' }], [{ type: 'ou', value: 'x' }]]],
    ['cn=" padded ",dc=x', [[{ type: 'cn', value: ' padded ' }], [{ type: 'dc', value: 'x' }]]],
    [
      'cn="a+b;c=d<e>#f"+uid=g,dc=x',
      [
        [
          { type: 'cn', value: 'a+b;c=d<e>#f' },
          { type: 'uid', value: 'g' },
        ],
        [{ type: 'dc', value: 'x' }],
      ],
    ],
    ['cn="say \\"hi\\" \\\\ bye",dc=x', [[{ type: 'cn', value: 'say "hi" \\ bye' }], [{ type: 'dc', value: 'x' }]]],
    ['cn="J\\C3\\BCrgen";dc=x', [[{ type: 'cn', value: 'Jürgen' }], [{ type: 'dc', value: 'x' }]]],
    ['cn="",dc=x', [[{ type: 'cn', value: '' }], [{ type: 'dc', value: 'x' }]]],
    ['ou=x,cn="last, one"', [[{ type: 'ou', value: 'x' }], [{ type: 'cn', value: 'last, one' }]]],
  ];
  for (const [dn, expected] of parsed) it(`parses ${dn}`, () => assert.deepEqual(parseDn(dn), expected));

  const normal: [string, string][] = [
    ['cn="Doe, John",OU=X', 'cn=doe\\, john,ou=x'],
    ['cn=" padded ",dc=x', 'cn=\\ padded\\ ,dc=x'],
    ['cn="#1 = \\"first\\"",dc=x', 'cn=\\#1 \\= \\"first\\",dc=x'],
    ['uid="b"+cn="a, b",dc=x', 'cn=a\\, b+uid=b,dc=x'],
  ];
  for (const [dn, expected] of normal) it(`normalises ${dn} to ${expected}`, () => assert.equal(normaliseDn(dn), expected));

  it('parent and subtree see through the quotes', () => {
    assert.equal(parentDn('cn=x,ou="Sales, EMEA",dc=x'), 'ou=sales\\, emea,dc=x');
    assert.ok(isUnderDn('uid=a,ou="Sales, EMEA",dc=x', 'ou=Sales\\, EMEA,dc=x'));
  });

  for (const dn of ['cn="open,dc=x', 'cn="a"b,dc=x', 'cn="a\\']) {
    it(`refuses ${dn}`, () => assert.throws(() => parseDn(dn), /malformed DN/));
  }
});

describe('dn helpers', () => {
  const cases: [string, string, 'none' | 'renamed' | 'moved'][] = [
    ['uid=a,ou=p,dc=x', 'UID=A,ou=P,dc=x', 'none'],
    ['uid=a,ou=p,dc=x', 'uid=b,ou=p,dc=x', 'renamed'],
    ['uid=a,ou=p,dc=x', 'uid=a,ou=q,dc=x', 'moved'],
    ['uid=a,ou=p,dc=x', 'uid=b,ou=q,dc=x', 'moved'],
  ];
  for (const [from, to, expected] of cases) it(`${from} → ${to}: ${expected}`, () => assert.equal(dnChange(from, to), expected));
  it('parent and subtree', () => {
    assert.equal(parentDn('cn=Doe\\, J,OU=P,dc=x'), 'ou=p,dc=x');
    assert.ok(isUnderDn('uid=a,ou=P,dc=x', 'ou=p,DC=x'));
    assert.ok(!isUnderDn('uid=a,ou=Pp,dc=x', 'ou=p,dc=x'));
  });
  it('escapes values for DNs and filters', () => {
    assert.equal(escapeDnValue('Doe, John+#'), 'Doe\\, John\\+#');
    assert.equal(escapeDnValue('#x '), '\\#x\\ ');
    assert.equal(escapeFilterValue('a*(b)\\'), 'a\\2a\\28b\\29\\5c');
  });
  const uids: [string, string][] = [
    ["uid=a,ou=p,dc=x#'0101'B", 'uid=a,ou=p,dc=x'],
    ["uid=a,ou=p,dc=x#'0'b", 'uid=a,ou=p,dc=x'],
    ["uid=a,ou=p,dc=x#''B", 'uid=a,ou=p,dc=x'],
    ['uid=a,ou=p,dc=x', 'uid=a,ou=p,dc=x'],
    ['cn=\\#x,dc=x', 'cn=\\#x,dc=x'],
    ["cn=x#'12'B,dc=x", "cn=x#'12'B,dc=x"],
  ];
  for (const [value, dn] of uids) it(`NameAndOptionalUID ${value} → ${dn}`, () => assert.equal(nameAndOptionalUidDn(value), dn));
});
