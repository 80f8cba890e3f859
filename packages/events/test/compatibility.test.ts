/**
 * The schemas are a public contract (schemas/README.md): every version kept in the repository
 * must stay readable by the newest, and the newest by every earlier reader. Fixtures are bytes
 * written by each version when it was added; they are never regenerated.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { createCodec } from '../src/codec.ts';
import { loadSchemas, type SchemaVersion } from '../src/schemas.ts';
import { RECORD_TYPES } from '../src/types.ts';
import { SAMPLES } from './helpers.ts';

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');
const schemas = loadSchemas();
const codec = createCodec();

function typeOf(version: SchemaVersion | object): avro.Type {
  const schema = 'schema' in version ? version.schema : version;
  return avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });
}

/** Both directions: new readers read old data (backward), old readers read new data (forward). */
function assertCompatible(older: avro.Type, newer: avro.Type, sample: unknown): void {
  const backward = newer.createResolver(older);
  const forward = older.createResolver(newer);
  newer.fromBuffer(older.toBuffer(sample), backward);
  older.fromBuffer(newer.toBuffer(sample), forward);
}

describe('schema versions are backward and forward compatible', () => {
  for (const recordType of RECORD_TYPES) {
    const versions = schemas[recordType];
    for (let i = 0; i < versions.length; i++) {
      for (let j = i + 1; j < versions.length; j++) {
        it(`${recordType}: v${versions[i]!.version} <-> v${versions[j]!.version}`, () => {
          assertCompatible(typeOf(versions[i]!), typeOf(versions[j]!), SAMPLES[recordType]);
        });
      }
    }
  }

  it('sync-run v1 data reads as v2 with server = null, v2 data reads as v1 without it', () => {
    const [v1, v2] = schemas['sync-run'].map(typeOf) as [avro.Type, avro.Type];
    const sample = SAMPLES['sync-run'];
    const asV2 = v2.fromBuffer(v1.toBuffer(sample), v2.createResolver(v1)) as { server: unknown };
    assert.equal(asV2.server, null);
    const asV1 = v1.fromBuffer(v2.toBuffer(sample), v1.createResolver(v2)) as Record<string, unknown>;
    assert.equal('server' in asV1, false);
    assert.equal(asV1.runId, sample.runId);
  });
});

describe('the compatibility check catches breaking changes', () => {
  const base = schemas['user-lifecycle'][0]!.schema as { fields: Array<Record<string, unknown>> };
  const sample = SAMPLES['user-lifecycle'];

  it('a new field without a default breaks backward compatibility', () => {
    const newer = { ...base, fields: [...base.fields, { name: 'tenant', type: 'string' }] };
    assert.throws(() => assertCompatible(typeOf(base), typeOf(newer), { ...sample, tenant: 't' }));
  });

  it('removing a field without a default breaks forward compatibility', () => {
    const newer = { ...base, fields: base.fields.filter((field) => field.name !== 'loginName') };
    assert.throws(() => assertCompatible(typeOf(base), typeOf(newer), sample));
  });

  it('renaming a field without an alias breaks compatibility', () => {
    const newer = {
      ...base,
      fields: base.fields.map((field) => (field.name === 'loginName' ? { ...field, name: 'login' } : field)),
    };
    assert.throws(() => assertCompatible(typeOf(base), typeOf(newer), { ...sample, login: 'zoe' }));
  });

  it('changing a type incompatibly breaks compatibility', () => {
    const newer = {
      ...base,
      fields: base.fields.map((field) => (field.name === 'version' ? { ...field, type: 'int' } : field)),
    };
    assert.throws(() => typeOf(base).createResolver(typeOf(newer)) && typeOf(newer).createResolver(typeOf(base)));
  });

  it('a new field with a default is compatible', () => {
    const newer = {
      ...base,
      fields: [...base.fields, { name: 'tenant', type: ['null', 'string'], default: null }],
    };
    assertCompatible(typeOf(base), typeOf(newer), { ...sample, tenant: null });
  });
});

describe('fixtures written by every version still decode with the newest', () => {
  for (const recordType of RECORD_TYPES) {
    const versions = schemas[recordType];
    const newest = typeOf(versions.at(-1)!);
    for (const version of versions) {
      it(`${recordType}/v${version.version}.bin`, () => {
        const file = path.join(FIXTURES, recordType, `v${version.version}.bin`);
        assert.ok(existsSync(file), `missing ${file}: run node packages/events/scripts/write-fixtures.ts`);
        const bytes = readFileSync(file);
        assert.equal(codec.identify(bytes).version, version.version);
        // What a reader of the newest version makes of the sample written with this version.
        const writer = typeOf(version);
        const expected = newest.fromBuffer(writer.toBuffer(SAMPLES[recordType]), newest.createResolver(writer));
        // Compared through the newest encoding (avsc's own records have their own prototypes).
        assert.deepEqual(newest.toBuffer(codec.decode(recordType, bytes)), newest.toBuffer(expected));
      });
    }
  }
});

describe('schema rules (schemas/README.md)', () => {
  type Field = { name: string; type: unknown; default?: unknown };

  function* fieldsOf(schema: unknown): Generator<Field> {
    if (Array.isArray(schema)) {
      for (const branch of schema) yield* fieldsOf(branch);
      return;
    }
    if (schema === null || typeof schema !== 'object') return;
    const node = schema as Record<string, unknown>;
    if (node.type === 'record') {
      for (const field of node.fields as Field[]) {
        yield field;
        yield* fieldsOf(field.type);
      }
    }
    if (node.type === 'array') yield* fieldsOf(node.items);
    if (node.type === 'map') yield* fieldsOf(node.values);
    if (typeof node.type === 'object') yield* fieldsOf(node.type);
  }

  for (const recordType of RECORD_TYPES) {
    it(`${recordType}: namespace, nullable unions and logical types`, () => {
      for (const version of schemas[recordType]) {
        const schema = version.schema as Record<string, unknown>;
        assert.equal(schema.namespace, 'dev.dirstream');
        for (const field of fieldsOf(schema)) {
          if (Array.isArray(field.type)) {
            assert.equal(field.type[0], 'null', `${version.file} ${field.name}: unions are ["null", T]`);
            assert.equal(field.type.length, 2, `${version.file} ${field.name}: unions are ["null", T]`);
            assert.equal(field.default, null, `${version.file} ${field.name}: a nullable field defaults to null`);
          }
          const text = JSON.stringify(field.type);
          assert.ok(!text.includes('"enum"'), `${version.file} ${field.name}: enum-like fields are strings`);
          const logical = [...text.matchAll(/"logicalType":"([^"]+)"/g)].map((m) => m[1]);
          assert.ok(
            logical.every((name) => name === 'timestamp-millis'),
            `${version.file} ${field.name}`,
          );
        }
      }
    });

    it(`${recordType}: fields added after v1 have defaults`, () => {
      const versions = schemas[recordType];
      const names = (version: SchemaVersion) => new Set([...fieldsOf(version.schema)].map((field) => field.name));
      for (let i = 1; i < versions.length; i++) {
        const before = names(versions[i - 1]!);
        for (const field of fieldsOf(versions[i]!.schema)) {
          if (!before.has(field.name)) {
            assert.ok('default' in field, `${versions[i]!.file}: new field ${field.name} needs a default`);
          }
        }
      }
    });
  }
});
