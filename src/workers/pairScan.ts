// The quick local check's scan of two trees at once (src/engine/quickLocal.ts), shared out
// between the main thread and one plain thread (pairScanThread.ts). The work is cut at the
// top-level directories: item k is the directory named k below both roots, walked on each
// side that has it and compared there and then, so a thread that walked an item answers
// with one boolean, never the entries themselves (a no-op's whole answer). Both threads
// take the next untaken item from an array in shared memory (Atomics.compareExchange), so
// the main thread walks from the start while the other thread still boots (and then walks
// from the end), and neither idles while the other has work left: before, the main thread scanned the source while
// the thread scanned the destination, and the slower of the two (the thread: its boot, and
// packing its listing to send it) held up the whole run while the other waited.
//
// A walk of the root's listing, then of the entries below each top-level directory in name
// order, lists the same entries in the same order as one walk of the root (scanTask.ts
// sorts every directory and walks parents before children), so the pieces put back
// together are exactly the scans the full command would make.
import type { Entry } from '../core/entry.js';
import { changedPairs, matchesPacked } from '../core/packedEntries.js';
import type { ScanSkip } from '../core/tree.js';
import { RESUMABLE_MIN } from '../core/paths.js';
import { scan } from './scanTask.js';

/** The two roots, and how the walks name them to the kernel (ScanTask.fsRoot: relative to the working directory quickLocal.ts made the one both are in). */
export interface PairRoots {
  src: string;
  srcFs?: string;
  dst: string;
  dstFs?: string;
}

/** One top-level directory name, and on which sides it is a directory. */
export interface PairItem {
  name: string;
  inSrc: boolean;
  inDst: boolean;
}

/** What is below one item's directory on each side, and whether the two are equal by the full sync's quick check. */
export interface PairChunk {
  src: Entry[];
  dst: Entry[];
  skipped: { src: ScanSkip[]; dst: ScanSkip[] };
  same: boolean;
  /** The pairs that differ, when both sides list the same paths and kinds in order (engine/quickCopy.ts). */
  changes?: PairChanges;
}

/**
 * Where two listings of the same paths and kinds differ (core/packedEntries.ts changedPairs):
 * those pairs, and the source's directories they are in (below the top level), so that the
 * quick copy needs neither whole listing. Undefined where paths or kinds differ, or an entry
 * was skipped: only a whole plan can say what to do then.
 */
export interface PairChanges {
  pairs: Array<[Entry, Entry]>;
  dirs: Entry[];
}

/** changedPairs of one piece, with the source directories of the changed entries (PairChanges). */
function changesOf(src: Entry[], dst: Entry[]): PairChanges | undefined {
  const idx = changedPairs(src, dst);
  if (!idx) return undefined;
  const pairs = idx.map((i): [Entry, Entry] => [src[i]!, dst[i]!]);
  const parents = new Set(pairs.map(([e]) => e.path.slice(0, Math.max(0, e.path.lastIndexOf('/')))));
  return { pairs, dirs: pairs.length === 0 ? [] : src.filter((e) => e.kind === 'dir' && parents.has(e.path)) };
}

/** Several pieces' changes as one (undefined if any is). */
export function joinChanges(parts: Array<PairChanges | undefined>): PairChanges | undefined {
  const out: PairChanges = { pairs: [], dirs: [] };
  for (const p of parts) {
    if (!p) return undefined;
    for (const x of p.pairs) out.pairs.push(x);
    for (const d of p.dirs) out.dirs.push(d);
  }
  return out;
}

/** The items of two roots' listings: every top-level directory of either, in the order a walk takes them. */
export function pairItems(srcTop: Entry[], dstTop: Entry[]): PairItem[] {
  const inSrc = new Set(srcTop.filter((e) => e.kind === 'dir').map((e) => e.path));
  const inDst = new Set(dstTop.filter((e) => e.kind === 'dir').map((e) => e.path));
  // scanTask sorts each directory's names with the default sort: each side's own order is kept
  return [...new Set([...inSrc, ...inDst])].sort().map((name) => ({ name, inSrc: inSrc.has(name), inDst: inDst.has(name) }));
}

