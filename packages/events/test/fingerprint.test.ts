import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsingCanonicalForm } from '../src/canonical-form.ts';
import { rabinFingerprint64 } from '../src/fingerprint.ts';

// Test vectors from the Avro repository, share/test/data/schema-tests.txt (the spec's reference
// canonical forms and CRC-64-AVRO fingerprints, as signed 64-bit decimals).
// Two of them are not valid schemas (an empty union; a string default for a boolean): avsc, which
// computes our canonical forms, refuses them, and so must we — their fingerprints are still checked.
const VECTORS: Array<{ input: string; canonical: string; fingerprint?: string; invalid?: true }> = [
  { input: '"null"', canonical: '"null"', fingerprint: '7195948357588979594' },
  { input: '{"type":"null"}', canonical: '"null"' },
  { input: '"boolean"', canonical: '"boolean"', fingerprint: '-6970731678124411036' },
  { input: '{"type":"boolean"}', canonical: '"boolean"' },
  { input: '"int"', canonical: '"int"', fingerprint: '8247732601305521295' },
  { input: '"long"', canonical: '"long"', fingerprint: '-3434872931120570953' },
  { input: '"float"', canonical: '"float"', fingerprint: '5583340709985441680' },
  { input: '"double"', canonical: '"double"', fingerprint: '-8181574048448539266' },
  { input: '"bytes"', canonical: '"bytes"', fingerprint: '5746618253357095269' },
  { input: '"string"', canonical: '"string"', fingerprint: '-8142146995180207161' },
  { input: '[  ]', canonical: '[]', fingerprint: '-1241056759729112623', invalid: true },
  { input: '[ "int"  ]', canonical: '["int"]', fingerprint: '-5232228896498058493' },
  { input: '[ "int" , {"type":"boolean"} ]', canonical: '["int","boolean"]', fingerprint: '5392556393470105090' },
  {
    input: '{"fields":[], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    canonical: '{"name":"x.y.foo","type":"record","fields":[]}',
    fingerprint: '5916914534497305771',
  },
  {
    input: '{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}',
    canonical: '{"name":"a.b.foo","type":"record","fields":[]}',
    fingerprint: '-4616218487480524110',
  },
  {
    input: '{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}',
    canonical: '{"name":"foo","type":"record","fields":[]}',
    fingerprint: '-4824392279771201922',
  },
  {
    input: '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    fingerprint: '7843277075252814651',
  },
  {
    input:
      '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"}, {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo" }',
    canonical: '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    fingerprint: '-4860222112080293046',
    invalid: true,
  },
  {
    input: '{"type":"enum", "name":"foo", "symbols":["A1"]}',
    canonical: '{"name":"foo","type":"enum","symbols":["A1"]}',
    fingerprint: '-6342190197741309591',
  },
  {
    input: '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    canonical: '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    fingerprint: '-4448647247586288245',
  },
  {
    input: '{"name":"foo","type":"fixed","size":15}',
    canonical: '{"name":"foo","type":"fixed","size":15}',
    fingerprint: '1756455273707447556',
  },
  {
    input: '{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}',
    canonical: '{"name":"x.y.z.foo","type":"fixed","size":32}',
    fingerprint: '-3064184465700546786',
  },
  {
    input: '{ "items":{"type":"null"}, "type":"array"}',
    canonical: '{"type":"array","items":"null"}',
    fingerprint: '-589620603366471059',
  },
  {
    input: '{ "values":"string", "type":"map"}',
    canonical: '{"type":"map","values":"string"}',
    fingerprint: '-8732877298790414990',
  },
  {
    input: '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    canonical: '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    fingerprint: '-1759257747318642341',
  },
];

describe('Parsing Canonical Form and CRC-64-AVRO (spec vectors)', () => {
  for (const { input, canonical, fingerprint, invalid } of VECTORS) {
    it(input, () => {
      if (invalid) assert.throws(() => parsingCanonicalForm(JSON.parse(input)), { code: 'EVENT_SCHEMA_INVALID' });
      else assert.equal(parsingCanonicalForm(JSON.parse(input)), canonical);
      if (fingerprint !== undefined) {
        assert.equal(BigInt.asIntN(64, rabinFingerprint64(canonical)).toString(), fingerprint);
      }
    });
  }

  it('fingerprint of the empty input is the CRC-64-AVRO seed', () => {
    assert.equal(rabinFingerprint64(''), 0xc15d213aa4d7a795n);
  });

  it('nested named types inherit the enclosing namespace, logical types are stripped', () => {
    const schema = {
      type: 'record',
      name: 'Outer',
      namespace: 'a.b',
      doc: 'x',
      fields: [
        {
          name: 'inner',
          type: { type: 'record', name: 'Inner', fields: [{ name: 'e', type: { type: 'enum', name: 'c.E', symbols: ['X'] } }] },
        },
        { name: 'again', type: 'Inner', default: { e: 'X' } },
        { name: 'other', type: { type: 'fixed', name: 'F', namespace: 'z', size: 2 } },
        { name: 't', type: { type: 'long', logicalType: 'timestamp-millis' } },
      ],
    };
    assert.equal(
      parsingCanonicalForm(schema),
      '{"name":"a.b.Outer","type":"record","fields":[{"name":"inner","type":{"name":"a.b.Inner","type":"record","fields":[{"name":"e","type":{"name":"c.E","type":"enum","symbols":["X"]}}]}},{"name":"again","type":"a.b.Inner"},{"name":"other","type":{"name":"z.F","type":"fixed","size":2}},{"name":"t","type":"long"}]}',
    );
  });
});
