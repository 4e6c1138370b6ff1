// What omirr knows about one path in a tree. The same record is produced by the
// scanner, stored in the daemon's index, compared by the planner and sent on the wire.

export type EntryKind = 'file' | 'dir' | 'symlink';

/**
 * The kinds by number: how the index file, scan columns and the binary listing store a
 * kind (0 file, 1 dir, 2 symlink). One table, because those forms are read back by
 * other code (and other builds) than the one that wrote them.
 */
export const ENTRY_KINDS: readonly EntryKind[] = ['file', 'dir', 'symlink'];
/** A kind's number in ENTRY_KINDS (undefined for anything that is not a kind). */
export const KIND_NUMBER: Readonly<Record<string, number | undefined>> = { file: 0, dir: 1, symlink: 2 };

export interface Entry {
  /** POSIX path relative to the tree root: no leading '/', no '.' or '..' segments, never ''. */
  path: string;
  kind: EntryKind;
  /** Bytes, for files; 0 for directories and symlinks. */
  size: number;
  /**
   * Modification time in whole milliseconds since the epoch, rounded from the ns stat (the
   * value every omirr version compares and sends).
   */
  mtimeMs: number;
  /**
   * The rest of the mtime: nanoseconds to add to mtimeMs (-500,000..499,999), so the exact
   * time is mtimeMs * 1e6 + mtimeNs ns. Present where the stat had nanoseconds; absent (an
   * older peer, an index saved in format 1) means "unknown below the ms". Node's utimes sets
   * whole microseconds, so that is the precision times are set and compared at
   * (mtimeSeconds, sameMtime); the rounded mtimeMs alone could name the next second.
   */
  mtimeNs?: number;
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
  /**
   * How precisely the tree holds or shows mtimeMs, when coarser than the ms: 1000 for
   * SFTP's whole seconds, 60 000 for an FTP `hh:mm` listing. sameMtime compares at the
   * coarser precision of the two entries, so a time that tree cannot hold exactly does not
   * make every rerun set it again.
   */
  mtimePrecisionMs?: number;
}

/** Round a stat mtime (ms with a fraction, or ns as bigint) to omirr's 1 ms precision. */
export function roundMtimeMs(mtime: number | bigint): number {
  if (typeof mtime !== 'bigint') return Math.round(mtime);
  // floor division (BigInt division truncates towards zero: pre-1970 times)
  const q = mtime + 500_000n;
  const ms = q / 1_000_000n;
  return Number(q % 1_000_000n < 0n ? ms - 1n : ms);
}

/** The smallest and largest mtimeNs (the ns offset from the rounded ms). */
export const MTIME_NS_MIN = -500_000;
export const MTIME_NS_MAX = 499_999;

/** The mtime in whole microseconds since the epoch (floored: within the same second as the exact time). */
export function mtimeMicros(e: { mtimeMs: number; mtimeNs?: number }): number {
  return e.mtimeMs * 1000 + Math.floor((e.mtimeNs ?? 0) / 1000);
}

/**
 * Whether two entries have the same mtime at the precision it can be set (utimes: whole
 * microseconds); where either side's sub-ms part is unknown, at the ms; where either side
 * holds times more coarsely (mtimePrecisionMs), at that precision.
 */
export function sameMtime(a: { mtimeMs: number; mtimeNs?: number; mtimePrecisionMs?: number }, b: { mtimeMs: number; mtimeNs?: number; mtimePrecisionMs?: number }): boolean {
  const p = Math.max(a.mtimePrecisionMs ?? 1, b.mtimePrecisionMs ?? 1);
  if (p > 1) return Math.floor(a.mtimeMs / p) === Math.floor(b.mtimeMs / p);
  if (a.mtimeMs !== b.mtimeMs) return false;
  if (a.mtimeNs === undefined || b.mtimeNs === undefined) return true;
  return Math.floor(a.mtimeNs / 1000) === Math.floor(b.mtimeNs / 1000);
}

/** The whole second (since the epoch) the exact mtime falls in. */
export function mtimeSecond(e: { mtimeMs: number; mtimeNs?: number }): number {
  const us = mtimeMicros(e);
  return Number.isSafeInteger(us) ? Math.floor(us / 1e6) : Math.floor(e.mtimeMs / 1000);
}

/**
 * The mtime as the seconds (a float) to give utimes/futimes, so that exactly the entry's
 * microsecond is set and never another second. libuv truncates the float to whole
 * microseconds (towards zero); a double of ~1.7e9 s is exact to ~0.24 us, so the value is
 * aimed at the middle of the intended microsecond (half a microsecond away from zero) and
 * truncation lands on it. A Date (whole ms) or a rounded ms would lose the microseconds, and
 * rounding could carry .9996 s into the next second.
 */
export function mtimeSeconds(e: { mtimeMs: number; mtimeNs?: number }): number {
  const us = mtimeMicros(e);
  if (!Number.isSafeInteger(us)) return e.mtimeMs / 1000;
  const sec = Math.floor(us / 1e6);
  const within = us - sec * 1e6;
  const t = sec + within / 1e6;
  return t + (t < 0 ? -0.5e-6 : 0.5e-6);
}

/** Just the mtime fields of `e` (mtimeNs only where known), to spread into an op. */
export function mtimeOf(e: { mtimeMs: number; mtimeNs?: number }): { mtimeMs: number; mtimeNs?: number } {
  return e.mtimeNs === undefined ? { mtimeMs: e.mtimeMs } : { mtimeMs: e.mtimeMs, mtimeNs: e.mtimeNs };
}

/** `e`'s mtime on `to`: mtimeMs, and mtimeNs where `e` has one (removed where it does not). */
export function withMtime<T extends { mtimeMs?: number; mtimeNs?: number }>(to: T, e: { mtimeMs: number; mtimeNs?: number }): T {
  to.mtimeMs = e.mtimeMs;
  if (e.mtimeNs === undefined) delete to.mtimeNs;
  else to.mtimeNs = e.mtimeNs;
  return to;
}

/**
 * The lstat fields an Entry is made from: fs.Stats fits, and fs.BigIntStats (lstat with
 * `bigint: true`), whose mtimeNs keeps the nanoseconds a double of ms cannot.
 */
export interface StatLike {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  size: number | bigint;
  mtimeMs: number | bigint;
  mtimeNs?: bigint;
  mode: number | bigint;
  ino: number | bigint;
  uid: number | bigint;
  gid: number | bigint;
}

/**
 * An Entry from lstat results: the one conversion the scanner (workers) and the daemon's
 * per-path checks share, so both agree on what "unchanged" means. Anything that is not a
 * directory or a symlink counts as a file: callers filter out fifos, sockets and devices.
 */
export function entryFromStats(path: string, st: StatLike, target?: string): Entry {
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  const mtimeMs = roundMtimeMs(st.mtimeNs ?? st.mtimeMs);
  const e: Entry = {
    path,
    kind,
    size: kind === 'file' ? Number(st.size) : 0,
    mtimeMs,
    mode: Number(st.mode) & 0o7777,
    ino: Number(st.ino),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
  if (st.mtimeNs !== undefined) e.mtimeNs = Number(st.mtimeNs - BigInt(mtimeMs) * 1_000_000n);
  if (target !== undefined) e.target = target;
  return e;
}
