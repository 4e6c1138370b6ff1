// lstat of a few paths of a tree into Entries (no hash), for the watcher's batches and the
// freshness check before a remote write. Whole-tree walks go to the worker pool's scan;
// these are the handful of paths one inotify read names, through libuv, a bounded number
// at a time.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
// entryFromStats: the scanner's own conversion, so a watcher batch and a scan agree on "unchanged"
import { entryFromStats, type Entry } from '../core/entry.js';

/** An Entry, 'gone' (ENOENT/ENOTDIR), 'other' (a fifo, socket, device: not mirrored), or an error code. */
export type PathState = Entry | 'gone' | 'other' | { error: string };

/**
 * Up to this many paths are stat'ed synchronously, inline: a handful of lstats of inodes the
 * kernel has cached cost microseconds, while each trip through the libuv threadpool costs two
 * thread wake-ups, which on a loaded machine are milliseconds each (measured: the tail of
 * bench:latency with 8 peers, where every small remote batch stats its paths three times).
 */
export const SYNC_STAT_MAX = 8;

function toState(path: string, st: Stats, target: () => string): PathState {
  if (st.isSymbolicLink()) return entryFromStats(path, st, target());
  if (st.isFile() || st.isDirectory()) return entryFromStats(path, st);
  return 'other';
}

function failed(err: unknown): PathState {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
  return { error: code ?? String(err) };
}

async function one(root: string, path: string): Promise<PathState> {
  const abs = `${root}/${path}`;
  try {
    const st = await lstat(abs);
    const target = st.isSymbolicLink() ? await readlink(abs, 'utf8') : '';
    return toState(path, st, () => target);
  } catch (err) {
    return failed(err);
  }
}

function oneSync(root: string, path: string): PathState {
  const abs = `${root}/${path}`;
  try {
    return toState(path, lstatSync(abs), () => readlinkSync(abs, 'utf8'));
  } catch (err) {
    return failed(err);
  }
}

export async function statPaths(root: string, paths: string[], concurrency = 64): Promise<PathState[]> {
  if (paths.length <= SYNC_STAT_MAX) return paths.map((p) => oneSync(root, p));
  const out: PathState[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await one(root, paths[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
  return out;
}
