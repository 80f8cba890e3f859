import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { toError } from '@dirstream/errors';
import type { SyncControl } from '@dirstream/poller';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../../context.ts';
import { httpError } from '../../http/errors.ts';
import { parseInput } from '../../http/input.ts';
import { callerOf } from '../auth.ts';
import { deadLetterQuery, readDeadLetters } from '../dead-letters.ts';
import type { KafkaAccess } from '../kafka.ts';
import { measureConsoleLag } from '../lag.ts';
import { readObject, readTimeline, searchObjects, searchSchema } from '../objects.ts';
import { readProfiles, readRequestedRun } from '../profiles.ts';
import { countRunErrors, listRuns, readHaltReport, readRun, readRunChanges, readRunErrors, runFilterSchema } from '../runs.ts';
import { type Html, toHtmlString } from './html.ts';
import { activityView, deadLettersView, objectView, profilesView, runDetailView, runsView, searchView } from './views.ts';

const ASSETS = join(import.meta.dirname, 'assets');
const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

/** Static files of the page, read once: the shell's script and style, and uPlot from node_modules. */
const STATIC: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: join(ASSETS, 'index.html'), type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: join(ASSETS, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: join(ASSETS, 'app.css'), type: 'text/css; charset=utf-8' },
  '/assets/uplot.js': { file: join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uplot.css': { file: join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

// Scripts only from this origin, no inline script, no framing: the page shows directory data.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function sendHtml(reply: FastifyReply, fragment: Html) {
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(toHtmlString(fragment));
}

/**
 * The page at `/`: a static shell (no data; it asks for the admin token and keeps it in
 * sessionStorage) and server-rendered fragments under `/ui/…` that the shell loads with the token.
 */
export function registerPageRoutes(app: FastifyInstance, ctx: ServeContext, control: SyncControl, kafka: KafkaAccess): void {
  const files = new Map(Object.entries(STATIC).map(([path, s]) => [path, { body: readFileSync(s.file), type: s.type }]));
  for (const [path, file] of files) {
    app.get(path, async (_request, reply) =>
      reply
        .type(file.type)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(file.body),
    );
  }
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.get('/ui/profiles', async (request, reply) => sendHtml(reply, profilesView(await readProfiles(ctx, control), callerOf(request))));

  app.get('/ui/runs', async (request, reply) => {
    const filter = parseInput(runFilterSchema, request.query, 'query');
    const page = await listRuns(ctx, filter);
    return sendHtml(
      reply,
      runsView(
        page,
        filter,
        ctx.config.profiles.map((p) => ({ id: p.id, name: p.name })),
      ),
    );
  });

  app.get('/ui/runs/:id', async (request, reply) => {
    const { id } = parseInput(z.object({ id: z.string().min(1).max(200) }).strict(), request.params, 'params');
    // The first errors at a glance; `?errors=all` shows up to 1000 (the API pages through every one).
    const { errors: shown } = parseInput(z.object({ errors: z.enum(['all']).optional() }).strict(), request.query, 'query');
    const run = await readRun(ctx, id);
    const requested = run === null ? await readRequestedRun(control, id) : null;
    if (run === null && requested === null) throw httpError('HTTP_NOT_FOUND', `no run ${id}`);
    const empty = { items: [], nextCursor: null };
    const [errors, errorCount, changes] =
      run === null
        ? [empty, 0, empty]
        : await Promise.all([readRunErrors(ctx, id, shown === 'all' ? 1000 : 10), countRunErrors(ctx, id), readRunChanges(ctx, id, 100)]);
    const haltReport = run === null ? null : await readHaltReport(ctx, run);
    return sendHtml(
      reply,
      runDetailView({ run, request: requested, errors, errorCount, changes, haltReport }, run?.profileId ?? requested?.profileId ?? null),
    );
  });

  app.get('/ui/objects', async (request, reply) => {
    const q = (request.query as { q?: unknown }).q;
    if (q === undefined || q === '') return sendHtml(reply, searchView('', null, null));
    const input = parseInput(searchSchema, request.query, 'query');
    const result = await searchObjects(ctx, input);
    return sendHtml(reply, searchView(input.q, result.items, result.nextOffset));
  });

  app.get('/ui/objects/:profile/:externalId', async (request, reply) => {
    const { profile, externalId } = parseInput(
      z.object({ profile: z.uuid(), externalId: z.string().min(1).max(512) }).strict(),
      request.params,
      'params',
    );
    const object = await readObject(ctx, profile, externalId);
    if (object === null) throw httpError('HTTP_NOT_FOUND', `no object ${externalId} in profile ${profile}`);
    return sendHtml(reply, objectView(object, await readTimeline(ctx, profile, externalId, 100)));
  });

  app.get('/ui/dead-letters', async (request, reply) => {
    const { limit } = parseInput(deadLetterQuery, request.query, 'query');
    return sendHtml(reply, deadLettersView(await readDeadLetters(ctx, kafka, limit)));
  });

  app.get('/ui/activity', async (_request, reply) => {
    try {
      return sendHtml(reply, activityView(await measureConsoleLag(ctx, kafka), null));
    } catch (cause) {
      return sendHtml(reply, activityView(null, toError(cause).message));
    }
  });
}