/** Walk what is below one item on both sides, and compare. */
export function walkPair(roots: PairRoots, item: PairItem): PairChunk {
  const side = (root: string, fsRoot: string | undefined, has: boolean): { entries: Entry[]; skipped: ScanSkip[] } =>
    has ? scan({ root, below: [item.name], ...(fsRoot !== undefined ? { fsRoot } : {}) }) : { entries: [], skipped: [] };
  const s = side(roots.src, roots.srcFs, item.inSrc);
  const d = side(roots.dst, roots.dstFs, item.inDst);
  const whole = item.inSrc && item.inDst && s.skipped.length === 0 && d.skipped.length === 0;
  const same = whole && matchesPacked(s.entries, d.entries);
  const changes = same ? { pairs: [], dirs: [] } : whole ? changesOf(s.entries, d.entries) : undefined;
  return { src: s.entries, dst: d.entries, skipped: { src: s.skipped, dst: d.skipped }, same, ...(changes ? { changes } : {}) };
}

/** The slots of walkUntaken's shared `differs`: whether to keep entries, and how many changed pairs were found. */
export const KEEP = 0;
const CHANGED_FILES = 1;
export const DIFFERS_SLOTS = 2;

/** The most changed files the quick copy takes on the main thread (one copy batch, localTree.ts COPY_FILES_PER_TASK); more go on a thread of their own (engine/quickCopy.ts). */
export const QUICK_COPY_FILES = 512;

/**
 * The most changed files the quick copy takes at all (on a thread: ~0.2 s of copying at
 * most); more is a transfer for the full command and its pool's threads. Between the two,
 * the quick way saves the full command's modules and the walk again of the pieces it did
 * not keep: a 200,000-file rerun with 2,000 files rewritten spent ~0.4 s walking a quarter
 * of both trees again and ~0.1 s loading the command, against ~0.1 s for the copy itself.
 */
export const QUICK_THREAD_COPY_FILES = 4096;

/**
 * Whether a piece's changes look like what the quick copy carries out (engine/quickCopy.ts
 * quickCopyJob has the last word): the same paths and kinds on both sides, every changed
 * pair a regular file on both sides below the resumable size, and with the other pieces'
 * no more than QUICK_THREAD_COPY_FILES in all (counted in `differs`). A guess only: where the quick
 * copy then declines, the items not kept are walked again.
 */
function quickCopyable(changes: PairChanges | undefined, differs: Int32Array): boolean {
  if (!changes) return false;
  for (const [s, d] of changes.pairs) if (s.kind !== 'file' || d.kind !== 'file' || s.size >= RESUMABLE_MIN) return false;
  return Atomics.add(differs, CHANGED_FILES, changes.pairs.length) + changes.pairs.length <= QUICK_THREAD_COPY_FILES;
}

/** Owner marks in the shared array: 0 untaken, then who took the item. */
export const MAIN_THREAD = 1;
export const PAIR_THREAD = 2;

/**
 * Take and walk every item still untaken; `me` marks the ones taken here. The main thread
 * goes from the first item on, the pair thread from the last one back (`fromEnd`): each
 * walks a run of neighbouring directories, and where they meet is wherever the two are
 * when the work runs out.
 *
 * `differs` (shared, two Int32s: KEEP, and CHANGED_FILES, how many changed pairs the walks
 * found so far) has KEEP set by whichever thread first finds a difference the quick copy
 * cannot carry out (quickCopyable); `keep` tells `each` whether to keep the item's entries:
 * only once such a difference is known, since only then can the full command need them.
 * Until then nothing walked is kept, so a no-op's entries die young (kept, every scavenge
 * copied them: ~15 % of a 200,000-file no-op's CPU was the collector), and so do a rerun's
 * whose changes are a few rewritten small files (the quick copy needs only the changed
 * pairs: keeping the rest was the collector's work for nothing); a check that does need
 * the full command walks again the items it dropped (reassemble in quickLocal.ts).
 */
export function walkUntaken(
  roots: PairRoots,
  items: PairItem[],
  owner: Int32Array,
  me: number,
  differs: Int32Array,
  each: (k: number, chunk: PairChunk, keep: boolean) => void,
  fromEnd = false,
): void {
  for (let i = 0; i < items.length; i++) {
    const k = fromEnd ? items.length - 1 - i : i;
    if (Atomics.compareExchange(owner, k, 0, me) !== 0) continue;
    const c = walkPair(roots, items[k]!);
    if (!c.same && !quickCopyable(c.changes, differs)) Atomics.store(differs, KEEP, 1);
    each(k, c, Atomics.load(differs, KEEP) === 1);
  }
}
