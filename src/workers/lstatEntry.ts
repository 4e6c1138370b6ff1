// An lstat made straight into an Entry (issue 12, re-runs): a scan's cost per entry is
// mostly node's Stats object, not the system call. `lstatSync(p, { bigint: true })` (the
// mtime's nanoseconds need it) builds 18 BigInts and four Dates per entry (Node 20's dates
// are not lazy); fs's own binding fills one shared Float64Array with the same fields
// (seconds and nanoseconds apart, each exact as a double), from which the Entry is made
// with no garbage but itself. Measured on the small tree (20,200 entries, each walk in a
// fresh process, so the JIT is cold as in every real run): 53-59 ms of CPU against 91-93 ms.
//
// The binding is reached through `process.binding('fs')` (public, documented as deprecated,
// DEP0111): it is used only where it gives exactly what lstatSync gives. The first call of
// each thread checks both on the same path and keeps lstatSync for good on any
// difference, a binding that is missing or shaped differently (another Node), the
// permission model (which lstatSync checks and the binding does not), or node's pending
// deprecations (which would warn about process.binding).
import { lstatSync } from 'node:fs';
import { entryFromStats, type Entry } from '../core/entry.js';

/** What the binding's lstat fills: [dev, mode, nlink, uid, gid, rdev, blksize, ino, size, blocks, atime s, ns, mtime s, ns, ...]. */
type RawLstat = (path: string | Buffer, bigint: false, req: undefined, throwIfNoEntry: true) => Float64Array;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MODE = 1;
const UID = 3;
const GID = 4;
const INO = 7;
const SIZE = 8;
const MTIME_S = 12;
const MTIME_NS = 13;

/** undefined until the first call has checked the binding against lstatSync; null: not used. */
let raw: RawLstat | null | undefined;

/**
 * lstat `abs` (never following a symlink) into the Entry entryFromStats would make for
 * `path`, without its target (a symlink's is read by the caller); null for a kind omirr
 * does not mirror (fifo, socket, device). Throws as lstatSync does (ENOENT, EACCES...).
 */
export function lstatEntry(abs: string | Buffer, path: string): Entry | null {
  if (raw === undefined) {
    const checked = checkedBinding(abs);
    if (checked === 'again') return fromStats(abs, path);
    raw = checked;
  }
  return raw === null ? fromStats(abs, path) : fromRaw(raw(abs, false, undefined, true), path);
}

/**
 * lstatEntry, with undefined for a path where nothing is (ENOENT) instead of the exception:
 * the daemon's freshness checks stat every path of a received batch, twice, before the new
 * files are there (a burst of 10,000 files: 20,000 exceptions per receiver, a fifth of its
 * io thread's time in making their Errors). Anything else throws as lstatSync does.
 */
