/**
 * A measured poller pass in a child process, shared by bench/poller.ts and bench/ad.ts (its own
 * module so that the other benches' children do not load the poller).
 */
import type { DirstreamConfig } from '@dirstream/config';
import type { Logger } from '@dirstream/logging';
import { runPoller } from '@dirstream/poller';
import { runBenchChild } from './child.ts';

/** One poller pass as a poller bench's child reports it. */
export type PollerPassResult = {
  readonly ok: boolean;
  readonly reason?: string;
  readonly seconds: number;
  /** CPU time of the poller process during the pass (user + system): less sensitive to a loaded machine than `seconds`. */
  readonly cpuSeconds: number;
  readonly maxRssKiB: number;
  /** Events the pass emitted (all kinds). */
  readonly events: number;
  readonly entries: number;
  readonly mode: string;
};

/**
 * The V8 flags the poller runs with where it is deployed (deploy/kubernetes/poller.yaml,
 * infra/compose.yaml): the benches start their poller processes the same way.
 */
export const POLLER_NODE_OPTIONS = '--max-semi-space-size=4';

/** NODE_OPTIONS for a poller child: the caller's, plus {@link POLLER_NODE_OPTIONS}. */
export function pollerNodeOptions(): string {
  return `${process.env.NODE_OPTIONS ?? ''} ${POLLER_NODE_OPTIONS}`.trim();
}

/** Runs one poller pass of `config` (full or delta) in a child of `script`, which calls {@link pollerPassChild}. */
export function runPollerPass(script: string, config: DirstreamConfig, full: boolean): Promise<PollerPassResult> {
  return runBenchChild(script, { BENCH_CONFIG: JSON.stringify(config), BENCH_FULL: full ? '1' : '0', NODE_OPTIONS: pollerNodeOptions() });
}

/** The child side of {@link runPollerPass}: one pass of BENCH_CONFIG, its result printed as the last line. */
export async function pollerPassChild(logger: Logger): Promise<void> {
  const config = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as DirstreamConfig;
  let events = 0;
  let entries = 0;
  let mode = '';
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const outcome = await runPoller(
    { config, logger, signal: new AbortController().signal },
    { once: true, full: process.env.BENCH_FULL === '1', allowMassDisable: true },
    {
      onRun: (r) => {
        const c = r.summary.counts;
        events =
          c.created +
          c.updated +
          c.renamed +
          c.moved +
          c.disabled +
          c.enabled +
          c.groupsCreated +
          c.groupsUpdated +
          c.groupsRemoved +
          c.membershipsAdded +
          c.membershipsRemoved;
        entries = c.entriesRead;
        mode = r.mode;
      },
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ ...outcome, seconds, cpuSeconds, maxRssKiB: process.resourceUsage().maxRSS, events, entries, mode })}\n`,
  );
}
