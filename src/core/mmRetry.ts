// When may a site:package run again (pure)? mm.pl's `ok_to_restart`, in its order:
// a lock held by a live pid wins over everything (even -t), then -t runs, then the retry
// timer: `min-restart-last-ok` hours after a success (status 0), `min-restart-last-notok`
// after a failure, counted from LAST_TRIED (the end of the last run, or the start of a run
// that died while locked). See docs/mm-input.md ("Retry timers and locks").
import type { StatusRecord } from './mmStatus.js';

export type RetryDecision =
  | { run: true }
  | { run: false; reason: 'locked'; pid: number }
  | { run: false; reason: 'timer'; secondsToGo: number };

export interface RetryHours {
  okHours: number;
  notokHours: number;
}

export interface RetryOptions {
  /** Now, in Unix epoch seconds. */
  now: number;
  /** -t: ignore the retry timers (never the locks). */
  ignoreTimers: boolean;
  /**
   * Is the process that took the lock still running? (The original used `kill 0, pid`.)
   * lockedSince is the record's LAST_TRIED, so a caller can reject a reused pid.
   */
  isAlive: (pid: number, lockedSince: number) => boolean;
}

export const SECONDS_PER_HOUR = 3600;

/** Seconds until the retry timer expires (0 when due). Locks are not considered. */
export function secondsUntilDue(rec: StatusRecord | undefined, job: RetryHours, now: number): number {
  // LAST_TRIED 0 (or no record) means never tried: due at once, whatever the hours.
  if (!rec || !rec.lastTried) return 0;
  const hours = rec.status === 0 ? job.okHours : job.notokHours;
  const toGo = rec.lastTried + hours * SECONDS_PER_HOUR - now;
  return toGo > 0 ? toGo : 0;
}

export function decideRun(rec: StatusRecord | undefined, job: RetryHours, opts: RetryOptions): RetryDecision {
  // A pid <= 0 cannot hold a lock: the original's `kill 0, 0` would have signalled its own
  // process group and called such a (hand-edited) lock alive forever.
  if (rec && rec.locked && rec.pid > 0 && opts.isAlive(rec.pid, rec.lastTried)) {
    return { run: false, reason: 'locked', pid: rec.pid };
  }
  if (opts.ignoreTimers) return { run: true };
  const secondsToGo = secondsUntilDue(rec, job, opts.now);
  return secondsToGo > 0 ? { run: false, reason: 'timer', secondsToGo } : { run: true };
}
