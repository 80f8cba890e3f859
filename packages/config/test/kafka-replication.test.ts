/** kafka.minInsyncReplicas: optional, positive, never above kafka.replicationFactor. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigFromText } from '@dirstream/config';
import { isDirstreamError } from '@dirstream/errors';
import { edit, SECRET, toYaml, VALID_ENV, validRaw } from './fixtures.ts';

const load = (raw: Record<string, unknown>) =>
  loadConfigFromText(toYaml(raw), { sourceName: '/etc/dirstream/dirstream.yaml', env: VALID_ENV, readFile: async () => SECRET });

test('minInsyncReplicas is optional and kept as written', async () => {
  assert.equal((await load(validRaw())).kafka.minInsyncReplicas, undefined);
  const rf3 = edit(edit(validRaw(), ['kafka', 'replicationFactor'], 3), ['kafka', 'minInsyncReplicas'], 2);
  assert.equal((await load(rf3)).kafka.minInsyncReplicas, 2);
});

test('minInsyncReplicas above the replication factor is refused, naming the key', async () => {
  const raw = edit(edit(validRaw(), ['kafka', 'replicationFactor'], 2), ['kafka', 'minInsyncReplicas'], 3);
  await assert.rejects(load(raw), (error: unknown) => {
    assert.ok(isDirstreamError(error, 'CONFIG_INVALID'), String(error));
    assert.match(error.message, /kafka\.minInsyncReplicas/);
    assert.match(error.message, /replicationFactor \(2\)/);
    return true;
  });
  await assert.rejects(load(edit(validRaw(), ['kafka', 'minInsyncReplicas'], 0)), /minInsyncReplicas/);
});
