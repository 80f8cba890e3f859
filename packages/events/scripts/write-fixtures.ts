/**
 * Writes packages/events/test/fixtures/<record-type>/v<N>.bin for every schema version that has
 * no fixture yet: the sample event of test/helpers.ts encoded with that version's schema, as a
 * producer of that release did. Existing fixtures are never rewritten: they are the frozen proof
 * that bytes written by an old release still decode (test/compatibility.test.ts).
 *
 * Run after adding a schema version: node packages/events/scripts/write-fixtures.ts
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadSchemas } from '../src/schemas.ts';
import { RECORD_TYPES } from '../src/types.ts';
import { encodeWithVersion, SAMPLES } from '../test/helpers.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../test/fixtures');
const schemas = loadSchemas();

for (const recordType of RECORD_TYPES) {
  for (const version of schemas[recordType]) {
    const file = path.join(FIXTURES, recordType, `v${version.version}.bin`);
    if (existsSync(file)) {
      process.stdout.write(`kept    ${path.relative(process.cwd(), file)}\n`);
      continue;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, encodeWithVersion(version, SAMPLES[recordType]));
    process.stdout.write(`written ${path.relative(process.cwd(), file)}\n`);
  }
}
