// A whole-tree scan in a plain worker thread (no piscina): the quick local sync
// (src/engine/quickLocal.ts) scans the destination here while the main thread scans the
// source, and `serve --stdio` (the far side of an ssh:// sync) scans its tree here while its
// main thread loads its modules (engine/localScan.ts prescanListing). Started before the
// pools or any command module load, so it boots in ~20-30 ms (this module's small graph)
// instead of piscina's. Answers once, with the entries in columns (src/core/scanColumns.ts)
// or as the binary listing's blocks (`listing`), and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { columnBuffers } from '../core/scanColumns.js';
import { scan, type ScanTaskResult } from './scanTask.js';

const { root, listing } = workerData as { root: string; listing?: boolean };
// in columns: the structured clone of an object per entry cost more than the scan's lstats
const r: ScanTaskResult = listing ? scan({ root, listing: true }) : scan({ root, columns: true });
parentPort!.postMessage(r, r.listing ? r.listing.map((b) => b.buffer as ArrayBuffer) : columnBuffers(r.columns!));
