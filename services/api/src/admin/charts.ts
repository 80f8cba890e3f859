import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ServeContext } from '../context.ts';
import { parseInput } from '../http/input.ts';
import type { LagSample } from './lag.ts';
import { iso } from './paging.ts';

export type ChartData = {
  readonly from: string;
  readonly to: string;
  /** One point per run that started in the window. */
  readonly runs: readonly {
    readonly startedAt: number;
    readonly durationMs: number;
    readonly status: string;
    readonly profileId: string;
    readonly mode: string;
  }[];
  /** Sync log rows (objects created, changed, disabled, memberships, errors) per minute. */
  readonly appliedPerMinute: readonly { readonly minute: number; readonly count: number }[];
  /** Lag samples taken by this `dirstream serve` process since it started. */
  readonly lag: readonly LagSample[];
};

export const chartQuery = z.object({ hours: z.coerce.number().int().min(1).max(72).default(6) }).strict();

export async function readCharts(ctx: ServeContext, hours: number, lag: readonly LagSample[]): Promise<ChartData> {
  const to = new Date();
  const from = new Date(to.getTime() - hours * 3_600_000);
  const [runs, perMinute] = await Promise.all([
    ctx.db.query<{ started_at: Date; finished_at: Date; status: string; profile_id: string; mode: string }>(
      `select started_at, finished_at, status, profile_id, mode from sync_runs where started_at >= $1::timestamptz order by started_at limit 5000`,
      [from.toISOString()],
    ),
    ctx.db.query<{ minute: Date; n: string }>(
      `select date_trunc('minute', logged_at) as minute, count(*) as n from sync_log where logged_at >= $1::timestamptz group by 1 order by 1`,
      [from.toISOString()],
    ),
  ]);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    runs: runs.map((r) => {
      const startedAt = Date.parse(iso(r.started_at) ?? '');
      return {
        startedAt,
        durationMs: Date.parse(iso(r.finished_at) ?? '') - startedAt,
        status: r.status,
        profileId: String(r.profile_id),
        mode: r.mode,
      };
    }),
    appliedPerMinute: perMinute.map((r) => ({ minute: Date.parse(iso(r.minute) ?? ''), count: Number(r.n) })),
    lag: lag.filter((s) => s.at >= from.getTime()),
  };
}

export function registerChartRoutes(app: FastifyInstance, ctx: ServeContext, lagSamples: () => readonly LagSample[]): void {
  app.get('/v1/charts', async (request) => {
    const { hours } = parseInput(chartQuery, request.query, 'query');
    return readCharts(ctx, hours, lagSamples());
  });
}
