import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configSchema, loadConfig, loadConfigFromText } from '@dirstream/config';

const ROOT = new URL('../../../', import.meta.url);
const DOCS = new URL('docs/configuration.md', ROOT);
const EXAMPLE = new URL('config/example.dirstream.yaml', ROOT);

/** Every secret name resolves to something; every file "exists". */
const anyEnv = new Proxy({}, { get: () => 'placeholder' }) as Record<string, string>;
const anyFile = async (): Promise<string> => 'placeholder';

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/** Every key path of the zod schema, e.g. `profiles[].users.attributes.extra`. */
function schemaKeys(): string[] {
  const keys: string[] = [];
  const walk = (schema: unknown, prefix: string): void => {
    let current = schema as {
      def?: { type?: string; innerType?: unknown; element?: unknown; options?: unknown[] };
      shape?: Record<string, unknown>;
    };
    while (current.def?.type === 'default' || current.def?.type === 'optional') current = current.def.innerType as typeof current;
    if (current.def?.type === 'array') {
      walk(current.def.element, `${prefix}[]`);
      return;
    }
    if (current.def?.type !== 'object' || current.shape === undefined) return;
    for (const [key, value] of Object.entries(current.shape)) {
      keys.push(`${prefix}${prefix === '' ? '' : '.'}${key}`);
      walk(value, `${prefix}${prefix === '' ? '' : '.'}${key}`);
    }
  };
  walk(configSchema, '');
  return keys;
}

describe('docs/configuration.md', () => {
  it('every YAML example with profiles is a valid configuration', async () => {
    const markdown = await readFile(DOCS, 'utf8');
    const examples = yamlBlocks(markdown).filter((block) => block.includes('profiles:'));
    assert.ok(examples.length >= 2, 'the OpenLDAP and Active Directory examples are there');
    for (const [index, example] of examples.entries()) {
      const config = await loadConfigFromText(example, { sourceName: `docs example ${index}`, env: anyEnv, readFile: anyFile });
      assert.ok(config.profiles.length > 0);
    }
  });

  it('documents every key of the schema in the Keys tables', async () => {
    const markdown = await readFile(DOCS, 'utf8');
    // A row's first cell is the key, relative to its section heading (### `profiles[].users`) or absolute.
    const documented = new Set<string>();
    let prefix = '';
    for (const line of markdown.split('\n')) {
      const heading = /^### (?:`([^`]+)`|Top level)/.exec(line);
      if (heading !== null) prefix = heading[1] ?? '';
      const row = /^\| `([^`]+)` \|/.exec(line);
      if (row === null) continue;
      documented.add(row[1]!);
      if (prefix !== '') documented.add(`${prefix}.${row[1]}`);
    }
    assert.deepEqual(
      schemaKeys().filter((key) => !documented.has(key)),
      [],
    );
  });
});

describe('config/example.dirstream.yaml', () => {
  it('is valid with the environment variable it names', async () => {
    const config = await loadConfig({ path: new URL(EXAMPLE).pathname, env: { DIRSTREAM_LDAP_PASSWORD: 'placeholder' } });
    assert.equal(config.profiles[0]?.connection.bindPassword, 'placeholder');
  });
});
