import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveUserMapping } from '@dirstream/config';
import { formatGeneralizedTime, type LdapEntry, parseGeneralizedTime, toLdapEntry } from '../src/directory/entry.ts';
import { mapGroup, mapUser } from '../src/directory/mapping.ts';
import { createOpenLdapDialect } from '../src/dialects/openldap.ts';

const dialect = createOpenLdapDialect();
const mapping = resolveUserMapping({
  directory: 'openldap',
  users: { baseDn: 'dc=x', scope: 'sub', attributes: { extra: { badge: 'employeeNumber' } } },
} as never);

function entry(attributes: Record<string, string | string[] | Buffer>): LdapEntry {
  return toLdapEntry({ dn: 'uid=a,ou=p,dc=x', ...attributes });
}

describe('mapUser', () => {
  const full = {
    entryUUID: 'ABC-1',
    uid: 'alice',
    cn: 'Alice A',
    displayName: 'Alice',
    mail: ['b@x', 'a@x'],
    modifyTimestamp: '20260102030405Z',
    employeeNumber: '7',
  };
  it('maps attributes case-insensitively, sorts mail, lowercases the ID', () => {
    const m = mapUser(
      toLdapEntry({ dn: 'uid=a,dc=x', entryuuid: 'ABC-1', UID: 'alice', displayname: 'Alice', mail: ['b@x', 'a@x'] }),
      mapping,
      dialect,
      false,
    );
    assert.ok(m.ok);
    assert.equal(m.externalId, 'abc-1');
    assert.equal(m.state.loginName, 'alice');
    assert.deepEqual(m.state.emails, ['a@x', 'b@x']);
    assert.equal(m.state.enabled, true);
  });
  it('display name falls back to cn, extra attributes land in attributes', () => {
    const m = mapUser(entry({ ...full, displayName: [] as unknown as string }), mapping, dialect, true);
    assert.ok(m.ok);
    assert.equal(m.state.displayName, 'Alice A');
    assert.deepEqual(m.state.attributes, { badge: ['7'] });
    assert.equal(m.state.disabledReason, 'directory-disabled');
    assert.equal(m.changedAt, Date.UTC(2026, 0, 2, 3, 4, 5));
  });
  const missing: [string, Record<string, unknown>, string | null][] = [
    ['no ID', { entryUUID: undefined }, null],
    ['no login', { uid: undefined }, 'abc-1'],
    ['no display name', { cn: undefined, displayName: undefined }, 'abc-1'],
  ];
  for (const [name, drop, id] of missing) {
    it(`${name} → entry error with the DN`, () => {
      const attrs: Record<string, unknown> = { ...full, ...drop };
      for (const k of Object.keys(attrs)) if (attrs[k] === undefined) delete attrs[k];
      const m = mapUser(entry(attrs as never), mapping, dialect, false);
      assert.equal(m.ok, false);
      if (!m.ok) {
        assert.equal(m.externalId, id);
        assert.equal(m.error.code, 'ENTRY_MISSING_ATTRIBUTE');
        assert.equal(m.error.dn, 'uid=a,ou=p,dc=x');
      }
    });
  }
  for (const [name, attrs, field] of [
    ['display name', { displayName: 'Nul\u0000Byte' }, 'displayName'],
    ['extra attribute', { employeeNumber: 'a\u0000b' }, 'attributes.badge'],
    ['mail', { mail: ['a@x', 'b\u0000@x'] }, 'emails'],
  ] as const) {
    it(`a NUL character in the ${name} → entry error naming the field (PostgreSQL cannot store it)`, () => {
      const m = mapUser(entry({ ...full, ...attrs } as Record<string, string | string[]>), mapping, dialect, false);
      assert.equal(m.ok, false);
      if (!m.ok) {
        assert.equal(m.externalId, 'abc-1', 'the ID is known, so a full pass does not count the entry as gone');
        assert.equal(m.error.code, 'ENTRY_INVALID_VALUE');
        assert.equal(m.error.dn, 'uid=a,ou=p,dc=x');
        assert.match(m.error.message, new RegExp(`^${field.replace('.', '\\.')} contains a NUL`));
      }
    });
  }
  it('binary values are carried base64', () => {
    const m = mapUser(entry({ ...full, employeeNumber: Buffer.from([1, 2, 255]) }), mapping, dialect, false);
    assert.ok(m.ok);
    assert.deepEqual(m.state.attributes.badge, ['AQL/']);
  });
});

describe('mapGroup', () => {
  it('needs an ID and a name', () => {
    const g = {
      externalId: 'entryUUID',
      name: 'cn',
      memberAttributes: ['member' as const],
      nested: true,
      filter: '',
      description: 'description',
      modified: 'modifyTimestamp',
    };
    assert.equal(mapGroup(toLdapEntry({ dn: 'cn=g,dc=x', entryUUID: 'G', cn: 'g' }), g, dialect).ok, true);
    assert.equal(mapGroup(toLdapEntry({ dn: 'cn=g,dc=x', entryUUID: 'G' }), g, dialect).ok, false);
  });
});

describe('generalized time', () => {
  const cases: [string, number | null][] = [
    ['20261122030405Z', Date.UTC(2026, 10, 22, 3, 4, 5)],
    ['20261122030405.123456Z', Date.UTC(2026, 10, 22, 3, 4, 5, 123)],
    ['20261122040405+0100', Date.UTC(2026, 10, 22, 3, 4, 5)],
    ['garbage', null],
  ];
  for (const [text, ms] of cases) it(text, () => assert.equal(parseGeneralizedTime(text), ms));
  it('round-trips at second precision', () => assert.equal(formatGeneralizedTime(Date.UTC(2026, 10, 22, 3, 4, 5)), '20261122030405Z'));
});
