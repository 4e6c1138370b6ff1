// What omirr knows about one path in a tree. The same record is produced by the
// scanner, stored in the daemon's index, compared by the planner and sent on the wire.

export type EntryKind = 'file' | 'dir' | 'symlink';

export interface Entry {
  /** POSIX path relative to the tree root: no leading '/', no '.' or '..' segments, never ''. */
  path: string;
  kind: EntryKind;
  /** Bytes, for files; 0 for directories and symlinks. */
  size: number;
  /**
   * Modification time in whole milliseconds since the epoch (rounded from the ns stat).
   * 1 ms is omirr's mtime precision: utimes() cannot set nanoseconds exactly, so a finer
   * comparison would see every copied file as changed.
   */
  mtimeMs: number;
  /** Permission bits only (mode & 0o7777). */
  mode: number;
  /** Symlink target, verbatim (never followed). */
  target?: string;
  /** Local inode: used by the index to detect replaced files; meaningless on another host. */
  ino?: number;
  uid?: number;
  gid?: number;
  /** Hex sha256 of the content (files only), present only where it was computed. */
  hash?: string;
}

/** Round a stat mtime (ms with a fraction, or ns as bigint) to omirr's 1 ms precision. */
export function roundMtimeMs(mtime: number | bigint): number {
  return typeof mtime === 'bigint' ? Number((mtime + 500_000n) / 1_000_000n) : Math.round(mtime);
}

/** The lstat fields an Entry is made from (fs.Stats fits). */
export interface StatLike {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  size: number;
  mtimeMs: number;
  mode: number;
  ino: number;
  uid: number;
  gid: number;
}

/**
 * An Entry from lstat results: the one conversion the scanner (workers) and the daemon's
 * per-path checks share, so both agree on what "unchanged" means. Anything that is not a
 * directory or a symlink counts as a file: callers filter out fifos, sockets and devices.
 */
export function entryFromStats(path: string, st: StatLike, target?: string): Entry {
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  const e: Entry = {
    path,
    kind,
    size: kind === 'file' ? st.size : 0,
    mtimeMs: roundMtimeMs(st.mtimeMs),
    mode: st.mode & 0o7777,
    ino: st.ino,
    uid: st.uid,
    gid: st.gid,
  };
  if (target !== undefined) e.target = target;
  return e;
}
