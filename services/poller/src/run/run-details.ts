import { eventIdFor, type RunDetailEvent, type RunDetailKind, type RunError, type WouldDisable } from '@dirstream/events';
import type { UserChange } from '../core/types.ts';
import type { EventSink } from '../delivery/sink.ts';

/**
 * Every entry error of a run and a halted run's report, produced in pages on
 * `<prefix>.run-details` (the sync-run summary keeps only the first errors). A full page is
 * produced while the run goes on, one page at a time, in order. Entry errors are recorded
 * synchronously deep inside the run, so a broker slower than the errors come lets full pages
 * queue (each a few tens of kB); the halt report waits for each page (back-pressure).
 */
export type RunDetailsSink = {
  /** Buffers the error; a full page is sent in the background (errors surface in `finish`). */
  entryError(error: RunError): void;
  /** Users a halted run held back, a page at a time; sent before it resolves. */
  wouldDisable(changes: readonly UserChange[]): Promise<void>;
};

export type RunDetails = RunDetailsSink & {
  /** Sends what is buffered and the last page of each kind used; call before the run's summary. */
  finish(): Promise<void>;
};

export const RUN_DETAIL_PAGE = 200;

export function createRunDetails(options: {
  readonly sink: EventSink;
  readonly profileId: string;
  readonly runId: string;
  readonly pageSize?: number;
  readonly now?: () => number;
}): RunDetails {
  const { sink, profileId, runId } = options;
  const pageSize = options.pageSize ?? RUN_DETAIL_PAGE;
  const now = options.now ?? Date.now;
  const pages: Record<RunDetailKind, number> = { 'entry-errors': 0, 'would-disable': 0 };
  let errors: RunError[] = [];
  let disables: WouldDisable[] = [];
  let reported = false;
  // Pages go out one after the other (their order is the run's order); a failure is kept and
  // thrown by the next call that waits, at the latest by finish().
  let sending: Promise<void> = Promise.resolve();
  let failure: unknown = null;

  const send = (kind: RunDetailKind, items: { entryErrors?: RunError[]; wouldDisable?: WouldDisable[] }, last: boolean) => {
    const page = pages[kind]++;
    const event: RunDetailEvent = {
      eventId: eventIdFor('run-detail', profileId, runId, kind, page),
      runId,
      profileId,
      kind,
      page,
      last,
      entryErrors: items.entryErrors ?? [],
      wouldDisable: items.wouldDisable ?? [],
      emittedAt: now(),
    };
    sending = sending
      .then(() => (failure === null ? sink.sendRunDetail(event) : undefined))
      .catch((cause: unknown) => {
        failure ??= cause;
      });
    return sending;
  };

  return {
    entryError(error) {
      errors.push(error);
      if (errors.length >= pageSize) {
        const full = errors;
        errors = [];
        void send('entry-errors', { entryErrors: full }, false);
      }
    },
    async wouldDisable(changes) {
      reported = true;
      for (const c of changes) {
        disables.push({ externalId: c.externalId, loginName: c.state.loginName, dn: c.state.dn, reason: c.state.disabledReason });
        if (disables.length >= pageSize) {
          const full = disables;
          disables = [];
          await send('would-disable', { wouldDisable: full }, false);
        }
      }
      if (failure !== null) throw failure;
    },
    async finish() {
      // A run with entry errors ends them with a `last` page (empty when the errors filled the
      // pages exactly), so a reader knows it has them all; the report only when the run halted.
      if (errors.length > 0 || pages['entry-errors'] > 0) void send('entry-errors', { entryErrors: errors }, true);
      if (reported) void send('would-disable', { wouldDisable: disables }, true);
      errors = [];
      disables = [];
      await sending;
      if (failure !== null) throw failure;
    },
  };
}
