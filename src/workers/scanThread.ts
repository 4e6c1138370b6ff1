// A whole-tree scan in a plain worker thread (no piscina): the quick local sync
// (src/engine/quickLocal.ts) scans the destination here while the main thread scans the
// source. Started before the pools or any command module load, so it boots in ~20-30 ms
// (this module's small graph) instead of piscina's. Answers once, with the entries in
// columns (src/core/scanColumns.ts), and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { columnBuffers } from '../core/scanColumns.js';
import { scan, type ScanTaskResult } from './scanTask.js';

// in columns: the structured clone of an object per entry cost more than the scan's lstats
const r: ScanTaskResult = scan({ root: (workerData as { root: string }).root, columns: true });
parentPort!.postMessage(r, columnBuffers(r.columns!));
