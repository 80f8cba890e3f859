import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configWarnings, loadConfigFromText } from '@dirstream/config';
import { edit, SECRET, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

async function warningsFor(changes: readonly [readonly (string | number)[], unknown][]) {
  const raw = validRaw();
  for (const [path, value] of changes) edit(raw, path, value);
  return configWarnings(await loadConfigFromText(toYaml(raw), { sourceName: 'warnings.yaml', env: VALID_ENV }));
}

describe('configWarnings', () => {
  it('a TLS profile with defaults has no warnings', async () => {
    assert.deepEqual(await warningsFor([[['profiles', 0, 'connection', 'urls'], ['ldaps://ldap.internal:636']]]), []);
    assert.deepEqual(await warningsFor([[['profiles', 0, 'connection', 'startTls'], true]]), []);
  });

  it('names each risky key, never a secret', async () => {
    const warnings = await warningsFor([
      [['database', 'url'], `postgres://app:${SECRET}@db/app`],
      [['profiles', 0, 'connection', 'tls'], { rejectUnauthorized: false }],
      [['profiles', 0, 'policies'], { allowMassDisable: true }],
    ]);
    assert.deepEqual(
      warnings.map((w) => w.path),
      [
        'database.url',
        'profiles[0].connection.urls[0]',
        'profiles[0].connection.tls.rejectUnauthorized',
        'profiles[0].policies.allowMassDisable',
      ],
    );
    assert.ok(!JSON.stringify(warnings).includes(SECRET));
  });
});
