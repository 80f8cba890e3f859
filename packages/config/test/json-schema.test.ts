import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configJsonSchema } from '@dirstream/config';
import { configJsonSchemaText, JSON_SCHEMA_PATH } from '../src/json-schema.ts';

describe('configJsonSchema', () => {
  it('matches the committed config/dirstream.schema.json (run packages/config/scripts/write-json-schema.ts)', async () => {
    const committed = await readFile(JSON_SCHEMA_PATH, 'utf8');
    assert.equal(
      committed,
      configJsonSchemaText(),
      'config/dirstream.schema.json is stale: node packages/config/scripts/write-json-schema.ts',
    );
  });

  it('describes the input side: keys with defaults are optional, required keys are required', () => {
    const schema = configJsonSchema() as {
      required: string[];
      properties: { kafka: { required: string[] }; profiles: { items: { required: string[] } } };
    };
    assert.deepEqual([...schema.required].sort(), ['database', 'kafka']);
    assert.deepEqual(schema.properties.kafka.required, ['brokers']);
    assert.deepEqual([...schema.properties.profiles.items.required].sort(), ['connection', 'directory', 'id', 'name', 'users']);
  });
});
