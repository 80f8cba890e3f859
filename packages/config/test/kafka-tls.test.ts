/** kafka.tls: files resolved against the config's folder and checked at load; ssl: true keeps working. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, loadConfigFromText } from '@dirstream/config';
import { isDirstreamError } from '@dirstream/errors';
import { edit, SECRET, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

describe('kafka.tls', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirstream-kafka-tls-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is unset by default and ssl: true still loads', async () => {
    const config = await loadConfigFromText(toYaml(edit(validRaw(), ['kafka', 'ssl'], true)), {
      sourceName: 'dirstream.yaml',
      env: VALID_ENV,
      readFile: async () => SECRET,
    });
    assert.equal(config.kafka.ssl, true);
    assert.equal(config.kafka.tls, undefined);
  });

  it('resolves caFile, certFile and keyFile against the config file and defaults verification on', async () => {
    for (const name of ['ca.pem', 'client.pem', 'client.key']) await writeFile(join(dir, name), `-----BEGIN ${name}-----\n`);
    const raw = edit(validRaw(), ['kafka', 'tls'], {
      caFile: './ca.pem',
      certFile: 'client.pem',
      keyFile: 'client.key',
      serverName: 'kafka.internal',
    });
    const path = join(dir, 'tls.yaml');
    await writeFile(path, toYaml(raw));
    const { kafka } = await loadConfig({ path, env: VALID_ENV });
    assert.deepEqual(kafka.tls, {
      caFile: join(dir, 'ca.pem'),
      certFile: join(dir, 'client.pem'),
      keyFile: join(dir, 'client.key'),
      rejectUnauthorized: true,
      serverName: 'kafka.internal',
    });
  });

  it('names the key of a CA file that does not exist', async () => {
    const path = join(dir, 'missing.yaml');
    await writeFile(path, toYaml(edit(validRaw(), ['kafka', 'tls'], { caFile: 'nope/ca.pem' })));
    await assert.rejects(loadConfig({ path, env: VALID_ENV }), (error: unknown) => {
      assert.ok(isDirstreamError(error, 'CONFIG_INVALID'), String(error));
      assert.ok(error.message.includes('kafka.tls.caFile'), error.message);
      assert.ok(error.message.includes(`${join(dir, 'nope/ca.pem')} does not exist`), error.message);
      return true;
    });
  });

  it('refuses a client certificate without its key', async () => {
    const raw = edit(validRaw(), ['kafka', 'tls'], { certFile: 'client.pem' });
    await assert.rejects(
      loadConfigFromText(toYaml(raw), { sourceName: 'dirstream.yaml', env: VALID_ENV, readFile: async () => SECRET }),
      /kafka\.tls.*certFile and keyFile go together/s,
    );
  });
});
