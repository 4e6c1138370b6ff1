// The quick local check's second thread (src/engine/quickLocal.ts, pairScan.ts): a plain
// worker thread (no piscina; this module's graph is small, so it boots in ~20-30 ms) that
// takes untaken items and walks them while the main thread does the same. It answers once
// it has no item left: whether everything it walked was equal, and the pairs it found
// changed. Then, asked, the entries it kept (those walked once a difference was known),
// packed in columns (the structured clone of an object per entry cost more than the walk)
// and moved, not copied (a no-op keeps none).
import { parentPort, workerData } from 'node:worker_threads';
import type { Entry } from '../core/entry.js';
import { columnBuffers, packEntries, type ScanColumns } from '../core/scanColumns.js';
import type { ScanSkip } from '../core/tree.js';
import { joinChanges, PAIR_THREAD, walkUntaken, type PairChanges, type PairItem, type PairRoots } from './pairScan.js';
import type { QuickCopyJob } from './quickCopy.js';

export interface PairDone {
  /** Every item walked here was equal on both sides, with nothing skipped. */
  same: boolean;
  /** The differing pairs of the items walked here, when each listed the same paths and kinds on both sides (pairScan.ts). */
  changes?: PairChanges;
  /** It kept entries: sent when asked ('entries'). */
  kept: boolean;
  /** How many entries it walked on each side (kept or not). */
  walked: { src: number; dst: number };
}

/** The entries of the items walked and kept here (walkUntaken's `keep`), in the order walked: each side's in one set of columns, and how many each item holds. */
export interface PairEntries {
  src: ScanColumns;
  dst: ScanColumns;
  counts: Array<{ k: number; src: number; dst: number }>;
  skipped: { src: ScanSkip[]; dst: ScanSkip[] };
}

const { roots, items, owner, differs } = workerData as { roots: PairRoots; items: PairItem[]; owner: Int32Array; differs: Int32Array };
const src: Entry[] = [];
const dst: Entry[] = [];
const counts: PairEntries['counts'] = [];
const skipped: PairEntries['skipped'] = { src: [], dst: [] };
let same = true;
const walked = { src: 0, dst: 0 };
const changes: Array<PairChanges | undefined> = [];
walkUntaken(roots, items, owner, PAIR_THREAD, differs, (k, c, keep) => {
  same &&= c.same;
  walked.src += c.src.length;
  walked.dst += c.dst.length;
  if (!c.same) changes.push(c.changes);
  if (!keep) return;
  for (const e of c.src) src.push(e);
  for (const e of c.dst) dst.push(e);
  for (const s of c.skipped.src) skipped.src.push(s);
  for (const s of c.skipped.dst) skipped.dst.push(s);
  counts.push({ k, src: c.src.length, dst: c.dst.length });
}, true);
const changed = joinChanges(changes);
parentPort!.postMessage({ same, kept: counts.length > 0, walked, ...(changed ? { changes: changed } : {}) } satisfies PairDone);
// Then, once, the main thread asks for one of two things. When the full command is to run,
// the entries it kept: packed only then, not for a no-op or a rerun the quick copy carries
// out. Or, for a quick copy of more files than the main thread may copy (../engine/quickCopy.ts),
// that copy (this thread is up already, where a fresh one would boot first).
parentPort!.once('message', (m: 'entries' | { copy: QuickCopyJob }) => {
  if (m === 'entries') {
    const entries: PairEntries = { src: packEntries(src), dst: packEntries(dst), counts, skipped };
    parentPort!.postMessage(entries, [...columnBuffers(entries.src), ...columnBuffers(entries.dst)]);
    return;
  }
  void import('./quickCopy.js').then(({ quickCopy }) => parentPort!.postMessage(quickCopy(m.copy)));
});
