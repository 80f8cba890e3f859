import type { z } from 'zod';
import type { ConfigIssue } from './issues.ts';
import { checkConfigRules } from './rules.ts';
import { configSchema, type RawConfig } from './schema.ts';

type RawIssue = z.core.$ZodRawIssue;

function typeName(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return 'a string';
  if (typeof input === 'number') return Number.isInteger(input) ? 'an integer' : 'a number';
  if (typeof input === 'boolean') return 'a boolean';
  return typeof input;
}

function expectedName(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  if (expected === 'int') return 'an integer';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/**
 * Messages for zod issues. None of them quotes the input value: a value in the file may be a
 * secret written inline by mistake, and error messages end up in logs.
 * Schema-level messages (e.g. "must start with ldap://") take precedence over these.
 */
function describeIssue(issue: RawIssue): string | undefined {
  const input: unknown = issue.input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${expectedName(issue.expected)}, not ${typeName(input)}`;
    case 'invalid_union':
      // The only union in the schema is a secret.
      if (input === undefined) return 'is required: { env: NAME } or { file: PATH }';
      if (typeof input === 'string') return 'secrets are never written inline: use { env: NAME } or { file: PATH }';
      return 'must be { env: NAME } or { file: PATH }';
    case 'invalid_value':
      if (input === undefined) return `is required (one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')})`;
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      if (issue.format === 'uuid') return 'must be a UUID (e.g. the output of `uuidgen`)';
      if (issue.format === 'regex' && 'pattern' in issue) return `must match ${String(issue.pattern)}`;
      return `must be a valid ${issue.format}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item(s)`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} item(s)`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    default:
      return undefined;
  }
}

type SchemaNode = { def?: { type?: string; innerType?: unknown; element?: unknown }; shape?: Record<string, unknown> };

function unwrap(node: unknown): SchemaNode {
  let current = node as SchemaNode;
  while (current.def?.type === 'default' || current.def?.type === 'optional') current = current.def.innerType as SchemaNode;
  return current;
}

/** The keys the schema allows in the mapping at `path` (for "did you mean"). */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node = unwrap(configSchema);
  for (const segment of path) {
    if (node.def?.type === 'array' && typeof segment === 'number') node = unwrap(node.def.element);
    else if (node.shape !== undefined && typeof segment === 'string' && segment in node.shape) node = unwrap(node.shape[segment]);
    else return [];
  }
  return node.shape === undefined ? [] : Object.keys(node.shape);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function unknownKeyMessage(parent: readonly PropertyKey[], key: string): string {
  const known = knownKeysAt(parent);
  const lower = key.toLowerCase();
  const close = known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => editDistance(k.toLowerCase(), lower) <= 2);
  return close === undefined ? 'unknown key' : `unknown key (did you mean "${close}"?)`;
}

export type ValidationResult =
  | { readonly ok: true; readonly value: RawConfig }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Schema validation, then the rules that span several keys (unique IDs, delta per directory). */
export function validateConfig(data: unknown): ValidationResult {
  if (data === null || data === undefined) {
    return { ok: false, issues: [{ path: [], message: 'the file is empty: expected a mapping with kafka, database and profiles' }] };
  }
  const parsed = configSchema.safeParse(data, { error: describeIssue });
  if (!parsed.success) {
    const issues: ConfigIssue[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        // One line per unknown key, at the key's own path, so the reader finds it.
        for (const key of issue.keys) issues.push({ path: [...issue.path, key], message: unknownKeyMessage(issue.path, key) });
      } else {
        issues.push({ path: issue.path, message: issue.message });
      }
    }
    return { ok: false, issues };
  }
  const ruleIssues = checkConfigRules(parsed.data);
  if (ruleIssues.length > 0) return { ok: false, issues: ruleIssues };
  return { ok: true, value: parsed.data };
}
