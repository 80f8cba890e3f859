/**
 * Errors carry a stable `code` and a `retriable` flag; retry decisions read those, never the
 * message text. Every `catch` turns `unknown` into an Error with `toError`. A code is an ErrorCode:
 * a new one is added to ERROR_CODES (codes.ts) and documented in docs/errors.md first.
 */
import type { ErrorCode } from './codes.ts';

export type ErrorDetails = Readonly<Record<string, unknown>>;

export class DirstreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: { retriable?: boolean; cause?: unknown; details?: ErrorDetails } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DirstreamError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

export function createError(
  code: ErrorCode,
  message: string,
  options: { retriable?: boolean; cause?: unknown; details?: ErrorDetails } = {},
): DirstreamError {
  return new DirstreamError(code, message, options);
}

export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(`non-error thrown: ${JSON.stringify(value)}`);
  } catch {
    return new Error(`non-error thrown: ${String(value)}`);
  }
}

export function isDirstreamError(value: unknown, code?: ErrorCode): value is DirstreamError {
  return value instanceof DirstreamError && (code === undefined || value.code === code);
}

/** The stable code of an error, or of a DirstreamError in its cause chain. */
export function errorCode(value: unknown): string | undefined {
  let current: unknown = value;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (current instanceof DirstreamError) return current.code;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}
