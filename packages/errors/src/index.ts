export { DirstreamError, type ErrorDetails, createError, errorCode, isDirstreamError, isRetriable, toError } from './error.ts';
export { backoffMs, type RetryOptions, retry, sleep } from './retry.ts';
