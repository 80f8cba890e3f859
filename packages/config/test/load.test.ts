import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDirstreamError } from '@dirstream/errors';
import { loadConfig, loadConfigFromText } from '@dirstream/config';
import { edit, OTHER_PROFILE_ID, PROFILE_ID, SECRET, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

const SOURCE = '/etc/dirstream/dirstream.yaml';

async function failure(text: string, env: Record<string, string> = VALID_ENV): Promise<{ code: string; message: string }> {
  try {
    await loadConfigFromText(text, { sourceName: SOURCE, env, readFile: async () => SECRET });
  } catch (error) {
    assert.ok(isDirstreamError(error), `expected a DirstreamError, got ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('expected the configuration to be rejected');
}

type Case = {
  readonly name: string;
  readonly text: () => string;
  readonly env?: Record<string, string>;
  readonly code: string;
  /** Each must appear in the message (key paths, problem descriptions, line numbers). */
  readonly mentions: readonly string[];
};

const CASES: readonly Case[] = [
  {
    name: 'users filter with an unclosed parenthesis',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'filter'], '(&(objectClass=person)(uid=a*)')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.filter', 'not a valid LDAP filter', '"(" at character 1 is never closed'],
  },
  {
    name: 'group filter with a broken expression',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'groups', 'filter'], '(|(objectClass=groupOfNames)(cn))')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].groups.filter', 'Invalid expression: cn at character 30'],
  },
  {
    name: 'disabledFilter: two filters side by side',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'disabledFilter'], '(a=b)(c=d)')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.disabledFilter', 'text after the end of the filter at character 6'],
  },
  {
    name: 'a password attribute mapped into extra',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'attributes'], { extra: { pw: 'userPassword', hash: 'unicodePwd' } })),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.attributes.extra.pw', 'userPassword holds credentials', 'profiles[0].users.attributes.extra.hash'],
  },
  {
    name: 'a password attribute mapped to a named key',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'attributes'], { title: 'supplementalCredentials;binary' })),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.attributes.title', 'password attributes are never synchronised'],
  },
  {
    name: 'missing key',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'connection', 'bindDn'], undefined)),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.bindDn', 'is required'],
  },
  {
    name: 'missing top-level section',
    text: () => toYaml(edit(validRaw(), ['kafka'], undefined)),
    code: 'CONFIG_INVALID',
    mentions: ['kafka: is required'],
  },
  {
    name: 'wrong type',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'connection', 'pageSize'], 'lots')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.pageSize', 'must be a number, not a string'],
  },
  {
    name: 'bad URL (second of two)',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'connection', 'urls'], ['ldap://a.example', 'http://b.example'])),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.urls[1]', 'must start with ldap:// or ldaps://'],
  },
  {
    name: 'unknown key (typo)',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'connection', 'bindPasword'], 'x')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.bindPasword', 'unknown key (did you mean "bindPassword"?)'],
  },
  {
    name: 'unknown key, nothing close',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'searchEverything'], true)),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.searchEverything (line', ': unknown key'],
  },
  {
    name: 'unknown top-level key, wrong case',
    text: () => toYaml({ ...validRaw(), LogLevel: 'info' }),
    code: 'CONFIG_INVALID',
    mentions: ['LogLevel (line', 'did you mean "logLevel"?'],
  },
  {
    name: 'secret written inline',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'connection', 'bindPassword'], SECRET)),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.bindPassword', 'never written inline'],
  },
  {
    name: 'bad profile id',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'id'], 'corp')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].id', 'must be a UUID'],
  },
  {
    name: 'duplicate profile id',
    text: () => {
      const raw = validRaw();
      const [first] = raw.profiles as Record<string, unknown>[];
      raw.profiles = [first, { ...structuredClone(first), name: 'second' }];
      return toYaml(raw);
    },
    code: 'CONFIG_INVALID',
    mentions: ['profiles[1].id', 'duplicate profile id', 'profiles[0]'],
  },
  {
    name: 'duplicate profile name',
    text: () => {
      const raw = validRaw();
      const [first] = raw.profiles as Record<string, unknown>[];
      raw.profiles = [first, { ...structuredClone(first), id: OTHER_PROFILE_ID }];
      return toYaml(raw);
    },
    code: 'CONFIG_INVALID',
    mentions: ['profiles[1].name', 'duplicate profile name'],
  },
  {
    name: 'usn delta on OpenLDAP',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'schedule'], { delta: 'usn' })),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].schedule.delta', '"usn" works only with directory "active-directory"'],
  },
  {
    name: 'accesslog delta on Active Directory',
    text: () =>
      toYaml(edit(edit(validRaw(), ['profiles', 0, 'directory'], 'active-directory'), ['profiles', 0, 'schedule'], { delta: 'accesslog' })),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].schedule.delta', '"accesslog" works only with directory "openldap"'],
  },
  {
    name: 'startTls on an ldaps URL',
    text: () =>
      toYaml(
        edit(
          edit(validRaw(), ['profiles', 0, 'connection', 'urls'], ['ldaps://127.0.0.1:636']),
          ['profiles', 0, 'connection', 'startTls'],
          true,
        ),
      ),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].connection.urls[0]', 'startTls'],
  },
  {
    name: 'onlyGroupMembers without groups',
    text: () =>
      toYaml(edit(edit(validRaw(), ['profiles', 0, 'groups'], undefined), ['profiles', 0, 'policies'], { onlyGroupMembers: true })),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].policies.onlyGroupMembers', 'needs a groups section'],
  },
  {
    name: 'empty member attribute list (would read no memberships at all)',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'groups', 'memberAttributes'], [])),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].groups.memberAttributes', 'at least 1'],
  },
  {
    name: 'empty filter',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'users', 'filter'], '')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].users.filter', 'must not be empty'],
  },
  {
    name: 'unknown directory type',
    text: () => toYaml(edit(validRaw(), ['profiles', 0, 'directory'], 'ad')),
    code: 'CONFIG_INVALID',
    mentions: ['profiles[0].directory', 'must be one of "active-directory", "openldap", "ldap"'],
  },
  {
    name: 'secret env missing',
    text: () => toYaml(validRaw()),
    env: {},
    code: 'CONFIG_SECRET_MISSING',
    mentions: ['profiles[0].connection.bindPassword', 'LDAP_BIND_PASSWORD is not set'],
  },
  {
    name: 'secret env empty (an empty bind password is an anonymous bind)',
    text: () => toYaml(validRaw()),
    env: { LDAP_BIND_PASSWORD: '' },
    code: 'CONFIG_SECRET_MISSING',
    mentions: ['profiles[0].connection.bindPassword', 'LDAP_BIND_PASSWORD is empty'],
  },
  {
    name: 'YAML syntax error on a line holding the secret',
    text: () => `kafka:\n  brokers: [127.0.0.1:39092]\nprofiles:\n  - connection:\n      bindPassword: "${SECRET}\n`,
    code: 'CONFIG_INVALID',
    mentions: ['Invalid YAML', 'line ', 'column '],
  },
  {
    name: 'YAML duplicate key',
    text: () => 'kafka:\n  brokers: [a]\nkafka:\n  brokers: [b]\n',
    code: 'CONFIG_INVALID',
    mentions: ['Invalid YAML', 'line 3'],
  },
  {
    name: 'empty file',
    text: () => '',
    code: 'CONFIG_INVALID',
    mentions: ['the file is empty'],
  },
];

describe('loadConfigFromText rejects bad configurations', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const { code, message } = await failure(testCase.text(), testCase.env);
      assert.equal(code, testCase.code, message);
      assert.ok(message.includes(SOURCE), `message names the file:\n${message}`);
      for (const mention of testCase.mentions) assert.ok(message.includes(mention), `message mentions "${mention}":\n${message}`);
      assert.ok(!message.includes(SECRET), `message never contains the secret:\n${message}`);
    });
  }

  it('lists every problem, each with its line', async () => {
    const raw = edit(edit(validRaw(), ['profiles', 0, 'connection', 'urls'], ['ftp://x']), ['kafka', 'brokers'], 'one');
    const { message } = await failure(toYaml(raw));
    assert.match(message, /\(2 problems\)/);
    assert.match(message, /kafka\.brokers \(line 2, column 3\): must be a list, not a string/);
    assert.match(message, /profiles\[0\]\.connection\.urls\[0\] \(line \d+, column \d+\)/);
  });

  it('validates cross-field rules only on otherwise valid input, then lists all of them', async () => {
    const raw = validRaw();
    const [first] = raw.profiles as Record<string, unknown>[];
    raw.profiles = [first, { ...structuredClone(first), schedule: { delta: 'dirsync' } }];
    const { message } = await failure(toYaml(raw));
    assert.match(message, /profiles\[1\]\.id/);
    assert.match(message, /profiles\[1\]\.name/);
    assert.match(message, /profiles\[1\]\.schedule\.delta/);
  });
});

