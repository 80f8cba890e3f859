import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  loadConfigFromText,
  profileDefaults,
  resolveDeltaMechanism,
  resolveGroupMapping,
  resolveUserMapping,
  userMappingAttributes,
} from '@dirstream/config';
import { edit, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

async function profileWith(changes: readonly [readonly (string | number)[], unknown][]) {
  const raw = validRaw();
  for (const [path, value] of changes) edit(raw, ['profiles', 0, ...path], value);
  const config = await loadConfigFromText(toYaml(raw), { sourceName: 'defaults.yaml', env: VALID_ENV });
  return config.profiles[0]!;
}

describe('profileDefaults', () => {
  it('Active Directory', () => {
    const { users, groups, delta } = profileDefaults('active-directory');
    assert.equal(users.externalId, 'objectGUID');
    assert.equal(users.loginName, 'sAMAccountName');
    assert.deepEqual(users.displayName, ['displayName', 'cn', 'name']);
    assert.equal(users.modified, 'whenChanged');
    assert.equal(users.changeCounter, 'uSNChanged');
    assert.equal(users.email, 'mail');
    assert.equal(users.phone, 'telephoneNumber');
    assert.equal(users.title, 'title');
    assert.equal(users.company, 'company');
    assert.equal(users.givenName, 'givenName');
    assert.equal(users.surname, 'sn');
    assert.equal(users.userPrincipalName, 'userPrincipalName');
    assert.equal(users.filter, '(&(objectCategory=person)(objectClass=user))');
    assert.deepEqual(groups, {
      filter: '(objectClass=group)',
      externalId: 'objectGUID',
      name: 'cn',
      memberAttributes: ['member'],
      nested: true,
    });
    assert.equal(delta, 'usn');
  });

  it('OpenLDAP', () => {
    const { users, groups, delta } = profileDefaults('openldap');
    assert.equal(users.externalId, 'entryUUID');
    assert.equal(users.loginName, 'uid');
    assert.deepEqual(users.displayName, ['displayName', 'cn']);
    assert.equal(users.modified, 'modifyTimestamp');
    assert.equal(users.changeCounter, undefined);
    assert.equal(users.company, 'o');
    assert.equal(users.userPrincipalName, undefined);
    assert.deepEqual(groups.memberAttributes, ['member', 'uniqueMember', 'memberUid']);
    assert.equal(users.filter, '(objectClass=inetOrgPerson)');
    assert.equal(groups.filter, '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))');
    assert.equal(delta, 'accesslog');
  });

  it('generic LDAP is OpenLDAP with timestamp deltas', () => {
    const { users, groups, delta } = profileDefaults('ldap');
    assert.deepEqual(users, profileDefaults('openldap').users);
    assert.deepEqual(groups, profileDefaults('openldap').groups);
    assert.equal(delta, 'timestamp');
  });
});

describe('resolveUserMapping / resolveGroupMapping', () => {
  it('uses the directory defaults when nothing is configured', async () => {
    const profile = await profileWith([]);
    assert.deepEqual(resolveUserMapping(profile), profileDefaults('openldap').users);
    assert.deepEqual(resolveGroupMapping(profile), profileDefaults('openldap').groups);
    assert.equal(resolveDeltaMechanism(profile), 'accesslog');
  });

  it('a configured attribute replaces the default, a configured display name has no fallback', async () => {
    const profile = await profileWith([
      [['directory'], 'ldap'],
      [['users', 'attributes'], { externalId: 'nsUniqueId', displayName: 'gecos', extra: { department: 'departmentNumber' } }],
      [['users', 'filter'], '(objectClass=person)'],
      [['groups', 'memberAttributes'], ['uniqueMember']],
      [['groups', 'nested'], false],
      [['schedule'], { delta: 'none' }],
    ]);
    const users = resolveUserMapping(profile);
    assert.equal(users.filter, '(objectClass=person)');
    assert.equal(users.externalId, 'nsUniqueId');
    assert.equal(users.loginName, 'uid');
    assert.deepEqual(users.displayName, ['gecos']);
    assert.deepEqual(users.extra, { department: 'departmentNumber' });
    // Groups take the users' external ID attribute unless idAttribute is set.
    assert.deepEqual(resolveGroupMapping(profile), {
      filter: profileDefaults('ldap').groups.filter,
      externalId: 'nsUniqueId',
      name: 'cn',
      memberAttributes: ['uniqueMember'],
      nested: false,
    });
    assert.equal(resolveDeltaMechanism(profile), 'none');
  });

  it('no groups section: no group mapping', async () => {
    const profile = await profileWith([[['groups'], undefined]]);
    assert.equal(resolveGroupMapping(profile), undefined);
  });

  it('userMappingAttributes lists each attribute once', () => {
    const attributes = userMappingAttributes({
      ...profileDefaults('active-directory').users,
      extra: { mail2: 'MAIL', dept: 'department' },
    });
    assert.deepEqual(attributes, [
      'objectGUID',
      'sAMAccountName',
      'displayName',
      'cn',
      'name',
      'whenChanged',
      'uSNChanged',
      'givenName',
      'sn',
      'mail',
      'telephoneNumber',
      'title',
      'company',
      'userPrincipalName',
      'department',
    ]);
  });
});
