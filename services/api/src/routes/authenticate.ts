import { randomUUID } from 'node:crypto';
import { type ErrorCode, sleep } from '@dirstream/errors';
import { contextWithParent, type RecordHeaders, type Span, spanContextFrom, traceHeaders } from '@dirstream/tracing';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuthOutcome } from '../auth/authenticate.ts';
import { HTTP_CODE_BY_STATUS, RESPONSES } from '../auth/outcomes.ts';
import { type AuthService, createAuthService } from '../auth/service.ts';
import type { ServeContext } from '../context.ts';
import { httpError, statusFor } from '../http/errors.ts';
import { parseInput } from '../http/input.ts';

/**
 * `POST /v1/authenticate`: sign-in with the directory password (docs/authentication.md). The
 * password is read from the body into the request's memory and nowhere else: it is not logged
 * (Fastify never logs bodies), never part of an error, an event or a metric.
 */

/** Longest login / profile accepted; longer is a 400 before anything else happens. */
export const MAX_LOGIN_LENGTH = 256;
/** Longest password accepted (AD allows 256 characters; no directory needs more). */
export const MAX_PASSWORD_LENGTH = 1_024;

const text = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => s.isWellFormed(), 'must be valid Unicode')
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL');

export const authenticateBody = z.object({
  login: text(MAX_LOGIN_LENGTH).refine((s) => s.trim() !== '', 'must not be blank'),
  // RFC 4513 §5.1.2: a simple bind with an empty password is an unauthenticated bind, which
  // servers answer with success. Whitespace-only is refused with it: no directory sets such a password on purpose.
  password: text(MAX_PASSWORD_LENGTH).refine((s) => s.trim() !== '', 'must not be empty or whitespace'),
  profile: text(MAX_LOGIN_LENGTH).optional(),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

function badRequest(field: string, message: string) {
  return httpError('HTTP_BAD_REQUEST', `${field}: ${message}`, { body: { code: 'HTTP_BAD_REQUEST', field, message } });
}

/** The login of a refused body, for the event: a string cut to size, else empty. */
function typedLogin(body: unknown): string {
  const login = (body as { login?: unknown } | null)?.login;
  return typeof login === 'string' ? login.slice(0, MAX_LOGIN_LENGTH) : '';
}

export function registerAuthRoutes(app: FastifyInstance, ctx: ServeContext): AuthService {
  const service = createAuthService(ctx);
  const { authenticator, events, metrics, clients } = service;
  const floorMs = ctx.config.serve.auth.failureFloorMs;
  const { tracing } = ctx;
  app.addHook('onClose', async () => service.close());

  app.register(async (scope) => {
    // JSON read as bytes so that invalid UTF-8 is a 400, not silently replaced by U+FFFD.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
      let value: unknown;
      try {
        value = JSON.parse(utf8.decode(body as Buffer));
      } catch (cause) {
        done(cause instanceof TypeError ? badRequest('body', 'must be UTF-8') : badRequest('body', 'must be JSON'), undefined);
        return;
      }
      done(null, value);
    });

    scope.post('/v1/authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!tracing.enabled) return signIn(request, reply, undefined);
      // A child of the calling application's trace when its request carries a traceparent.
      const span = tracing.tracer.startSpan(
        'dirstream.serve.authenticate',
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/v1/authenticate' } },
        contextWithParent(spanContextFrom(request.headers as RecordHeaders)),
      );
      try {
        const answer = await signIn(request, reply, span);
        span.setAttribute('http.response.status_code', reply.statusCode);
        return answer;
      } catch (error) {
        // Refusals are answers (their code is on the span); only a failure of ours is an error.
        const status = statusFor(error);
        span.setAttribute('http.response.status_code', status);
        if (status === 500) span.setStatus({ code: SpanStatusCode.ERROR, message: 'internal error' });
        throw error;
      } finally {
        span.end();
      }
    });

    /** The sign-in itself; `span` (tracing on) gets the result and names the auth event's trace. */
    async function signIn(request: FastifyRequest, reply: FastifyReply, span: Span | undefined) {
      const client = clients.open ? null : clients.identify(request.headers.authorization);
      if (!clients.open && client === null) {
        metrics.clientRefused();
        throw httpError('HTTP_UNAUTHENTICATED', 'no valid client token', {
          body: { code: 'AUTH_CLIENT_UNAUTHENTICATED' },
          headers: { 'www-authenticate': 'Bearer realm="dirstream sign-in"' },
        });
      }
      const started = performance.now();
      const occurredAt = Date.now();
      const finish = (outcome: Pick<AuthOutcome, 'result' | 'profile' | 'externalId' | 'firstSignIn'>, login: string) => {
        const seconds = (performance.now() - started) / 1000;
        metrics.attempt(outcome.result, seconds);
        span?.setAttributes({
          'dirstream.auth.result': outcome.result,
          ...(outcome.profile === null || outcome.profile === undefined ? {} : { 'dirstream.profile.id': outcome.profile.id }),
          ...(outcome.externalId === null ? {} : { 'dirstream.external_id': outcome.externalId }),
        });
        events.publish(
          {
            eventId: randomUUID(),
            occurredAt,
            result: outcome.result,
            profileId: outcome.profile?.id ?? null,
            externalId: outcome.externalId,
            login: login.slice(0, MAX_LOGIN_LENGTH),
            clientAddress: request.ip,
            latencyMs: Math.round(seconds * 1000),
            requestId: request.id,
            firstSignIn: outcome.firstSignIn,
          },
          span === undefined ? undefined : traceHeaders(span),
        );
        request.log.info(
          {
            result: outcome.result,
            client: client ?? undefined,
            profileId: outcome.profile?.id,
            externalId: outcome.externalId ?? undefined,
            ms: Math.round(seconds * 1000),
          },
          'sign-in',
        );
      };

      let input: z.infer<typeof authenticateBody>;
      try {
        input = parseInput(authenticateBody, request.body, 'body');
        if (authenticator.profilesFor(input.profile) === null) throw badRequest('body.profile', 'no such profile');
      } catch (cause) {
        finish({ result: 'invalid-request', profile: null, externalId: null, firstSignIn: false }, typedLogin(request.body));
        throw cause;
      }

      const outcome = await authenticator.authenticate({
        login: input.login,
        password: input.password,
        profile: input.profile,
        clientAddress: request.ip,
      });
      if (outcome.result === 'invalid-credentials' && floorMs > 0) {
        const left = floorMs - (performance.now() - started);
        if (left > 0) await sleep(left);
      }
      finish(outcome, input.login);

      if (outcome.result === 'success' && outcome.user !== undefined) {
        return reply.status(200).send({ user: outcome.user, synced: outcome.synced ?? true });
      }
      const response = RESPONSES[outcome.result as Exclude<typeof outcome.result, 'success'>];
      const body: Record<string, unknown> = { code: response.code };
      const headers: Record<string, string> = {};
      if (outcome.result === 'directory-unavailable') body.profiles = outcome.unavailable ?? [];
      if (outcome.result === 'rate-limited') headers['retry-after'] = String(Math.ceil((outcome.retryAfterMs ?? 1000) / 1000));
      throw httpError(HTTP_CODE_BY_STATUS[response.status] as ErrorCode, response.code, { body, headers });
    }
  });
  return service;
}
