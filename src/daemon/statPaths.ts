// lstat of some paths of a tree into Entries (no hash), for the watcher's batches and the
// freshness check before a remote write. Whole-tree walks go to the worker pool's scan.
// The same code (src/workers/fsTasks.ts, lstatMany) runs inline for a handful of paths and
// in an io worker, as one task per thousand paths, for more.
import { ioPool } from '../workers/pool.js';
import { lstatMany, type LstatResult } from '../workers/fsTasks.js';

/** An Entry, 'gone' (ENOENT/ENOTDIR), 'other' (a fifo, socket, device: not mirrored), or an error code. */
export type PathState = LstatResult;

/**
 * Up to this many paths are stat'ed synchronously, inline: a handful of lstats of inodes the
 * kernel has cached cost microseconds, while each trip to another thread costs two thread
 * wake-ups, which on a loaded machine are milliseconds each (measured: the tail of
 * bench:latency with 8 peers, where every small remote batch stats its paths three times).
 */
export const SYNC_STAT_MAX = 8;

/**
 * Up to this many paths that were just touched (`hot`: a watcher batch's paths, the files
 * this daemon has just placed) are stat'ed inline too: their dentries and inodes are in the
 * kernel's caches, so each lstat is a few microseconds (4,096: ~10 ms of the main thread),
 * where the io worker's trip clones every path there and every entry back and wakes two
 * threads. Measured in the burst of 10,000 files to 4 peers, against the same build with
 * the trips: 0-9 % less CPU per receiver (within the swing between runs at load 11-17).
 * Paths that may be cold (a received batch's freshness check, which can name files
 * untouched for months on a disk) still go to the io workers past SYNC_STAT_MAX, so the
 * main thread never waits for a disk.
 */
export const HOT_STAT_MAX = 4096;

/** Paths per io-worker task: large batches are spread over the pool's threads. */
const PATHS_PER_TASK = 1000;

/**
 * `paths` (relative to `root`; or absolute with root '') as they are now. More than a
 * handful (`hot`: HOT_STAT_MAX) go to the io workers in one trip per PATHS_PER_TASK:
 * through libuv they cost two thread wake-ups each (a burst of 10,000 files was ~0.3 ms of
 * CPU per file per node).
 */
export async function statPaths(root: string, paths: string[], opts: { hot?: boolean } = {}): Promise<PathState[]> {
  if (paths.length <= (opts.hot ? HOT_STAT_MAX : SYNC_STAT_MAX)) return lstatMany({ root, paths });
  const parts: Promise<PathState[]>[] = [];
  for (let i = 0; i < paths.length; i += PATHS_PER_TASK) {
    parts.push(ioPool().run({ root, paths: paths.slice(i, i + PATHS_PER_TASK) }, { name: 'lstatMany' }) as Promise<PathState[]>);
  }
  return (await Promise.all(parts)).flat();
}
