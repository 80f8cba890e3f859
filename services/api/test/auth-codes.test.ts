/** The pure pieces of sign-in: AD sub-codes of a refused bind, login forms, profile order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adDataCode, refusalOf } from '../src/auth/ad-codes.ts';
import { parseLogin } from '../src/auth/lookup.ts';
import { RESPONSES } from '../src/auth/outcomes.ts';
import { loginKey } from '../src/auth/rate-limit.ts';

const ad = (code: string) => `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data ${code}, v1db1 Code: 0x31`;

describe('AD data codes', () => {
  const table: [string, string, number][] = [
    ['525', 'AUTH_INVALID_CREDENTIALS', 401],
    ['52e', 'AUTH_INVALID_CREDENTIALS', 401],
    ['530', 'AUTH_LOGON_HOURS_RESTRICTED', 403],
    ['531', 'AUTH_WORKSTATION_RESTRICTED', 403],
    ['532', 'AUTH_PASSWORD_EXPIRED', 403],
    ['533', 'AUTH_ACCOUNT_DISABLED', 403],
    ['701', 'AUTH_ACCOUNT_EXPIRED', 403],
    ['773', 'AUTH_PASSWORD_MUST_CHANGE', 403],
    ['775', 'AUTH_ACCOUNT_LOCKED', 403],
    ['568', 'AUTH_INVALID_CREDENTIALS', 401],
  ];
  for (const [code, body, status] of table) {
    it(`data ${code} → ${status} ${body}`, () => {
      const response = RESPONSES[refusalOf(ad(code))];
      assert.deepEqual([response.status, response.code], [status, body]);
    });
  }

  it('reads the code case-insensitively and only from "data NNN"', () => {
    assert.equal(adDataCode(ad('52E')), '52e');
    assert.equal(adDataCode(' Code: 0x31'), null);
    assert.equal(refusalOf(''), 'invalid-credentials');
    assert.equal(refusalOf('metadata 775'), 'invalid-credentials');
  });
});

describe('login forms', () => {
  it('splits DOMAIN\\login and keeps user@realm whole', () => {
    assert.deepEqual(parseLogin('CORP\\ana'), { name: 'ana', domain: 'corp', principal: null });
    assert.deepEqual(parseLogin('ana@corp.example'), { name: 'ana@corp.example', domain: null, principal: 'ana@corp.example' });
    assert.deepEqual(parseLogin('ana'), { name: 'ana', domain: null, principal: null });
    // Not a DOMAIN\login: leading, trailing or repeated backslashes are part of the name.
    assert.deepEqual(parseLogin('\\ana'), { name: '\\ana', domain: null, principal: null });
    assert.deepEqual(parseLogin('a\\b\\c'), { name: 'a\\b\\c', domain: null, principal: null });
  });

  it('gives every spelling of a login one rate-limit budget', () => {
    assert.equal(loginKey('ANA'), loginKey('ana'));
    assert.equal(loginKey('ａｎａ'), loginKey('ana'));
  });
});
