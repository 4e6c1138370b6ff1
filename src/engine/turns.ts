// Long synchronous work in slices. The daemon's main thread also answers `omirr status`,
// peers and the watcher: a first start on a million new files (every record made, journalled,
// stored) done in one stretch left 12 status requests unanswered for 10 s (issue 12). Work
// over many items goes in slices with a turn of the event loop between them.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Items per slice: a few milliseconds of work each for the per-record steps of the daemon. */
export const SLICE = 5_000;

/** Lets the event loop run once (timers, sockets, I/O callbacks). */
export function yieldTurn(): Promise<void> {
  return nextTurn();
}

/** `fn` over `items` in order, a turn of the event loop after every `slice` of them. */
export async function forEachSliced<T>(items: readonly T[], fn: (item: T, i: number) => void, slice = SLICE): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % slice === 0) await yieldTurn();
    fn(items[i]!, i);
  }
}

/** `items.map(fn)`, a turn of the event loop after every `slice` of them. */
export async function mapSliced<T, U>(items: readonly T[], fn: (item: T, i: number) => U, slice = SLICE): Promise<U[]> {
  const out = new Array<U>(items.length);
  await forEachSliced(items, (x, i) => (out[i] = fn(x, i)), slice);
  return out;
}
