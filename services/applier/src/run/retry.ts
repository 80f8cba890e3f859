import { classifyFailure, createError, failureCode, retry, toError } from '@dirstream/errors';
import type { ApplierContext } from './context.ts';
import type { DeadLetter } from './dead-letter.ts';
import type { Item } from './decode.ts';

export type PartitionCalls = {
  readonly topic: string;
  readonly partition: number;
  readonly heartbeat: () => Promise<void>;
  readonly isRunning: () => boolean;
};

/**
 * Applies the items in one transaction. An outage (anything classifyFailure does not call the
 * data's fault, fatal ones included: good data is never dead-lettered) is retried with backoff for
 * as long as it lasts. A data error is retried applyRetries times, then the batch is split record
 * by record so only the guilty record is dead-lettered.
 */
export function createApplyWithRetries(
  ctx: ApplierContext,
  apply: (items: readonly Item[]) => Promise<unknown>,
  deadLetter: DeadLetter,
): (on: PartitionCalls, items: readonly Item[]) => Promise<void> {
  const { log, metrics } = ctx;
  const safeHeartbeat = async (heartbeat: () => Promise<void>) => {
    try {
      await heartbeat();
    } catch (err) {
      log.debug({ err: toError(err) }, 'heartbeat failed during retry');
    }
  };

  const applyWithRetries = async (on: PartitionCalls, items: readonly Item[]): Promise<void> => {
    const { topic, partition } = on;
    let dataFailures = 0;
    const dataExhausted = () => dataFailures > ctx.config.applier.applyRetries;
    try {
      await retry(() => apply(items), {
        signal: ctx.stopping,
        maxMs: 5_000,
        shouldRetry: (err) => {
          if (classifyFailure(err) === 'data') {
            dataFailures++;
            metrics.retries.inc({ kind: 'data' });
          } else {
            ctx.health.databaseHealthy = false;
            metrics.retries.inc({ kind: 'outage' });
          }
          return !dataExhausted() && on.isRunning();
        },
        onRetry: (err, attempt) => {
          if (classifyFailure(err) === 'data') log.warn({ err, topic, partition, attempt: dataFailures }, 'apply failed on data; retrying');
          else log.warn({ err, code: failureCode(err), topic, partition, attempt }, 'apply failed (outage); retrying');
        },
        // Heartbeat through the wait, so a long outage does not cost the assignment.
        whileWaiting: { everyMs: 1_000, call: () => safeHeartbeat(on.heartbeat) },
      });
    } catch (caught) {
      const err = toError(caught);
      if (!(classifyFailure(err) === 'data' && dataExhausted())) {
        throw createError('APPLIER_STOPPING', 'stopping while the apply was failing', { retriable: true, cause: err });
      }
      const [only] = items;
      if (items.length === 1 && only !== undefined) {
        await deadLetter(topic, partition, only.message, failureCode(err), err.message, dataFailures);
        return;
      }
      log.warn({ err, topic, partition, records: items.length }, 'batch keeps failing; applying record by record');
      for (const item of items) await applyWithRetries(on, [item]);
    }
  };
  return applyWithRetries;
}
