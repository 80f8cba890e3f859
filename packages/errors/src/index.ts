export { classifyFailure, classifySqlState, type FailureClass, failureCode, isRetriable } from './classify.ts';
export { ERROR_CODES, type ErrorCode, isErrorCode } from './codes.ts';
export { DirstreamError, type ErrorDetails, createError, errorCode, isDirstreamError, toError } from './error.ts';
export { backoffMs, type RetryOptions, retry, sleep } from './retry.ts';
