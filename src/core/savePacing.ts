// When a tree's index is saved while changes keep coming (a burst).
//
// Why: a save encodes the WHOLE index on the tree's queue (saveIndex's snapshot, then the
// write off the queue), so its CPU grows with the index, not with the changes since the
// last save. Saved once a second through a burst of 10,000 received files, a daemon
// encoded the growing index 5-10 times: 0.1-0.25 s of each daemon's main thread, on a
// machine where every daemon CPU-second is wall time (docs/performance.md, "The burst
// ... this round"). Durability does not depend on the save: every applied record is in the
// apply journal (fsync'ed) before the disk changes, and the journal is replayed after a
// crash. So while changes keep arriving, the save waits until they pause, but never longer
// than a bound after the first unsaved change (the journal, and its replay after a crash,
// stay bounded).

/** The longest a save waits for a pause, from the first change it would save. */
export const SAVE_DEFER_MAX_MS = 10_000;

/**
 * A save's timer went off at `now` (it was set `delayMs` after the first unsaved change, at
 * `firstDirtyAt`; the latest change was at `lastDirtyAt`): 0 to save now, or how much
 * longer to wait. Changes are pausing once none came for half the delay; the wait never
 * goes past `firstDirtyAt + maxMs`.
 */
export function saveWait(now: number, firstDirtyAt: number, lastDirtyAt: number, delayMs: number, maxMs = SAVE_DEFER_MAX_MS): number {
  const deadline = firstDirtyAt + maxMs;
  if (now >= deadline) return 0;
  const quiet = delayMs / 2;
  const quietFor = now - lastDirtyAt;
  if (quietFor >= quiet) return 0;
  return Math.min(quiet - quietFor, deadline - now);
}
