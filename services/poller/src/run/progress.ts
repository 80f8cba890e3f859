import type { Logger } from '@dirstream/logging';

/**
 * Progress of a long pass: a log line with the count and rate every `intervalMs`, and a one-line
 * bar on stderr when it is a terminal (never in logs, never when piped).
 */
export function createProgress(logger: Logger, options: { intervalMs: number; tty: boolean; label: string; now?: () => number }) {
  const now = options.now ?? Date.now;
  const started = now();
  let last = started;
  let count = 0;
  let lastCount = 0;
  return {
    add(n: number, phase: string): void {
      count += n;
      const t = now();
      if (options.tty) {
        const rate = count / Math.max(0.001, (t - started) / 1000);
        process.stderr.write(`\r${options.label} ${phase}: ${count} entries (${Math.round(rate)}/s)   `);
      }
      if (t - last >= options.intervalMs) {
        const rate = ((count - lastCount) * 1000) / Math.max(1, t - last);
        logger.info({ phase, entries: count, ratePerSecond: Math.round(rate) }, 'sync progress');
        last = t;
        lastCount = count;
      }
    },
    done(): void {
      if (options.tty) process.stderr.write('\n');
    },
    get count(): number {
      return count;
    },
  };
}
