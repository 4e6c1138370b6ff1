// A whole-tree scan in a plain worker thread (no piscina): the rest of a big tree's walk
// begun on the main thread, for `serve --stdio` (the far side of an ssh:// sync, as the
// listing: engine/localScan.ts prescanListing) and for a big local end of a sync with a
// remote one (prescanWhenTaken). The quick local sync has a thread of its own
// (pairScanThread.ts). Started before the pools or any
// command module load, so it boots in ~20-30 ms (this module's small graph) instead of
// piscina's. Answers once, with the entries in columns (src/core/scanColumns.ts) or as the
// binary listing's blocks (`listing`), and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { columnBuffers } from '../core/scanColumns.js';
import { scan, scanResult, type ScanTaskResult } from './scanTask.js';
import type { ListingResume } from '../core/listingEncode.js';

const { root, listing, top, below, stream, after } = workerData as { root: string; listing?: boolean; top?: ScanTaskResult; below?: string[]; stream?: boolean; after?: ListingResume };
const form = listing ? { listing: true } : { columns: true };
let r: ScanTaskResult;
if (listing && stream) {
  // the listing's blocks posted as the walk fills them (the peer compares meanwhile), the
  // root's entries (listed on the main thread) first; the result holds the last block
  const { ListingEncoder } = await import('../core/listingEncode.js');
  // (`after`: the main thread encoded the listing's start, this walk goes on from there)
  const encoder = new ListingEncoder(after);
  let streamed = 0;
  const post = (b: Buffer): void => {
    parentPort!.postMessage(b);
    streamed++;
  };
  for (const e of top?.entries ?? []) {
    const b = encoder.add(e);
    if (b) post(b);
  }
  const dirs = below ?? (top ? top.entries.filter((e) => e.kind === 'dir').map((e) => e.path) : undefined);
  const walked = scan({ root, listing: true, ...(dirs ? { below: dirs } : {}) }, { encoder, post });
  r = { ...walked, skipped: (top?.skipped ?? []).concat(walked.skipped), streamed, ...(top?.startedAt !== undefined ? { startedAt: top.startedAt } : {}) };
} else if (below) {
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