describe('loadConfigFromText accepts a valid configuration', () => {
  it('applies defaults and resolves the env secret', async () => {
    const config = await loadConfigFromText(toYaml(validRaw()), { sourceName: SOURCE, env: VALID_ENV });
    assert.equal(config.kafka.topicPrefix, 'dirstream');
    assert.equal(config.applier.groupId, 'dirstream-applier');
    const [profile] = config.profiles;
    assert.ok(profile);
    assert.equal(profile.id, PROFILE_ID);
    assert.equal(profile.connection.bindPassword, SECRET);
    assert.equal(profile.connection.tls.rejectUnauthorized, true);
    assert.equal(profile.schedule.delta, 'auto');
    assert.equal(profile.policies.removedUsers, 'disable');
    assert.deepEqual(profile.users.attributes.extra, {});
  });
});

describe('loadConfig reads files', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirstream-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads secret and CA files relative to the config folder, trimming one newline', async () => {
    await writeFile(join(dir, 'ldap.pw'), `${SECRET}\n`);
    await writeFile(join(dir, 'db.pw'), `${SECRET}-db\r\n`);
    await writeFile(join(dir, 'kafka.pw'), `${SECRET}-kafka\n\n`);
    await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\n');
    const raw = validRaw();
    edit(raw, ['profiles', 0, 'connection', 'bindPassword'], { file: 'ldap.pw' });
    edit(raw, ['profiles', 0, 'connection', 'tls'], { caFile: './ca.pem' });
    edit(raw, ['database', 'password'], { file: 'db.pw' });
    edit(raw, ['kafka', 'sasl'], { mechanism: 'scram-sha-512', username: 'dirstream', password: { file: join(dir, 'kafka.pw') } });
    const path = join(dir, 'dirstream.yaml');
    await writeFile(path, toYaml(raw));

    const config = await loadConfig({ path, env: {} });
    const [profile] = config.profiles;
    assert.equal(profile?.connection.bindPassword, SECRET);
    assert.equal(profile?.connection.tls.caFile, join(dir, 'ca.pem'));
    assert.equal(config.database.password, `${SECRET}-db`);
    // Only one trailing newline is trimmed: the rest is part of the secret.
    assert.equal(config.kafka.sasl?.password, `${SECRET}-kafka\n`);
  });

  it('names the missing secret file and the key, CONFIG_SECRET_MISSING', async () => {
    const raw = edit(validRaw(), ['profiles', 0, 'connection', 'bindPassword'], { file: 'missing.pw' });
    const path = join(dir, 'missing-secret.yaml');
    await writeFile(path, toYaml(raw));
    await assert.rejects(loadConfig({ path, env: VALID_ENV }), (error: unknown) => {
      assert.ok(isDirstreamError(error, 'CONFIG_SECRET_MISSING'), String(error));
      assert.ok(error.message.includes(path));
      assert.ok(error.message.includes('profiles[0].connection.bindPassword'));
      assert.ok(error.message.includes(`${join(dir, 'missing.pw')} does not exist`), error.message);
      return true;
    });
  });

  it('reports a missing CA file as CONFIG_INVALID', async () => {
    const raw = edit(validRaw(), ['profiles', 0, 'connection', 'tls'], { caFile: 'nope/ca.pem' });
    const path = join(dir, 'missing-ca.yaml');
    await writeFile(path, toYaml(raw));
    await assert.rejects(loadConfig({ path, env: VALID_ENV }), (error: unknown) => {
      assert.ok(isDirstreamError(error, 'CONFIG_INVALID'), String(error));
      assert.ok(error.message.includes('profiles[0].connection.tls.caFile'), error.message);
      return true;
    });
  });

  it('reports a missing config file as CONFIG_NOT_FOUND', async () => {
    const path = join(dir, 'absent.yaml');
    await assert.rejects(loadConfig({ path, env: {} }), (error: unknown) => {
      assert.ok(isDirstreamError(error, 'CONFIG_NOT_FOUND'), String(error));
      assert.ok(error.message.includes(path));
      return true;
    });
  });
});
