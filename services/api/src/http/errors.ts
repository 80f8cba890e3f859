import { createError, type DirstreamError, type ErrorCode, errorCode, isDirstreamError, toError } from '@dirstream/errors';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * One error → HTTP status mapping for every listener of `dirstream serve`. Handlers throw
 * DirstreamErrors with an `HTTP_*` code (or a domain code mapped here); the body is always
 * `{ code, message? }` and never holds a secret, an input value or a stack.
 */
const STATUS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  HTTP_BAD_REQUEST: 400,
  HTTP_UNAUTHENTICATED: 401,
  HTTP_FORBIDDEN: 403,
  HTTP_NOT_FOUND: 404,
  HTTP_CONFLICT: 409,
  HTTP_PAYLOAD_TOO_LARGE: 413,
  HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  HTTP_RATE_LIMITED: 429,
  HTTP_UNAVAILABLE: 503,
  PROFILE_NOT_FOUND: 404,
};

/** The codes that are HTTP answers as such (ERROR_CODES' HTTP_ members). */
export type HttpErrorCode = Extract<ErrorCode, `HTTP_${string}`>;

/** An error whose status and body the error handler knows; `details.body` replaces the default body. */
export function httpError(
  code: ErrorCode,
  message: string,
  options: { body?: Record<string, unknown>; headers?: Record<string, string> } = {},
): DirstreamError {
  return createError(code, message, { retriable: false, details: { body: options.body, headers: options.headers } });
}

export function statusFor(error: unknown): number {
  const code = errorCode(error);
  if (isDirstreamError(error) && code !== undefined && code in STATUS_BY_CODE) return STATUS_BY_CODE[code as ErrorCode] as number;
  // Fastify's own client errors (body too large, bad JSON, wrong content type) carry a 4xx statusCode.
  const statusCode = (error as Partial<FastifyError>).statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return statusCode;
  return 500;
}

/** Fastify's codes for a body it refused, mapped to ours (their messages may quote the input). */
function fastifyClientCode(error: Partial<FastifyError>): ErrorCode {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'HTTP_PAYLOAD_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'HTTP_UNSUPPORTED_MEDIA_TYPE';
    default:
      return 'HTTP_BAD_REQUEST';
  }
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const status = statusFor(error);
  const err = toError(error);
  if (status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: errorCode(err), status }, 'request refused');
  if (isDirstreamError(err)) {
    const details = err.details as { body?: Record<string, unknown>; headers?: Record<string, string> } | undefined;
    for (const [name, value] of Object.entries(details?.headers ?? {})) reply.header(name, value);
    // 503 from httpError is a deliberate answer (a dependency is away), with its own body.
    if (status < 500 || (status === 503 && details?.body !== undefined)) {
      void reply.status(status).send(details?.body ?? { code: err.code, message: err.message });
      return;
    }
  }
  if (status < 500) {
    const code = fastifyClientCode(err as Partial<FastifyError>);
    void reply.status(status).send({ code, message: status === 413 ? 'request body too large' : 'malformed request' });
    return;
  }
  void reply.status(500).send({ code: 'INTERNAL', message: 'internal error; see the server log', requestId: request.id });
}
