import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'services/cli/src/main.ts');
const SECRET = 'cli-S3cr3t-never-printed';

type Result = { code: number; stdout: string; stderr: string };

/** Runs the real entry point as a user would; a clean environment so no outside DIRSTREAM_CONFIG leaks in. */
function dirstream(args: readonly string[], env: Record<string, string> = {}, cwd: string = ROOT): Promise<Result> {
  return new Promise((resolve) => {
    execFile(NODE, [MAIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function configYaml(bindPassword: string): string {
  return `kafka:
  brokers: [127.0.0.1:39092]
database:
  url: postgres://app:${SECRET}-in-url@127.0.0.1:5432/postgres
profiles:
  - id: 6f1c3a52-4a8e-4b7b-9a51-0f0d2f0e9c11
    name: corp
    directory: openldap
    connection:
      urls: [ldap://127.0.0.1:38389]
      bindDn: cn=admin,dc=dirstream,dc=test
      bindPassword: ${bindPassword}
    users:
      baseDn: dc=dirstream,dc=test
`;
}

describe('dirstream command line', () => {
  let dir = '';
  let valid = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirstream-cli-'));
    valid = join(dir, 'valid.yaml');
    await writeFile(valid, configYaml('{ env: TEST_LDAP_PASSWORD }'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('config check: valid file → exit 0, masked YAML on stdout, no secret anywhere', async () => {
    const result = await dirstream(['config', 'check', '--config', valid], { TEST_LDAP_PASSWORD: SECRET });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET), 'secret printed');
    const printed = parse(result.stdout) as {
      profiles: { connection: { bindPassword: string } }[];
      database: { url: string };
      kafka: { topicPrefix: string };
    };
    assert.equal(printed.profiles[0]?.connection.bindPassword, '***');
    assert.equal(printed.database.url, 'postgres://app:***@127.0.0.1:5432/postgres');
    assert.equal(printed.kafka.topicPrefix, 'dirstream', 'defaults are filled in');
  });

  it('config check: finds the file through DIRSTREAM_CONFIG, then ./dirstream.yaml', async () => {
    const viaEnv = await dirstream(['config', 'check'], { TEST_LDAP_PASSWORD: SECRET, DIRSTREAM_CONFIG: valid });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const cwd = await mkdtemp(join(dir, 'cwd-'));
    await writeFile(join(cwd, 'dirstream.yaml'), configYaml('{ env: TEST_LDAP_PASSWORD }'));
    const viaCwd = await dirstream(['config', 'check'], { TEST_LDAP_PASSWORD: SECRET }, cwd);
    assert.equal(viaCwd.code, 0, viaCwd.stderr);
    assert.ok(viaCwd.stdout.includes(join(cwd, 'dirstream.yaml')));
  });

  const failures: readonly { name: string; yaml: string; env: Record<string, string>; mentions: readonly string[] }[] = [
    { name: 'secret env missing', yaml: configYaml('{ env: TEST_LDAP_PASSWORD }'), env: {}, mentions: ['TEST_LDAP_PASSWORD is not set'] },
    { name: 'secret inline', yaml: configYaml(SECRET), env: {}, mentions: ['profiles[0].connection.bindPassword', 'never written inline'] },
    { name: 'YAML syntax error', yaml: configYaml(`"${SECRET}`), env: {}, mentions: ['Invalid YAML', 'line '] },
    { name: 'secret file missing', yaml: configYaml('{ file: nope.pw }'), env: {}, mentions: ['nope.pw does not exist'] },
  ];
  for (const failure of failures) {
    it(`config check: ${failure.name} → exit 2, file and key named, no secret`, async () => {
      const file = join(dir, `${failure.name.replaceAll(' ', '-')}.yaml`);
      await writeFile(file, failure.yaml);
      const result = await dirstream(['config', 'check', '--config', file], failure.env);
      assert.equal(result.code, 2, `${result.stdout}${result.stderr}`);
      assert.ok(result.stderr.includes(file), result.stderr);
      for (const mention of failure.mentions) assert.ok(result.stderr.includes(mention), `mentions ${mention}:\n${result.stderr}`);
      assert.ok(!result.stdout.includes(SECRET) && !result.stderr.includes(SECRET), `secret printed:\n${result.stderr}`);
    });
  }

  it('config check: a missing file → exit 2 naming it', async () => {
    const result = await dirstream(['config', 'check', '--config', join(dir, 'absent.yaml')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /absent\.yaml/);
  });

  it('config check: the example configuration is valid with the variable it names', async () => {
    const result = await dirstream(['config', 'check', '--config', 'config/example.dirstream.yaml'], { DIRSTREAM_LDAP_PASSWORD: SECRET });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes(SECRET));
    // The local OpenLDAP has no TLS: valid, with a warning on stderr.
    assert.match(result.stderr, /^warning: profiles\[0\]\.connection\.urls\[0\]: plain ldap:\/\//m);
  });

  it('config schema prints the JSON Schema', async () => {
    const result = await dirstream(['config', 'schema']);
    assert.equal(result.code, 0, result.stderr);
    const schema = JSON.parse(result.stdout) as { $schema: string; properties: Record<string, unknown> };
    assert.ok(schema.properties.profiles !== undefined);
  });

  it('--help lists every command', async () => {
    const result = await dirstream(['--help']);
    assert.equal(result.code, 0);
    for (const command of ['config check', 'config schema', 'poller', 'plan', 'applier', 'sync', 'status', 'migrate', 'topics create']) {
      assert.ok(result.stdout.includes(command), command);
    }
  });

  const usage: readonly (readonly string[])[] = [
    ['frobnicate'],
    ['config'],
    ['config', 'frob'],
    ['config', 'check', '--bogus'],
    ['poller', '--replay'],
    ['plan'],
    ['poller', 'extra-argument'],
  ];
  for (const args of usage) {
    it(`usage error: dirstream ${args.join(' ')} → exit 2 with a message`, async () => {
      const result = await dirstream(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^dirstream: .+/);
    });
  }

  it('plan --profile with an unknown profile → exit 2 listing the profiles', async () => {
    const result = await dirstream(['plan', '--profile', 'nope', '--config', valid], { TEST_LDAP_PASSWORD: SECRET });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /no profile "nope".*6f1c3a52-4a8e-4b7b-9a51-0f0d2f0e9c11 \(corp\)/);
  });
});
