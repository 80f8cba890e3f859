/**
 * The one failure classifier, for the poller, the applier and the retry helper alike. It reads
 * codes, SQLSTATEs and `retriable` flags along the cause chain, never message text:
 *
 * 1. `data` when the record or entry itself is at fault: a data code (ERROR_CODES) anywhere in the
 *    chain, or a SQLSTATE of class 22 (data exception), 23 (integrity violation) or 54 (program
 *    limit exceeded, e.g. a value too large for its index). Only these may dead-letter a record.
 * 2. Otherwise the nearest explicit word: a DirstreamError's `retriable` flag, a client library's
 *    (kafkajs) `retriable` flag, or a SQLSTATE: every class but the data ones is an outage
 *    (connection, shutdown, privileges revoked, locks, a database not accepting connections).
 *    A client's "retries exceeded" is no verdict: the error it wraps decides.
 * 3. Nothing recognisable (a dropped socket, a driver's plain Error): an outage, `retriable`, so
 *    good data is never dead-lettered and a service waits rather than exits; callers that must
 *    give up bound their attempts.
 */
import { ERROR_CODES, type FailureClass } from './codes.ts';
import { DirstreamError } from './error.ts';

export type { FailureClass };

const DATA_SQLSTATE_CLASSES = new Set(['22', '23', '54']);

/** A SQLSTATE: five characters of [0-9A-Z] with a digit (Node's errno codes such as EPIPE have none). */
function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code) && /[0-9]/.test(code);
}

function chainOf(value: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = value;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

function sqlStateOf(error: Error): string | undefined {
  const { code, sqlState } = error as { code?: unknown; sqlState?: unknown };
  if (typeof sqlState === 'string' && isSqlState(sqlState)) return sqlState;
  if (!(error instanceof DirstreamError) && typeof code === 'string' && isSqlState(code)) return code;
  return undefined;
}

/** How a SQLSTATE classifies: `data` for classes 22, 23 and 54, an outage otherwise. */
export function classifySqlState(sqlState: string): FailureClass {
  return DATA_SQLSTATE_CLASSES.has(sqlState.slice(0, 2)) ? 'data' : 'retriable';
}

export function classifyFailure(value: unknown): FailureClass {
  const chain = chainOf(value);
  for (const error of chain) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && ERROR_CODES[code as keyof typeof ERROR_CODES] === 'data')
      return 'data';
    const sqlState = sqlStateOf(error);
    if (sqlState !== undefined && classifySqlState(sqlState) === 'data') return 'data';
  }
  for (const error of chain) {
    // kafkajs' "retries exceeded" says its own budget is spent, not that the failure is permanent:
    // the error it wraps (its cause) has the verdict.
    if (error.name === 'KafkaJSNumberOfRetriesExceeded') continue;
    if (error instanceof DirstreamError) return error.retriable ? 'retriable' : 'fatal';
    const sqlState = sqlStateOf(error);
    if (sqlState !== undefined) return classifySqlState(sqlState);
    const retriable = (error as { retriable?: unknown }).retriable;
    if (typeof retriable === 'boolean') return retriable ? 'retriable' : 'fatal';
  }
  return 'retriable';
}

/** True when a later try may succeed: the classifier says `retriable`. */
export function isRetriable(value: unknown): boolean {
  return classifyFailure(value) === 'retriable';
}

/** The code to report for a failure: the first SQLSTATE or code along the chain, 'UNKNOWN' otherwise. */
export function failureCode(value: unknown): string {
  for (const error of chainOf(value)) {
    const sqlState = sqlStateOf(error);
    if (sqlState !== undefined) return sqlState;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return 'UNKNOWN';
}
