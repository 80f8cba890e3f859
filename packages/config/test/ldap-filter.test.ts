import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPasswordAttribute, ldapFilterProblem } from '../src/ldap-filter.ts';

describe('LDAP filters checked at load', () => {
  const rows: [string, string | null][] = [
    ['(objectClass=inetOrgPerson)', null],
    ['objectClass=inetOrgPerson', null],
    ['(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))', null],
    ['(memberOf:1.2.840.113556.1.4.1941:=cn=x,dc=y)', null],
    ['(cn=a\\29b)', null],
    ['(cn=*smith*)', null],
    ['(objectClass=person', '"(" at character 1 is never closed'],
    ['(&(a=b)(c=d)', '"(" at character 1 is never closed'],
    ['(a=b))', 'text after the end of the filter at character 6'],
    ['a=b)', 'unexpected ")" at character 4'],
    ['(a=b)(c=d)', 'text after the end of the filter at character 6'],
    ['x(a=b)', 'text before "(" at character 2'],
    ['(|(a=b)(c))', 'Invalid expression: c at character 9'],
    ['(a=\\zz)', 'Invalid escaped hex character'],
    ['(&)', 'Missing paren'],
  ];
  for (const [filter, problem] of rows) {
    it(`${filter} → ${problem ?? 'ok'}`, () => {
      const found = ldapFilterProblem(filter);
      if (problem === null) assert.equal(found, null);
      else assert.ok(found?.includes(problem), `${found} should include ${problem}`);
    });
  }
  it('password attributes, any case, with options', () => {
    for (const a of ['userPassword', 'USERPASSWORD', 'unicodePwd', 'supplementalCredentials', 'userPassword;binary'])
      assert.ok(isPasswordAttribute(a), a);
    for (const a of ['mail', 'passwordExpiry', 'pwdLastSet']) assert.ok(!isPasswordAttribute(a), a);
  });
});
