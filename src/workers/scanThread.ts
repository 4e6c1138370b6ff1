// A whole-tree scan in a plain worker thread (no piscina): `serve --stdio` (the far side of
// an ssh:// sync) scans its tree here while the main thread loads the command's modules
// (engine/localScan.ts prescanListing), and a big local end of a sync with a remote one
// the rest of its walk (prescanWhenTaken). The quick local sync has a thread of its own
// (pairScanThread.ts). Started before the pools or any
// command module load, so it boots in ~20-30 ms (this module's small graph) instead of
// piscina's. Answers once, with the entries in columns (src/core/scanColumns.ts) or as the
// binary listing's blocks (`listing`), and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { columnBuffers } from '../core/scanColumns.js';
import { scan, scanResult, type ScanTaskResult } from './scanTask.js';

const { root, listing, top, below } = workerData as { root: string; listing?: boolean; top?: ScanTaskResult; below?: string[] };
const form = listing ? { listing: true } : { columns: true };
let r: ScanTaskResult;
if (below) {
  // the rest of a walk that stopped at its budget (localScan.ts prescanWhenTaken)
  r = scan({ root, below, ...form });
} else if (top) {
  // the root was listed on the main thread (its first readdir comes before any module
  // loads): what is below its directories is walked here, in the same order as one walk
  const below = scan({ root, below: top.entries.filter((e) => e.kind === 'dir').map((e) => e.path) });
  r = scanResult(top.entries.concat(below.entries), top.skipped.concat(below.skipped), form, top.startedAt);
} else {
  // in columns: the structured clone of an object per entry cost more than the scan's lstats
  r = scan({ root, ...form });
}
parentPort!.postMessage(r, r.listing ? r.listing.map((b) => b.buffer as ArrayBuffer) : columnBuffers(r.columns!));
