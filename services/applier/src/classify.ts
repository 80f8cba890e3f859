/**
 * Which failures are the data's fault. Only those may ever send a record to the dead-letter
 * topic; everything else (connection loss, shutdown, permissions, locks, broker trouble, anything
 * unrecognised) is treated as an outage and retried with backoff, so good data is never
 * dead-lettered. Decisions read SQLSTATE / error codes along the cause chain, never message text.
 */

/**
 * SQLSTATE classes that describe the statement's data: 22 data exception, 23 integrity
 * violation, 54 program limit exceeded (e.g. a value too large for its index).
 */
const DATA_SQLSTATE_CLASSES = new Set(['22', '23', '54']);

function codesOf(value: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = value;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const { code, sqlState } = current as { code?: unknown; sqlState?: unknown };
    if (typeof sqlState === 'string') codes.push(sqlState);
    if (typeof code === 'string') codes.push(code);
    current = current.cause;
  }
  return codes;
}

function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code);
}

/** True when the failure is caused by the record itself (retrying cannot help). */
export function isDataError(value: unknown): boolean {
  for (const code of codesOf(value)) {
    if (code.startsWith('APPLY_')) return true;
    if (isSqlState(code)) return DATA_SQLSTATE_CLASSES.has(code.slice(0, 2));
  }
  return false;
}

/** The stable code to report for a failure (SQLSTATE or error code), 'UNKNOWN' otherwise. */
export function failureCode(value: unknown): string {
  return codesOf(value)[0] ?? 'UNKNOWN';
}
