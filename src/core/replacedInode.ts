// The fate of a file the replica replaced (or removed) for a peer's change, once its grace
// period is over. A local process that opened the file before it was replaced holds the
// old inode: what it writes afterwards goes there, not to the new file at the path. The
// replica keeps that inode aside for a while (src/replica/placement.ts, parkReplaced) and
// then asks this: was it written after the placing? Then it is kept as a conflict copy
// (a local version that replicates); if not, nothing can be lost by removing it.

/** What is compared: the inode's stat right before the placing, and at the end of the grace period. */
export interface InodeStamp {
  size: number;
  mtimeMs: number;
  /** Absent where the file system has none (the simulation's); a write, a truncate, a chmod all move it. */
  ctimeMs?: number;
}

export type ReplacedFate = 'keep' | 'drop';

/**
 * 'keep' when `later` differs from `placed` in size, mtime or ctime: something was done to
 * the inode after it was replaced (a write moves mtime and ctime; a write that restores the
 * old mtime, as `touch -r` or an in-place rsync does, still moves ctime). A write within
 * the same timestamp tick as the stat, of the same size, cannot be told apart: that is the
 * limit (docs/daemon-internals.md).
 */
export function replacedInodeFate(placed: InodeStamp, later: InodeStamp): ReplacedFate {
  if (later.size !== placed.size || later.mtimeMs !== placed.mtimeMs) return 'keep';
  if (later.ctimeMs !== undefined && placed.ctimeMs !== undefined && later.ctimeMs !== placed.ctimeMs) return 'keep';
  // one stat with a ctime and the other without: not comparable, so kept (never dropped on a guess)
  if ((later.ctimeMs === undefined) !== (placed.ctimeMs === undefined)) return 'keep';
  return 'drop';
}
