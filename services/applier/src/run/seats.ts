import type { Database } from '../database.ts';
import type { ApplierContext } from './context.ts';

/** Counts enabled directory users against applier.seatLimit (gauges; a warning when crossed). */
export function createSeatCheck(ctx: ApplierContext, db: Database): () => Promise<void> {
  let exceededBefore = false;
  return async () => {
    const limit = ctx.config.applier.seatLimit;
    if (limit === 0) return;
    const rows = await db.query<{ n: string }>('select count(*) as n from users where enabled and profile_id is not null');
    const used = Number(rows[0]?.n ?? 0);
    ctx.metrics.seatsUsed.set(used);
    const exceeded = used > limit;
    ctx.metrics.seatLimitExceeded.set(exceeded ? 1 : 0);
    if (exceeded && !exceededBefore) ctx.log.warn({ seatsUsed: used, seatLimit: limit }, 'seat limit exceeded');
    exceededBefore = exceeded;
  };
}
