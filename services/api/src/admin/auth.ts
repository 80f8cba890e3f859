import { createHash, timingSafeEqual } from 'node:crypto';
import type { DirstreamConfig } from '@dirstream/config';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { httpError } from '../http/errors.ts';

export type AdminRole = 'viewer' | 'operator';
export type AdminCaller = { readonly name: string; readonly role: AdminRole };

type TokenEntry = { readonly name: string; readonly role: AdminRole; readonly digest: Buffer };

const callers = new WeakMap<FastifyRequest, AdminCaller>();

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Paths anyone may load: the page's shell and its static files hold no data and no secret. */
export function isPublicAdminPath(path: string): boolean {
  return path === '/' || path.startsWith('/assets/');
}

/**
 * Bearer tokens for the whole admin listener (invariant 11). The presented token is compared
 * with every configured one in constant time (SHA-256 digests, so lengths never leak and no
 * comparison stops early); it is never logged. No cookies: the page keeps the token in
 * sessionStorage and sends it as a header, so there is nothing a cross-site request could ride on.
 */
export function registerAdminAuth(app: FastifyInstance, tokens: DirstreamConfig['serve']['admin']['tokens']): void {
  const entries: TokenEntry[] = tokens.map((t) => ({ name: t.name, role: t.role, digest: digest(t.token) }));
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '/';
    if (isPublicAdminPath(path) && request.method === 'GET') return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
    if (match === null) {
      throw httpError('HTTP_UNAUTHENTICATED', 'a bearer token is required', {
        headers: { 'www-authenticate': 'Bearer realm="dirstream-admin"' },
      });
    }
    const presented = digest(match[1] as string);
    let found: TokenEntry | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry;
    }
    if (found === undefined) {
      throw httpError('HTTP_UNAUTHENTICATED', 'the bearer token is not valid', {
        headers: { 'www-authenticate': 'Bearer realm="dirstream-admin", error="invalid_token"' },
      });
    }
    callers.set(request, { name: found.name, role: found.role });
    request.log = request.log.child({ caller: found.name, role: found.role });
  });
}

export function callerOf(request: FastifyRequest): AdminCaller {
  const caller = callers.get(request);
  if (caller === undefined) throw httpError('HTTP_UNAUTHENTICATED', 'a bearer token is required');
  return caller;
}

/** preHandler of operator actions: a viewer token gets 403. */
export async function requireOperator(request: FastifyRequest): Promise<void> {
  if (callerOf(request).role !== 'operator') throw httpError('HTTP_FORBIDDEN', 'this action needs the operator role');
}
