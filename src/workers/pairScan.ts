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

/** The slot of walkUntaken's shared `differs`: whether every item's entries are to be kept. */
export const KEEP = 0;
export const DIFFERS_SLOTS = 1;

/** The most changed files the quick copy takes on the main thread (one copy batch, localTree.ts COPY_FILES_PER_TASK); more go on a thread (engine/quickCopy.ts). */
export const QUICK_COPY_FILES = 512;

/**
 * The most changed files the quick copy takes at all (on a thread: ~0.2 s of copying at
 * most); more is a transfer for the full command and its pool's threads. Between the two,
 * the quick way saves the full command's modules and its plan: a 200,000-file rerun with
 * 2,000 files rewritten spent ~0.4 s walking a quarter of both trees again and ~0.1 s
 * loading the command, against ~0.1 s for the copy itself.
 */
export const QUICK_THREAD_COPY_FILES = 4096;

/** Owner marks in the shared array: 0 untaken, then who took the item. */
export const MAIN_THREAD = 1;
export const PAIR_THREAD = 2;

/**
 * Take and walk every item still untaken; `me` marks the ones taken here. The main thread
 * goes from the first item on, the pair thread from the last one back (`fromEnd`): each
 * walks a run of neighbouring directories, and where they meet is wherever the two are
 * when the work runs out.
 *
 * `keep` tells `each` whether to keep the item's entries: those of an item that differs,
 * always (the full command plans only those items: quickLocal.ts, the restricted scans),
 * and of every item once `differs`' KEEP is set (shared; by whichever thread first finds
 * a source entry skipped: the full command then scans the source itself, and needs the
 * whole listing of the destination). Nothing else is kept, so a no-op's entries die young
 * (kept, every scavenge copied them: ~15 % of a 200,000-file no-op's CPU was the
 * collector), and so do the equal items' of a rerun; a check that needs whole listings
 * walks again the items it dropped (reassemble in quickLocal.ts).
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
    if (c.skipped.src.length > 0) Atomics.store(differs, KEEP, 1);
    each(k, c, !c.same || Atomics.load(differs, KEEP) === 1);
  }
}
