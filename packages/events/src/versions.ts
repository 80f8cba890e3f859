/**
 * Entity versions. The applier ignores an event whose version is at or below the stored one, so
 * a version must keep growing even when the poller lost its state (restored from an old backup,
 * or wiped). Seeding from the clock in microseconds does that: after any state loss the next
 * version is at least "now", which is above everything emitted before (clocks permitting), and
 * up to 1000 changes per millisecond still get distinct versions. 2^53 µs is year 2255.
 */
import { DirstreamError } from '@dirstream/errors';

function invalid(message: string): DirstreamError {
  return new DirstreamError('EVENT_VERSION_INVALID', message, { retriable: false });
}

/** max(previous + 1, nowMs * 1000); previous null (never emitted) gives nowMs * 1000. */
export function nextVersion(previous: number | null, nowMs: number): number {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw invalid(`nowMs must be a non-negative integer, got ${nowMs}`);
  }
  const fromClock = nowMs * 1000;
  if (previous === null) {
    if (!Number.isSafeInteger(fromClock)) throw invalid(`nowMs ${nowMs} is too large`);
    return fromClock;
  }
  if (!Number.isSafeInteger(previous) || previous < 0) {
    throw invalid(`previous version must be a non-negative integer or null, got ${previous}`);
  }
  const next = Math.max(previous + 1, fromClock);
  if (!Number.isSafeInteger(next)) throw invalid(`version overflow after ${previous}`);
  return next;
}

/** The wall-clock millisecond a clock-seeded version was taken at (for logs and debugging). */
export function versionTimeMs(version: number): number {
  return Math.floor(version / 1000);
}
