/** The oracle's own pieces (no infrastructure): an oracle that is wrong proves nothing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLdif } from './ldif.ts';
import { comparableDn, createModel, type DirectorySnapshot, firstDifference, guidString } from './oracle.ts';
import { createDriver, type OracleOp, randomOperation, rdnValue, replaceIn } from './oracle-run.ts';

test('parseLdif: folded lines, base64 values and DNs, comments, several entries', () => {
  const text = [
    '# comment',
    'dn: uid=a,ou=people,dc=x',
    'cn: Alpha',
    'description: one',
    '  two',
    'member: uid=b,dc=x',
    'member: uid=c,dc=x',
    '',
    `dn:: ${Buffer.from('cn=Jürgen,dc=x').toString('base64')}`,
    `displayName:: ${Buffer.from('Nul\u0000Byte').toString('base64')}`,
    `objectGUID:: ${Buffer.from('33221100554477668899aabbccddeeff', 'hex').toString('base64')}`,
    '',
  ].join('\n');
  const [a, b] = parseLdif(text);
  assert.equal(a?.dn, 'uid=a,ou=people,dc=x');
  assert.deepEqual(a?.attributes.get('description'), ['one two']);
  assert.deepEqual(a?.attributes.get('member'), ['uid=b,dc=x', 'uid=c,dc=x']);
  assert.equal(b?.dn, 'cn=Jürgen,dc=x');
  assert.deepEqual(b?.attributes.get('displayname'), ['Nul\u0000Byte']);
  assert.equal(b?.raw.get('objectguid')?.[0]?.length, 16);
});

test('guidString: the first three fields little-endian', () => {
  const bytes = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
  assert.equal(guidString(bytes), '00112233-4455-6677-8899-aabbccddeeff');
});

test('comparableDn: escapes, case and blanks do not matter, structure does', () => {
  const same = [
    ['cn=Doe\\, John,ou=People,dc=x', 'CN=doe\\2C john, ou=people, dc=x'],
    ['cn=山田\\2C Zoë,dc=x', 'cn=\\E5\\B1\\B1\\E7\\94\\B0\\, Zoë,dc=x'],
    ['uid=quote\\"user,dc=x', 'uid=quote\\22user,dc=x'],
  ];
  for (const [a, b] of same) assert.equal(comparableDn(a as string), comparableDn(b as string), `${a} = ${b}`);
  assert.notEqual(comparableDn('cn=a\\,b,dc=x'), comparableDn('cn=a,cn=b,dc=x'));
});

test('the model: removal disables and keeps the row, a conflicting new login is skipped until it no longer conflicts', () => {
  const snapshot = (users: [string, string, boolean][], edges: [string, string][] = []): DirectorySnapshot => ({
    users: new Map(users.map(([id, login, enabled]) => [id, { loginName: login, displayName: login, enabled, dn: `uid=${login},dc=x` }])),
    groups: new Map([['g', { name: 'g', dn: 'cn=g,dc=x' }]]),
    edges: new Map(edges.map(([g, m]) => [`${g}|${m}`, 'user' as const])),
  });
  const model = createModel();
  model.observe(
    snapshot(
      [
        ['1', 'ann', true],
        ['2', 'bob', true],
      ],
      [['g', '1']],
    ),
    new Set(['BOB']),
  );
  let state = model.expected();
  assert.deepEqual([...state.users.keys()], ['1'], 'bob conflicts with a local account');
  model.observe(snapshot([['2', 'bobby', true]]), new Set(['BOB']));
  state = model.expected();
  assert.equal(state.users.get('1')?.enabled, false, 'ann left: disabled, row kept');
  assert.equal(state.users.get('2')?.loginName, 'bobby', 'no longer conflicting: stored');
  assert.equal(state.edges.size, 0);
  model.observe(snapshot([['2', 'bob', true]]), new Set(['BOB']));
  assert.equal(model.expected().users.get('2')?.loginName, 'bob', 'once stored, a user follows its login');
  assert.match(firstDifference(state, { ...state, users: new Map() }) ?? '', /^user 1: expected/);
});

test('oracle driver: same seed, same choices; operations whose precondition fails are never picked', () => {
  const choices = (seed: number) => {
    const driver = createDriver(seed);
    const ops: OracleOp[] = ['a', 'b', 'never'].map((name) => ({
      name,
      weight: name === 'a' ? 3 : 1,
      when: () => name !== 'never',
      run: async () => {},
    }));
    return Array.from({ length: 50 }, () => randomOperation(ops, driver.rnd).name);
  };
  assert.deepEqual(choices(42), choices(42));
  assert.ok(!choices(42).includes('never'));
  assert.deepEqual(new Set(choices(42)), new Set(['a', 'b']));
});

test('replaceIn and rdnValue', () => {
  const list = ['x', 'y', 'z'];
  replaceIn(list, 'y', 'w');
  replaceIn(list, 'x', null);
  replaceIn(list, 'absent', 'q');
  assert.deepEqual(list, ['w', 'z']);
  for (const [dn, value] of [
    ['uid=u1,ou=people,dc=x', 'u1'],
    ['CN=r7,OU=sales,DC=x', 'r7'],
  ] as const) {
    assert.equal(rdnValue(dn), value);
  }
});
