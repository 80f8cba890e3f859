/** Client options from the config (TLS, SASL, retry) and kafkajs' log levels mapped to pino. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@dirstream/logging';
import { logLevel } from 'kafkajs';
import { kafkaClientConfig, kafkaLogCreator, tlsOptions } from '../src/index.ts';

describe('kafkaClientConfig', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dirstream-kafka-client-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is plain, or TLS with the system CAs for ssl: true', () => {
    assert.equal(tlsOptions({ ssl: false, tls: undefined }), false);
    assert.equal(tlsOptions({ ssl: true, tls: undefined }), true);
  });

  it('reads the CA, client certificate and key files and keeps verification on', async () => {
    await writeFile(join(dir, 'ca.pem'), 'CA PEM');
    await writeFile(join(dir, 'client.pem'), 'CERT PEM');
    await writeFile(join(dir, 'client.key'), 'KEY PEM');
    const tls = {
      caFile: join(dir, 'ca.pem'),
      certFile: join(dir, 'client.pem'),
      keyFile: join(dir, 'client.key'),
      rejectUnauthorized: true,
      serverName: 'k1',
    };
    assert.deepEqual(tlsOptions({ ssl: false, tls }), {
      rejectUnauthorized: true,
      ca: ['CA PEM'],
      cert: 'CERT PEM',
      key: 'KEY PEM',
      servername: 'k1',
    });
    assert.deepEqual(tlsOptions({ ssl: false, tls: { rejectUnauthorized: false } }), { rejectUnauthorized: false });
  });

  it('passes SASL, the client ID and retries capped at 3 s', () => {
    const config = kafkaClientConfig(
      {
        brokers: ['b1:9092', 'b2:9092'],
        clientId: 'dirstream',
        ssl: true,
        tls: undefined,
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      },
      'dirstream-console',
    );
    assert.deepEqual(config, {
      clientId: 'dirstream-console',
      brokers: ['b1:9092', 'b2:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 20 },
    });
  });
});

describe('kafkaLogCreator', () => {
  it('maps ERROR and WARN to warn, INFO to info, DEBUG to debug, with kafkajs fields apart', () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = createLogger({ name: 'test', level: 'debug', destination });
    const log = kafkaLogCreator(logger)(logLevel.DEBUG);
    const entry = (level: logLevel, message: string) => ({
      namespace: 'Connection',
      level,
      label: '',
      log: { timestamp: '', message, broker: 'b1:9092' },
    });
    log(entry(logLevel.ERROR, 'e'));
    log(entry(logLevel.WARN, 'w'));
    log(entry(logLevel.INFO, 'i'));
    log(entry(logLevel.DEBUG, 'd'));
    assert.deepEqual(
      lines.map((l) => [l.msg, l.level, l.component, (l.kafkajs as { broker: string }).broker]),
      [
        ['e', 40, 'kafkajs', 'b1:9092'],
        ['w', 40, 'kafkajs', 'b1:9092'],
        ['i', 30, 'kafkajs', 'b1:9092'],
        ['d', 20, 'kafkajs', 'b1:9092'],
      ],
    );
  });
});
