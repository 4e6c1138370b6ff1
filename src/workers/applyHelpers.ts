// The rebuild's helper threads (src/workers/deltaTasks.ts deltaApply, deltaCopyRange; the
// main thread's relay in src/engine/localDelta.ts): the shared-memory layout and the job,
// in a module of their own so that the main thread does not load the delta tasks for them.

/**
 * The rebuild's helpers (blake3-ranges streams): a hash range made only of copies from the
 * old file goes whole to an io thread (the main thread runs deltaCopyRange for it, FromApply
 * `job`) while the rebuild goes on with the next range; its BLAKE3 comes back through
 * `shared`: per slot an Int32 state (HELPER_*), then per slot 32 bytes of digest. The helper
 * writes through the rebuild's file descriptors, so the rebuild closes no descriptor of a
 * file while a range of it is out (deltaTasks.ts drain).
 */
export interface ApplyHelpers {
  shared: SharedArrayBuffer;
  slots: number;
}

export const HELPER_IDLE = 0;
export const HELPER_BUSY = 1;
export const HELPER_DONE = 2;
export const HELPER_FAILED = 3;

/** Bytes of an ApplyHelpers' shared memory for `slots` slots. */
export const helperBytes = (slots: number): number => slots * (4 + 32);

/** One range for a helper: the old file's [from, to) runs, in order, written from `at` on. */
export interface CopyRangeTask {
  basisFd: number;
  fd: number;
  at: number;
  segs: Array<[number, number]>;
}
