import type { Database } from '@dirstream/applier';
import { RUN_STATUSES, SYNC_MODES } from '@dirstream/events';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../context.ts';
import { httpError } from '../http/errors.ts';
import { parseInput } from '../http/input.ts';
import { cursorSchema, decodeCursor, iso, limitSchema, type Page, toPage } from './paging.ts';

export type RunSummary = {
  readonly runId: string;
  readonly profileId: string;
  readonly profileName: string | null;
  readonly directoryType: string;
  readonly mode: string;
  readonly status: string;
  readonly reason: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly counts: Readonly<Record<string, number>>;
  readonly cursorBefore: string | null;
  readonly cursorAfter: string | null;
  /** Phase name → milliseconds, when the poller reported them. */
  readonly phases: Readonly<Record<string, number>> | null;
};

export type RunError = {
  readonly source: 'poller' | 'applier';
  readonly dn: string | null;
  readonly entity: string | null;
  readonly externalId: string | null;
  readonly code: string;
  readonly message: string;
};

export type RunChange = {
  readonly entity: string;
  readonly externalId: string;
  /** The object's login name or group name now. */
  readonly name: string | null;
  readonly relatedId: string | null;
  /** A membership row's group name now. */
  readonly relatedName: string | null;
  readonly op: string;
  readonly changed: readonly string[] | null;
  readonly detail: Readonly<Record<string, unknown>> | null;
  readonly loggedAt: string | null;
};

