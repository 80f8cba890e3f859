import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { configSchema } from './schema.ts';

/** The committed copy for editors: `# yaml-language-server: $schema=…/config/dirstream.schema.json`. */
export const JSON_SCHEMA_PATH = fileURLToPath(new URL('../../../config/dirstream.schema.json', import.meta.url));

/**
 * The JSON Schema of dirstream.yaml. It describes the input side: keys with defaults are optional.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  return { ...schema, title: 'dirstream configuration' };
}

/** The exact text of config/dirstream.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
