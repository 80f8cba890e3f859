import type { z } from 'zod';
import { httpError } from './errors.ts';

/**
 * Validates request input at the edge: a 400 that names the field at fault (never its value,
 * which may be a password).
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? where : `${where}.${issue.path.map(String).join('.')}`;
  throw httpError('HTTP_BAD_REQUEST', `${field}: ${issue?.message ?? 'invalid'}`, {
    body: { code: 'HTTP_BAD_REQUEST', field, message: issue?.message ?? 'invalid' },
  });
}
