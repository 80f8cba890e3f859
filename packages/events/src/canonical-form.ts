/**
 * Avro Parsing Canonical Form (Avro specification, "Parsing Canonical Form for Schemas"): the
 * schema text whose fingerprint identifies a writer schema in single-object encoding. avsc's
 * `Type#schema()` (without `exportAttrs`) is that form; the spec's own vectors are checked
 * against it in test/fingerprint.test.ts.
 */
import { createError } from '@dirstream/errors';
import avro from 'avsc';

/** The Parsing Canonical Form of a parsed schema (the JSON value, or its text). */
export function parsingCanonicalForm(schema: unknown): string {
  const parsed = typeof schema === 'string' && /^\s*[[{"]/.test(schema) ? JSON.parse(schema) : schema;
  try {
    return JSON.stringify(avro.Type.forSchema(parsed as avro.Schema).schema());
  } catch (cause) {
    throw createError('EVENT_SCHEMA_INVALID', `invalid Avro schema: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
