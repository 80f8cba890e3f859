/**
 * The schema files: schemas/<record-type>/v<N>.avsc, versions 1..N with no gaps. Every version
 * ever released stays in the repository, because records written with it stay in compacted
 * topics for ever and must keep decoding.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DirstreamError } from '@dirstream/errors';
import { parsingCanonicalForm } from './canonical-form.ts';
import { rabinFingerprint64 } from './fingerprint.ts';
import { RECORD_TYPES, type RecordType } from './types.ts';

/** The repository's schemas/ folder, found from this module's location (never from the cwd). */
export const DEFAULT_SCHEMAS_DIR = path.resolve(import.meta.dirname, '../../../schemas');

export type SchemaVersion = {
  readonly recordType: RecordType;
  readonly version: number;
  readonly file: string;
  /** The parsed .avsc file. */
  readonly schema: unknown;
  readonly canonicalForm: string;
  /** CRC-64-AVRO of the canonical form, unsigned. */
  readonly fingerprint: bigint;
};

export type SchemaSet = { readonly [T in RecordType]: readonly SchemaVersion[] };

function invalid(message: string, cause?: unknown): DirstreamError {
  return new DirstreamError('EVENT_SCHEMA_INVALID', message, { cause });
}

function loadType(dir: string, recordType: RecordType): SchemaVersion[] {
  const folder = path.join(dir, recordType);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    throw invalid(`cannot read schema folder ${folder}`, error);
  }
  const versions: SchemaVersion[] = [];
  for (const name of names) {
    const match = /^v([1-9][0-9]*)\.avsc$/.exec(name);
    if (match === null) continue;
    const file = path.join(folder, name);
    let schema: unknown;
    try {
      schema = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw invalid(`cannot parse ${file}`, error);
    }
    const canonicalForm = parsingCanonicalForm(schema);
    versions.push({
      recordType,
      version: Number(match[1]),
      file,
      schema,
      canonicalForm,
      fingerprint: rabinFingerprint64(canonicalForm),
    });
  }
  versions.sort((a, b) => a.version - b.version);
  if (versions.length === 0) throw invalid(`no v<N>.avsc file in ${folder}`);
  versions.forEach((entry, index) => {
    if (entry.version !== index + 1) throw invalid(`${folder} has no v${index + 1}.avsc (versions must be 1..N)`);
  });
  return versions;
}

/** Reads every version of every record type. Throws EVENT_SCHEMA_INVALID on a bad folder. */
export function loadSchemas(dir: string = DEFAULT_SCHEMAS_DIR): SchemaSet {
  const set = {} as Record<RecordType, readonly SchemaVersion[]>;
  const seen = new Map<bigint, string>();
  for (const recordType of RECORD_TYPES) {
    set[recordType] = loadType(dir, recordType);
    for (const entry of set[recordType]) {
      const other = seen.get(entry.fingerprint);
      // Two files with one canonical form would make the writer schema ambiguous (a doc-only
      // change edits the file in place instead: it does not change the fingerprint).
      if (other !== undefined) throw invalid(`${entry.file} has the same canonical form as ${other}`);
      seen.set(entry.fingerprint, entry.file);
    }
  }
  return set;
}