export function lstatEntryIfAny(abs: string | Buffer, path: string): Entry | null | undefined {
  if (raw === undefined || raw === null) {
    // no exception for the missing path, and the binding checked only on a path that exists:
    // a burst's freshness checks name new files only, so an io thread may see nothing but
    // missing paths for 20,000 checks, and each one used to try the check again (two
    // throwing lstats and the binding looked up: ~22 us a path, ~0.4 s per receiver)
    const st = lstatSync(abs, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (raw === undefined) {
      const checked = checkedBinding(abs);
      if (checked !== 'again') raw = checked;
    }
    return st.isFile() || st.isDirectory() || st.isSymbolicLink() ? entryFromStats(path, st) : null;
  }
  const a = (raw as unknown as (p: string | Buffer, b: false, r: undefined, t: false) => Float64Array | undefined)(abs, false, undefined, false);
  return a === undefined ? undefined : fromRaw(a, path);
}

/** What is at a path, as placing asks it (src/replica/placement.ts, PlaceFs.kind). */
export type LstatKind = 'file' | 'dir' | 'symlink' | 'other';

function kindOfMode(mode: number): LstatKind {
  const type = mode & S_IFMT;
  return type === S_IFREG ? 'file' : type === S_IFDIR ? 'dir' : type === S_IFLNK ? 'symlink' : 'other';
}

/**
 * What is at `abs` (lstat, never following a symlink), undefined when nothing is: the check
 * placing makes before every new file (a burst of 10,000 files makes 20,000 of them on each
 * receiver, on the main thread). Through the same checked binding as lstatEntry: no Stats
 * object with its four Dates and no exception for the usual missing path. Throws as
 * lstatSync does for anything but ENOENT (ENOTDIR, EACCES...).
 */
export function lstatKind(abs: string | Buffer): LstatKind | undefined {
  if (raw === undefined) {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    // the binding is checked on a path that exists (the first one seen)
    if (st !== undefined) {
      const checked = checkedBinding(abs);
      if (checked !== 'again') raw = checked;
    }
    return st === undefined ? undefined : kindOfMode(st.mode);
  }
  if (raw === null) {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    return st === undefined ? undefined : kindOfMode(st.mode);
  }
  const a = (raw as unknown as (p: string | Buffer, b: false, r: undefined, t: false) => Float64Array | undefined)(abs, false, undefined, false);
  return a === undefined ? undefined : kindOfMode(a[MODE]!);
}

function fromRaw(a: Float64Array, path: string): Entry | null {
  const type = a[MODE]! & S_IFMT;
  const kind = type === S_IFREG ? 'file' : type === S_IFDIR ? 'dir' : type === S_IFLNK ? 'symlink' : null;
  if (kind === null) return null;
  // entryFromStats's rounding, in doubles that hold it exactly: the whole seconds are whole
  // ms, so only the nanoseconds round (half up, as floor(ns + 0.5 ms) of the bigint form)
  const ns = a[MTIME_NS]!;
  const q = Math.floor((ns + 500_000) / 1_000_000);
  // the key order of entryFromStats (scanColumns packs entries of that order)
  return {
    path,
    kind,
    size: kind === 'file' ? a[SIZE]! : 0,
    mtimeMs: a[MTIME_S]! * 1000 + q,
    mode: a[MODE]! & 0o7777,
    ino: a[INO]!,
    uid: a[UID]!,
    gid: a[GID]!,
    mtimeNs: ns - q * 1_000_000,
  };
}

function fromStats(abs: string | Buffer, path: string): Entry | null {
  const st = lstatSync(abs, { bigint: true });
  if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) return null;
  return entryFromStats(path, st);
}

/**
 * The binding's lstat if it gives, for `abs`, the Entry lstatSync gives; null if not;
 * 'again' when `abs` cannot be stat'ed at all (vanished, unreadable: that says nothing about
 * the binding, and lstatSync throws the error to the caller as before).
 */
function checkedBinding(abs: string | Buffer): RawLstat | null | 'again' {
  let fn: RawLstat;
  try {
    if ((process as { permission?: unknown }).permission !== undefined || pendingDeprecation()) return null;
    const binding = (process as unknown as { binding?: (name: string) => { lstat?: unknown } }).binding?.('fs');
    if (typeof binding?.lstat !== 'function') return null;
    fn = (binding.lstat as RawLstat).bind(binding);
  } catch {
    return null;
  }
  let slow: Entry | null;
  try {
    slow = fromStats(abs, '');
  } catch {
    return 'again';
  }
  try {
    const a = fn(abs, false, undefined, true);
    if (!(a instanceof Float64Array) || a.length < 18) return null;
    return JSON.stringify(fromRaw(a, '')) === JSON.stringify(slow) ? fn : null;
  } catch {
    return null;
  }
}

/**
 * Whether node warns about deprecated APIs that are documented only (DEP0111 among them):
 * process.binding then prints a warning, or throws with --throw-deprecation. omirr stays
 * quiet and up: lstatSync.
 */
function pendingDeprecation(): boolean {
  const opt = '--pending-deprecation';
  return process.execArgv.includes(opt) || (process.env.NODE_OPTIONS ?? '').includes(opt) || process.env.NODE_PENDING_DEPRECATION === '1';
}

/** For tests: which way this thread stats ('binding' once checked, 'lstatSync' otherwise). */
export function lstatEntryWay(): 'binding' | 'lstatSync' | 'unchecked' {
  return raw === undefined ? 'unchecked' : raw === null ? 'lstatSync' : 'binding';
}
