import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { createError, ERROR_CODES, isErrorCode } from '../src/index.ts';

const DOC = join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md');
const COLUMN: Readonly<Record<string, string>> = { retriable: 'yes', fatal: 'no', data: 'data', sqlstate: 'SQLSTATE' };

/** The rows of the docs/errors.md codes table: code → its Retriable cell. */
function documented(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const cells = /^\| `([A-Z0-9_]+)` \|/.test(line) ? line.split('|').map((c) => c.trim()) : null;
    if (cells === null) continue;
    const code = (cells[1] ?? '').replaceAll('`', '');
    assert.ok(!rows.has(code), `${code} is documented twice`);
    assert.ok((cells[2] ?? '') !== '' && (cells[4] ?? '') !== '', `${code}: meaning and what to do are filled in`);
    rows.set(code, cells[3] ?? '');
  }
  return rows;
}

it('docs/errors.md documents every ErrorCode, and no other', () => {
  const doc = [...documented().keys()].sort();
  const union = Object.keys(ERROR_CODES).sort();
  assert.deepEqual(
    doc.filter((c) => !union.includes(c)),
    [],
    'documented but not in ERROR_CODES',
  );
  assert.deepEqual(
    union.filter((c) => !doc.includes(c)),
    [],
    'in ERROR_CODES but not documented',
  );
});

it('the Retriable column agrees with each code class', () => {
  const doc = documented();
  for (const [code, kind] of Object.entries(ERROR_CODES)) {
    assert.equal(doc.get(code), COLUMN[kind], `${code} is ${kind} in ERROR_CODES`);
  }
});

it('a code outside ErrorCode does not compile, and is not one at run time', () => {
  // @ts-expect-error: createError takes an ErrorCode; a new code is added to ERROR_CODES first
  const made = createError('NOT_A_DIRSTREAM_CODE', 'x');
  assert.equal(isErrorCode(made.code), false);
  assert.equal(isErrorCode('LDAP_BIND_FAILED'), true);
});
