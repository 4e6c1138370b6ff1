// lstat of a few paths of a tree into Entries (no hash), for the watcher's batches and the
// freshness check before a remote write. Whole-tree walks go to the worker pool's scan;
// these are the handful of paths one inotify read names, through libuv, a bounded number
// at a time.
import { lstat, readlink } from 'node:fs/promises';
// entryFromStats: the scanner's own conversion, so a watcher batch and a scan agree on "unchanged"
import { entryFromStats, type Entry } from '../core/entry.js';

/** An Entry, 'gone' (ENOENT/ENOTDIR), 'other' (a fifo, socket, device: not mirrored), or an error code. */
export type PathState = Entry | 'gone' | 'other' | { error: string };

async function one(root: string, path: string): Promise<PathState> {
  const abs = `${root}/${path}`;
  try {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) return entryFromStats(path, st, await readlink(abs, 'utf8'));
    if (st.isFile() || st.isDirectory()) return entryFromStats(path, st);
    return 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
    return { error: code ?? String(err) };
  }
}

export async function statPaths(root: string, paths: string[], concurrency = 64): Promise<PathState[]> {
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