export const runFilterSchema = z
  .object({
    profile: z.uuid().optional(),
    status: z.enum(RUN_STATUSES).optional(),
    mode: z.enum(SYNC_MODES).optional(),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();
export type RunFilter = z.infer<typeof runFilterSchema>;

type Row = Record<string, unknown>;

function toRunSummary(row: Row, names: ReadonlyMap<string, string>): RunSummary {
  const startedAt = iso(row.started_at);
  const finishedAt = iso(row.finished_at);
  const phases = row.phases_ms ?? row.phases ?? (row.counts as Row | null)?.phases ?? null;
  return {
    runId: String(row.run_id),
    profileId: String(row.profile_id),
    profileName: names.get(String(row.profile_id)) ?? null,
    directoryType: String(row.directory_type),
    mode: String(row.mode),
    status: String(row.status),
    reason: (row.reason as string | null) ?? null,
    startedAt,
    finishedAt,
    durationMs: startedAt !== null && finishedAt !== null ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
    counts: Object.fromEntries(Object.entries((row.counts as Row | null) ?? {}).filter(([, v]) => typeof v === 'number')) as Record<
      string,
      number
    >,
    cursorBefore: (row.cursor_before as string | null) ?? null,
    cursorAfter: (row.cursor_after as string | null) ?? null,
    phases: typeof phases === 'object' && phases !== null ? (phases as Record<string, number>) : null,
  };
}

export function profileNames(ctx: ServeContext): Map<string, string> {
  return new Map(ctx.config.profiles.map((p) => [p.id, p.name]));
}

/**
 * Every column of a run as JSON (`to_jsonb`), so columns the poller's side adds later (phase
 * timings) reach the console without a change here.
 */
const RUN_COLUMNS = `s.run_id, s.started_at, to_jsonb(s) - 'errors' as row`;

export async function listRuns(ctx: ServeContext, filter: RunFilter): Promise<Page<RunSummary>> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.profile !== undefined) {
    params.push(filter.profile);
    where.push(`s.profile_id = $${params.length}::uuid`);
  }
  if (filter.status !== undefined) {
    params.push(filter.status);
    where.push(`s.status = $${params.length}`);
  }
  if (filter.mode !== undefined) {
    params.push(filter.mode);
    where.push(`s.mode = $${params.length}`);
  }
  const after = decodeCursor(filter.cursor, 2);
  if (after !== undefined) {
    params.push(after[0], after[1]);
    where.push(`(s.started_at, s.run_id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const rows = await ctx.db.query<{ run_id: string; started_at: Date; row: Row }>(
    `select ${RUN_COLUMNS} from sync_runs s ${where.length > 0 ? `where ${where.join(' and ')}` : ''}
     order by s.started_at desc, s.run_id desc limit $${params.length + 1}`,
    [...params, filter.limit + 1],
  );
  const names = profileNames(ctx);
  return toPage(
    rows,
    filter.limit,
    (r) => toRunSummary(r.row, names),
    (r) => [iso(r.started_at) ?? '', r.run_id],
  );
}

export async function readRun(ctx: ServeContext, runId: string): Promise<RunSummary | null> {
  const rows = await ctx.db.query<{ row: Row }>(`select ${RUN_COLUMNS} from sync_runs s where s.run_id = $1`, [runId]);
  const row = rows[0];
  return row === undefined ? null : toRunSummary(row.row, profileNames(ctx));
}

/** The last run of each profile. */
export async function lastRuns(ctx: ServeContext): Promise<Map<string, RunSummary>> {
  const rows = await ctx.db.query<{ row: Row }>(
    `select distinct on (s.profile_id) ${RUN_COLUMNS} from sync_runs s order by s.profile_id, s.started_at desc, s.run_id desc`,
  );
  const names = profileNames(ctx);
  return new Map(rows.map((r) => [String(r.row.profile_id), toRunSummary(r.row, names)]));
}

/** The last successful run's finish time of each profile. */
export async function lastSuccesses(db: Database): Promise<Map<string, string>> {
  const rows = await db.query<{ profile_id: string; at: Date }>(
    `select profile_id, max(finished_at) as at from sync_runs where status = 'succeeded' group by profile_id`,
  );
  return new Map(rows.map((r) => [String(r.profile_id), iso(r.at) ?? '']));
}

const offsetPageSchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), cursor: cursorSchema }).strict();

/**
 * Every error of a run: the entry errors the poller reported with the run (all of them, from
 * sync_run_errors), then what the applier logged for the run's objects (conflicts, duplicates).
 * Paged by offset.
 */
export async function readRunErrors(ctx: ServeContext, runId: string, limit: number, cursor?: string): Promise<Page<RunError>> {
  const offset = Number(decodeCursor(cursor, 1)?.[0] ?? 0);
  const rows = await ctx.db.query<{
    source: 'poller' | 'applier';
    dn: string | null;
    entity: string | null;
    external_id: string | null;
    code: string;
    message: string;
  }>(
    `select source, dn, entity, external_id, code, message from (
       select 'poller' as source, e.page::bigint * 1000000 + e.position as n, e.dn, null::text as entity,
              null::text as external_id, e.code, e.message
         from sync_run_errors e where e.run_id = $1
       union all
       -- A run whose error pages never arrived (or older records): the first errors its summary kept.
       select 'poller', e.ord, e.value->>'dn', null, null, coalesce(e.value->>'code', 'ERROR'), coalesce(e.value->>'message', '')
         from sync_runs s cross join lateral jsonb_array_elements(s.errors) with ordinality as e(value, ord)
        where s.run_id = $1 and not exists (select 1 from sync_run_errors x where x.run_id = s.run_id)
       union all
       select 'poller', l.id, null, l.entity, l.external_id, l.error_code, coalesce(l.error_message, '')
         from sync_log l where l.run_id = $1 and l.error_code is not null and l.entity = 'sync-run'
       union all
       select 'applier', l.id, null, l.entity, l.external_id, l.error_code, coalesce(l.error_message, '')
         from sync_log l where l.run_id = $1 and l.error_code is not null and l.entity <> 'sync-run'
     ) x order by source desc, n limit $2 offset $3`,
    [runId, limit + 1, offset],
  );
  const items = rows.slice(0, limit).map((r) => ({
    source: r.source,
    dn: r.dn,
    entity: r.entity,
    externalId: r.external_id,
    code: r.code,
    message: r.message,
  }));
  return { items, nextCursor: rows.length > limit ? Buffer.from(JSON.stringify([offset + limit])).toString('base64url') : null };
}

/** How many errors readRunErrors pages through. */
export async function countRunErrors(ctx: ServeContext, runId: string): Promise<number> {
  const rows = await ctx.db.query<{ n: string }>(
    `select (select count(*) from sync_run_errors where run_id = $1)
          + (select coalesce(sum(jsonb_array_length(s.errors)), 0) from sync_runs s
              where s.run_id = $1 and not exists (select 1 from sync_run_errors x where x.run_id = s.run_id))
          + (select count(*) from sync_log where run_id = $1 and error_code is not null) as n`,
    [runId],
  );
  return Number(rows[0]?.n ?? 0);
}

/** The objects a run changed (the sync log rows of the run), newest first. */
export async function readRunChanges(ctx: ServeContext, runId: string, limit: number, cursor?: string): Promise<Page<RunChange>> {
  const before = decodeCursor(cursor, 1);
  const rows = await ctx.db.query<Row & { id: string }>(
    `select l.id, l.entity, l.external_id, l.related_id, l.op, l.changed, l.detail, l.logged_at,
            coalesce(u.login_name, g.name) as name, rg.name as related_name
       from sync_log l
       left join users u on l.entity in ('user', 'membership') and u.profile_id = l.profile_id and u.external_id = l.external_id
       left join groups g on l.entity in ('group', 'membership') and g.profile_id = l.profile_id and g.external_id = l.external_id
       left join groups rg on l.entity = 'membership' and rg.profile_id = l.profile_id and rg.external_id = l.related_id
      where l.run_id = $1 and l.error_code is null ${before === undefined ? '' : 'and l.id < $2'}
      order by l.id desc limit ${before === undefined ? '$2' : '$3'}`,
    before === undefined ? [runId, limit + 1] : [runId, before[0], limit + 1],
  );
  return toPage(
    rows,
    limit,
    (r) => ({
      entity: String(r.entity),
      externalId: String(r.external_id),
      name: (r.name as string | null) ?? null,
      relatedId: r.related_id === '' || r.related_id === undefined ? null : (r.related_id as string),
      relatedName: (r.related_name as string | null) ?? null,
      op: String(r.op),
      changed: (r.changed as string[] | null) ?? null,
      detail: (r.detail as Record<string, unknown> | null) ?? null,
      loggedAt: iso(r.logged_at),
    }),
    (r) => [Number(r.id)],
  );
}

export type WouldDisable = {
  readonly externalId: string;
  readonly loginName: string | null;
  readonly dn: string | null;
  readonly reason: string | null;
};

/** A halted run's report: why, and every user it would have disabled (paged; `total` counts them). */
export type HaltReport = {
  readonly reason: string | null;
  readonly total: number;
  readonly wouldDisable: readonly WouldDisable[];
  readonly nextCursor: string | null;
};

export function registerRunRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v1/runs', async (request) => {
    const filter = parseInput(runFilterSchema, request.query, 'query');
    const page = await listRuns(ctx, filter);
    return { runs: page.items, nextCursor: page.nextCursor };
  });

  app.get('/v1/runs/:id', async (request) => {
    const { id } = parseInput(z.object({ id: z.string().min(1).max(200) }), request.params, 'params');
    const run = await readRun(ctx, id);
    if (run === null) throw httpError('HTTP_NOT_FOUND', `no run ${id}`);
    const [errors, errorCount, changes] = await Promise.all([
      readRunErrors(ctx, id, 100),
      countRunErrors(ctx, id),
      readRunChanges(ctx, id, 50),
    ]);
    return {
      run,
      errorCount,
      errors: errors.items,
      errorsNextCursor: errors.nextCursor,
      changes: changes.items,
      changesNextCursor: changes.nextCursor,
      haltReport: await readHaltReport(ctx, run),
    };
  });

  app.get('/v1/runs/:id/errors', async (request) => {
    const { id } = parseInput(z.object({ id: z.string().min(1).max(200) }), request.params, 'params');
    const { limit, cursor } = parseInput(offsetPageSchema, request.query, 'query');
    const page = await readRunErrors(ctx, id, limit, cursor);
    return { errors: page.items, nextCursor: page.nextCursor };
  });

  app.get('/v1/runs/:id/would-disable', async (request) => {
    const { id } = parseInput(z.object({ id: z.string().min(1).max(200) }), request.params, 'params');
    const { limit, cursor } = parseInput(z.object({ limit: limitSchema, cursor: cursorSchema }).strict(), request.query, 'query');
    const page = await readWouldDisable(ctx, id, limit, cursor);
    return { wouldDisable: page.items, nextCursor: page.nextCursor };
  });

  app.get('/v1/runs/:id/changes', async (request) => {
    const { id } = parseInput(z.object({ id: z.string().min(1).max(200) }), request.params, 'params');
    const { limit, cursor } = parseInput(z.object({ limit: limitSchema, cursor: cursorSchema }).strict(), request.query, 'query');
    const page = await readRunChanges(ctx, id, limit, cursor);
    return { changes: page.items, nextCursor: page.nextCursor };
  });
}

/** The users a halted run would have disabled, in the run's order, paged by (page, position). */
export async function readWouldDisable(ctx: ServeContext, runId: string, limit: number, cursor?: string): Promise<Page<WouldDisable>> {
  const after = decodeCursor(cursor, 2);
  const rows = await ctx.db.query<{
    page: number;
    position: number;
    external_id: string;
    login_name: string;
    dn: string;
    reason: string | null;
  }>(
    `select page, position, external_id, login_name, dn, reason from sync_run_would_disable
      where run_id = $1 ${after === undefined ? '' : 'and (page, position) > ($2, $3)'}
      order by page, position limit ${after === undefined ? '$2' : '$4'}`,
    after === undefined ? [runId, limit + 1] : [runId, after[0], after[1], limit + 1],
  );
  return toPage(
    rows,
    limit,
    (r) => ({ externalId: r.external_id, loginName: r.login_name, dn: r.dn, reason: r.reason }),
    (r) => [Number(r.page), Number(r.position)],
  );
}

/** A halted run's report: its reason and the users it would have disabled (null for other runs). */
export async function readHaltReport(ctx: ServeContext, run: RunSummary, limit = 200): Promise<HaltReport | null> {
  if (run.status !== 'halted') return null;
  const [page, count] = await Promise.all([
    readWouldDisable(ctx, run.runId, limit),
    ctx.db.query<{ n: string }>('select count(*) as n from sync_run_would_disable where run_id = $1', [run.runId]),
  ]);
  return { reason: run.reason, total: Number(count[0]?.n ?? 0), wouldDisable: page.items, nextCursor: page.nextCursor };
}
