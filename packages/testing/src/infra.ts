import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Endpoints of the running test infrastructure, as written by `npm run infra:up`. */
export type Infra = {
  readonly postgres: { readonly url: string };
  readonly kafka: { readonly brokers: readonly string[] };
  readonly openldap: {
    readonly url: string;
    readonly suffix: string;
    readonly adminDn: string;
    readonly adminPassword: string;
    readonly sampleBaseDn: string;
    readonly dir?: string;
  };
  readonly samba?: Readonly<Record<string, unknown>>;
};

export const INFRA_FILE = resolve(import.meta.dirname, '..', '..', '..', '.dirstream', 'infra.json');

export function loadInfra(file: string = INFRA_FILE): Infra {
  if (!existsSync(file)) {
    throw new Error(`no test infrastructure: ${file} is missing — run \`npm run infra:up\` (or \`npm test\`, which starts it)`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Infra;
}
