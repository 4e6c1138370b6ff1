// A scan's entries in columns, to cross a thread boundary cheaply: one string of the paths
// and one Float64Array of the numbers (transferred, not copied), instead of a structured
// clone of one object per entry (for 20,000 entries the clone cost ~60 ms on each side of a
// postMessage, the columns a few ms). Symlink targets, which are few, travel as a list.
// Pure: the quick local sync (src/engine/quickLocal.ts) packs in a thread and unpacks here.
import { sameMtime, type Entry, type EntryKind } from './entry.js';

const KINDS: EntryKind[] = ['file', 'dir', 'symlink'];
const KIND_NO: Record<EntryKind, number> = { file: 0, dir: 1, symlink: 2 };
/** Numbers per entry: kind, size, mtimeMs, mtimeNs (NaN: absent), mode, ino, uid, gid (NaN: absent). */
const W = 8;

export interface PackedEntries {
  /** The paths joined by NUL (a path never holds one: src/core/paths.ts). */
  paths: string;
  num: Float64Array;
  /** [index, target] of every symlink. */
  targets: Array<[number, string]>;
}

const numOr = (x: number | undefined): number => (x === undefined ? NaN : x);

export function packEntries(entries: Entry[]): PackedEntries {
  const num = new Float64Array(entries.length * W);
  const targets: Array<[number, string]> = [];
  const paths: string[] = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const o = i * W;
    paths[i] = e.path;
    num[o] = KIND_NO[e.kind];
    num[o + 1] = e.size;
    num[o + 2] = e.mtimeMs;
    num[o + 3] = numOr(e.mtimeNs);
    num[o + 4] = e.mode;
    num[o + 5] = numOr(e.ino);
    num[o + 6] = numOr(e.uid);
    num[o + 7] = numOr(e.gid);
    if (e.target !== undefined) targets.push([i, e.target]);
  }
  return { paths: paths.join('\0'), num, targets };
}

/** The entries packEntries packed, field for field (a scan's fields only: no hash, no precision). */
export function unpackEntries(p: PackedEntries): Entry[] {
  const n = p.num.length / W;
  if (n === 0) return [];
  const paths = p.paths.split('\0');
  const out: Entry[] = new Array<Entry>(n);
  const num = p.num;
  for (let i = 0; i < n; i++) {
    const o = i * W;
    const e: Entry = { path: paths[i]!, kind: KINDS[num[o]!]!, size: num[o + 1]!, mtimeMs: num[o + 2]!, mode: num[o + 4]! };
    if (!Number.isNaN(num[o + 5]!)) e.ino = num[o + 5]!;
    if (!Number.isNaN(num[o + 6]!)) e.uid = num[o + 6]!;
    if (!Number.isNaN(num[o + 7]!)) e.gid = num[o + 7]!;
    if (!Number.isNaN(num[o + 3]!)) e.mtimeNs = num[o + 3]!;
    out[i] = e;
  }
  for (const [i, t] of p.targets) out[i]!.target = t;
  return out;
}

/** Scratch records for matchesPacked's mtime comparison (no allocation per entry). */
const A: { mtimeMs: number; mtimeNs?: number } = { mtimeMs: 0 };
const B: { mtimeMs: number; mtimeNs?: number } = { mtimeMs: 0 };

/**
 * Whether `dst` (packed) holds exactly the entries of `src`, in the same order, each one
 * equal by the full sync's quick check (core/plan.ts planSync with rsync's rules and no
 * filter): same path and kind; a file's size, mtime (sameMtime) and mode; a directory's
 * mode and mtime; a symlink's target. Owners are not compared (planSync does not either).
 * Two scans of trees with the same paths list them in the same order (a scan sorts every
 * directory), so true means planSync would plan nothing, with or without deletes. False
 * says only "not certain": the caller plans.
 */
export function matchesPacked(src: Entry[], dst: PackedEntries): boolean {
  const num = dst.num;
  if (num.length !== src.length * W) return false;
  if (src.length === 0) return true;
  const paths = dst.paths.split('\0');
  const targets = new Map(dst.targets);
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    const o = i * W;
    if (paths[i] !== s.path || KINDS[num[o]!] !== s.kind) return false;
    if (s.kind === 'symlink') {
      if (targets.get(i) !== s.target) return false;
      continue;
    }
    if (num[o + 4] !== s.mode || (s.kind === 'file' && num[o + 1] !== s.size)) return false;
    A.mtimeMs = s.mtimeMs;
    A.mtimeNs = s.mtimeNs;
    B.mtimeMs = num[o + 2]!;
    B.mtimeNs = Number.isNaN(num[o + 3]!) ? undefined : num[o + 3]!;
    if (!sameMtime(A, B)) return false;
  }
  return true;
}
