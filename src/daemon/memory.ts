// Giving back the garbage of a one-off burst of work. A daemon that has just loaded the
// index of a big tree and scanned it (every file's entry made in a worker, cloned to the
// main thread, compared and dropped) is then idle, and V8 collects old garbage only under
// allocation pressure: measured with 100,000 files, 12 s after the scan the heap still held
// 84 MB (13 MB after one full collection) and the process 192 MB resident (128 MB after).
// Issue 12 counts resident bytes per indexed file, and an operator sees the same number.
// So after such a burst the daemon asks for one full collection: gc() is enabled at run
// time (v8 flag) rather than with --expose-gc, which the io workers' execArgv would refuse.
// And once more a few seconds later: the burst grew V8's young generation to its maximum
// (two 16 MiB semi-spaces, all resident), and V8 shrinks it back only at a collection that
// sees a low allocation rate over its last 5 s: the collection right after the burst does
// not (measured in a plain process: new space 32 MiB after it, 32 MiB after one 3 s later,
// 1 MiB after one 5 s or more later). At a million files that is ~31 bytes a file of RSS,
// at 100,000 files ~330.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Below this many records a burst leaves too little garbage to be worth a full collection. */
export const COLLECT_AFTER_RECORDS = 20_000;

let gc: (() => void) | null | undefined;

/** How long after a burst the second collection comes (V8 looks at the last 5 s). */
export const IDLE_COLLECT_MS = 6000;

let idleTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * One full collection now and one when the process has been idle for IDLE_COLLECT_MS
 * (later bursts move that one on; repeated a few times while the young generation stays
 * grown); false where the runtime refuses to expose gc.
 */
export function collectAfterBurst(): boolean {
  if (!collectGarbage()) return false;
  armIdleCollection(IDLE_TRIES);
  return true;
}

/** Idle collections at most this many times in a row while the young generation stays grown. */
const IDLE_TRIES = 5;
/** V8's young generation when it is not grown (two 1 MiB semi-spaces), with room to spare. */
const SMALL_NEW_SPACE = 4 * 2 ** 20;

/** Waiting for the next idle collection (nextIdleCollection). */
let idleWaiters: Array<() => void> = [];

/** Resolves after the next idle collection has run (for tests and figures: an event, not a poll). */
export function nextIdleCollection(): Promise<void> {
  return new Promise((resolve) => idleWaiters.push(resolve));
}

function armIdleCollection(tries: number): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    collectGarbage();
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
    // still grown: the process was not idle enough (an index save, a peer's batch); again later
    if (tries > 1 && newSpaceBytes() > SMALL_NEW_SPACE) armIdleCollection(tries - 1);
  }, IDLE_COLLECT_MS);
  idleTimer.unref();
}

/** The young generation's committed size. */
export function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** One full garbage collection now; false where the runtime refuses to expose it. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  if (!gc) return false;
  gc();
  return true;
}
