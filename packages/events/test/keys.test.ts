import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDirstreamError } from '@dirstream/errors';
import { groupKey, membershipKey, parseEntityKey, parseMembershipKey, syncRunKey, userKey } from '../src/keys.ts';

const PROFILE = '6f1c2a8e-3b4d-4c5e-9f60-718293a4b5c6';
const GUID = '0b7e5f2c-1d3a-4e6b-8c9d-a0b1c2d3e4f5';

const invalidKey = (error: unknown) => isDirstreamError(error, 'EVENT_KEY_INVALID');

describe('entity keys', () => {
  const cases: Array<{ name: string; externalId: string; key: string }> = [
    { name: 'GUID stays readable', externalId: GUID, key: `${PROFILE}/${GUID}` },
    { name: 'slash is escaped', externalId: 'ou=a/b', key: `${PROFILE}/ou=a%2Fb` },
    { name: 'percent is escaped', externalId: '100%', key: `${PROFILE}/100%25` },
    { name: 'escape-looking text round-trips', externalId: '%2F/%25', key: `${PROFILE}/%252F%2F%2525` },
    { name: 'only slashes', externalId: '//', key: `${PROFILE}/%2F%2F` },
    { name: 'unicode', externalId: 'Zoë 🚀 東京', key: `${PROFILE}/Zoë 🚀 東京` },
    { name: 'SID', externalId: 'S-1-5-21-1-2-3-1105', key: `${PROFILE}/S-1-5-21-1-2-3-1105` },
    { name: 'spaces and commas', externalId: 'CN=a, b', key: `${PROFILE}/CN=a, b` },
  ];
  for (const { name, externalId, key } of cases) {
    it(`round-trips: ${name}`, () => {
      assert.equal(userKey(PROFILE, externalId), key);
      assert.equal(groupKey(PROFILE, externalId), key);
      assert.deepEqual(parseEntityKey(key), { profileId: PROFILE, externalId });
      assert.deepEqual(parseEntityKey(Buffer.from(key)), { profileId: PROFILE, externalId });
    });
  }

  it('escapes the profile ID too', () => {
    assert.deepEqual(parseEntityKey(userKey('a/b', 'c')), { profileId: 'a/b', externalId: 'c' });
  });

  it('sync run key is the escaped profile ID', () => {
    assert.equal(syncRunKey(PROFILE), PROFILE);
    assert.equal(syncRunKey('a/b'), 'a%2Fb');
  });

  const badParts: Array<[string, string]> = [
    ['', GUID],
    [PROFILE, ''],
    [PROFILE, 'lone \ud800 surrogate'],
  ];
  for (const [profileId, externalId] of badParts) {
    it(`rejects parts ${JSON.stringify([profileId, externalId])}`, () => {
      assert.throws(() => userKey(profileId, externalId), invalidKey);
    });
  }

  const badKeys = [
    '',
    PROFILE,
    `${PROFILE}/`,
    `/${GUID}`,
    `${PROFILE}/${GUID}/extra`,
    `${PROFILE}/a%2fb`,
    `${PROFILE}/a%20b`,
    `${PROFILE}/a%`,
    `${PROFILE}/a%2`,
  ];
  for (const key of badKeys) {
    it(`rejects key ${JSON.stringify(key)}`, () => {
      assert.throws(() => parseEntityKey(key), invalidKey);
    });
  }

  it('rejects a missing key and invalid UTF-8', () => {
    assert.throws(() => parseEntityKey(null), invalidKey);
    assert.throws(() => parseEntityKey(Buffer.from([0x61, 0x2f, 0xff])), invalidKey);
  });
});

describe('membership keys', () => {
  const cases: Array<[string, string]> = [
    [GUID, 'c4d5e6f7-0819-4a2b-9c3d-4e5f60718293'],
    ['g/1', 'm%1'],
    ['Gruppe ü', '成员'],
  ];
  for (const [groupId, memberId] of cases) {
    it(`round-trips ${groupId} / ${memberId}`, () => {
      const key = membershipKey(PROFILE, groupId, memberId);
      assert.equal(key.split('/').length, 3);
      assert.deepEqual(parseMembershipKey(key), { profileId: PROFILE, groupId, memberId });
    });
  }

  it('rejects empty parts and wrong shapes', () => {
    assert.throws(() => membershipKey(PROFILE, '', 'm'), invalidKey);
    assert.throws(() => membershipKey(PROFILE, 'g', ''), invalidKey);
    assert.throws(() => parseMembershipKey(`${PROFILE}/g`), invalidKey);
    assert.throws(() => parseMembershipKey(`${PROFILE}/g/m/x`), invalidKey);
    assert.throws(() => parseMembershipKey(`${PROFILE}//m`), invalidKey);
    assert.throws(() => parseEntityKey(membershipKey(PROFILE, 'g', 'm')), invalidKey);
  });
});
