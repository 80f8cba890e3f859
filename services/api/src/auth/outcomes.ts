import type { AuthEventResult } from '@dirstream/events';
import type { ErrorCode } from '@dirstream/errors';

/**
 * Every result a sign-in attempt can have: the event contract's list (the auth-event `result`),
 * also the metric label and (through RESPONSES) the HTTP status and the stable body code
 * applications switch on.
 */
export type AuthResult = AuthEventResult;

/** Status and body code of each refusal. One 401 code for every "wrong login or password" case. */
export const RESPONSES: Readonly<Record<Exclude<AuthResult, 'success'>, { readonly status: number; readonly code: ErrorCode }>> = {
  'invalid-credentials': { status: 401, code: 'AUTH_INVALID_CREDENTIALS' },
  'account-disabled': { status: 403, code: 'AUTH_ACCOUNT_DISABLED' },
  'account-expired': { status: 403, code: 'AUTH_ACCOUNT_EXPIRED' },
  'password-expired': { status: 403, code: 'AUTH_PASSWORD_EXPIRED' },
  'password-must-change': { status: 403, code: 'AUTH_PASSWORD_MUST_CHANGE' },
  'account-locked': { status: 403, code: 'AUTH_ACCOUNT_LOCKED' },
  'logon-hours': { status: 403, code: 'AUTH_LOGON_HOURS_RESTRICTED' },
  'workstation-restricted': { status: 403, code: 'AUTH_WORKSTATION_RESTRICTED' },
  'rate-limited': { status: 429, code: 'AUTH_RATE_LIMITED' },
  'directory-unavailable': { status: 503, code: 'AUTH_DIRECTORY_UNAVAILABLE' },
  'invalid-request': { status: 400, code: 'HTTP_BAD_REQUEST' },
};

/** The error codes of http/errors.ts that carry each status. */
export const HTTP_CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'HTTP_BAD_REQUEST',
  401: 'HTTP_UNAUTHENTICATED',
  403: 'HTTP_FORBIDDEN',
  429: 'HTTP_RATE_LIMITED',
  503: 'HTTP_UNAVAILABLE',
};
