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
import { matchesPacked } from '../core/packedEntries.js';
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
  const same = item.inSrc && item.inDst && s.skipped.length === 0 && d.skipped.length === 0 && matchesPacked(s.entries, d.entries);
  return { src: s.entries, dst: d.entries, skipped: { src: s.skipped, dst: d.skipped }, same };
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
 * `differs` (shared, one Int32) is set by whichever thread first finds a difference; `keep`
 * tells `each` whether to keep the item's entries: only once a difference is known. Until
 * then nothing walked is kept, so a no-op's entries die young (kept, every scavenge copied
 * them: ~15 % of a 200,000-file no-op's CPU was the collector); a check that does find a
 * difference walks again the few items it dropped (reassemble in quickLocal.ts), and a
 * difference found early (most re-runs: the changes are spread) drops almost nothing.
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
    if (!c.same) Atomics.store(differs, 0, 1);
    each(k, c, Atomics.load(differs, 0) === 1);
  }
}
