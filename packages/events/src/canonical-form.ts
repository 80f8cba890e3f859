/**
 * Avro Parsing Canonical Form (Avro specification, "Parsing Canonical Form for Schemas"): the
 * schema text whose fingerprint identifies a writer schema in single-object encoding. Applies
 * the spec's transformations: PRIMITIVES (`{"type":"int"}` → `"int"`), FULLNAMES (names made
 * full, `namespace` dropped), STRIP (only name, type, fields, symbols, items, values, size),
 * ORDER (in that order), STRINGS/INTEGERS/WHITESPACE (JSON.stringify output, no spaces).
 */
import { DirstreamError } from '@dirstream/errors';

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

function invalid(message: string): DirstreamError {
  return new DirstreamError('EVENT_SCHEMA_INVALID', message);
}

function fullName(name: unknown, namespace: string): string {
  if (typeof name !== 'string' || name.length === 0) throw invalid(`invalid name ${JSON.stringify(name)}`);
  if (name.includes('.') || namespace === '') return name;
  return `${namespace}.${name}`;
}

function namespaceOf(full: string): string {
  const dot = full.lastIndexOf('.');
  return dot === -1 ? '' : full.slice(0, dot);
}

function form(schema: unknown, namespace: string, defined: Set<string>): string {
  if (typeof schema === 'string') {
    return JSON.stringify(PRIMITIVES.has(schema) ? schema : fullName(schema, namespace));
  }
  if (Array.isArray(schema)) {
    return `[${schema.map((branch) => form(branch, namespace, defined)).join(',')}]`;
  }
  if (schema === null || typeof schema !== 'object') throw invalid(`invalid schema ${JSON.stringify(schema)}`);
  const node = schema as Record<string, unknown>;
  const type = node.type;
  if (typeof type !== 'string') return form(type, namespace, defined);
  switch (type) {
    case 'record':
    case 'error':
    case 'enum':
    case 'fixed': {
      const explicit = typeof node.namespace === 'string' ? node.namespace : namespace;
      const name = fullName(node.name, explicit);
      if (defined.has(name)) throw invalid(`type ${name} is defined twice`);
      defined.add(name);
      const head = `{"name":${JSON.stringify(name)},"type":${JSON.stringify(type)}`;
      if (type === 'enum') return `${head},"symbols":${JSON.stringify(node.symbols)}}`;
      if (type === 'fixed') return `${head},"size":${JSON.stringify(node.size)}}`;
      if (!Array.isArray(node.fields)) throw invalid(`record ${name} has no fields array`);
      const inner = namespaceOf(name);
      const fields = node.fields.map((field: Record<string, unknown>) => {
        return `{"name":${JSON.stringify(field.name)},"type":${form(field.type, inner, defined)}}`;
      });
      return `${head},"fields":[${fields.join(',')}]}`;
    }
    case 'array':
      return `{"type":"array","items":${form(node.items, namespace, defined)}}`;
    case 'map':
      return `{"type":"map","values":${form(node.values, namespace, defined)}}`;
    default:
      // A primitive, possibly annotated (logicalType and other attributes are stripped), or a
      // reference to a named type written in object form.
      return form(type, namespace, defined);
  }
}

/** The Parsing Canonical Form of a parsed schema (the JSON value, or its text). */
export function parsingCanonicalForm(schema: unknown): string {
  const parsed = typeof schema === 'string' && /^\s*[[{"]/.test(schema) ? JSON.parse(schema) : schema;
  return form(parsed, '', new Set());
}
