/**
 * Writes config/dirstream.schema.json from the zod schema. Run after changing schema.ts:
 *   node packages/config/scripts/write-json-schema.ts
 * (packages/config/test/json-schema.test.ts fails while the committed file is stale.)
 */
import { writeFile } from 'node:fs/promises';
import { configJsonSchemaText, JSON_SCHEMA_PATH } from '../src/json-schema.ts';

await writeFile(JSON_SCHEMA_PATH, configJsonSchemaText());
process.stdout.write(`wrote ${JSON_SCHEMA_PATH}\n`);
