import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText, maskConfig, maskUrlPassword } from '@dirstream/config';
import { stringify } from 'yaml';
import { edit, SECRET, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

describe('maskConfig', () => {
  it('masks every secret-derived value and URL passwords, leaves the rest', async () => {
    const raw = validRaw();
    edit(raw, ['database', 'url'], `postgres://app:${SECRET}-url@db.internal:5432/app`);
    edit(raw, ['database', 'password'], { env: 'DB_PASSWORD' });
    edit(raw, ['kafka', 'sasl'], { mechanism: 'plain', username: 'dirstream', password: { env: 'KAFKA_PASSWORD' } });
    const env = { ...VALID_ENV, DB_PASSWORD: `${SECRET}-db`, KAFKA_PASSWORD: `${SECRET}-kafka` };
    const config = await loadConfigFromText(toYaml(raw), { sourceName: 'mask.yaml', env });

    const masked = maskConfig(config);
    assert.equal(masked.profiles[0]?.connection.bindPassword, '***');
    assert.equal(masked.database.password, '***');
    assert.equal(masked.kafka.sasl?.password, '***');
    assert.equal(masked.database.url, 'postgres://app:***@db.internal:5432/app');
    assert.equal(masked.kafka.sasl?.username, 'dirstream');
    assert.equal(masked.profiles[0]?.connection.bindDn, 'cn=admin,dc=dirstream,dc=test');
    assert.ok(!stringify(masked).includes(SECRET));
    assert.ok(!JSON.stringify(masked).includes(SECRET));
    // The original is untouched.
    assert.equal(config.profiles[0]?.connection.bindPassword, SECRET);
  });

  it('leaves absent optional secrets absent', async () => {
    const config = await loadConfigFromText(toYaml(validRaw()), { sourceName: 'mask.yaml', env: VALID_ENV });
    const masked = maskConfig(config);
    assert.equal(masked.database.password, undefined);
    assert.equal(masked.kafka.sasl, undefined);
  });
});

describe('maskUrlPassword', () => {
  const cases: readonly [string, string][] = [
    ['postgres://user:pw@host:5432/db', 'postgres://user:***@host:5432/db'],
    ['postgresql://user:p%40ss@host/db?sslmode=require', 'postgresql://user:***@host/db?sslmode=require'],
    ['postgres://user@host/db', 'postgres://user@host/db'],
    ['ldaps://dc1.example:636', 'ldaps://dc1.example:636'],
    ['ldap://cn=x:pw@host', 'ldap://cn=x:***@host'],
    ['postgres://:pw@host/db', 'postgres://:***@host/db'],
    ['plain text: not a URL', 'plain text: not a URL'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => assert.equal(maskUrlPassword(input), expected));
  }
});
