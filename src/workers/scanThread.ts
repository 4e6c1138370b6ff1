// A whole-tree scan in a plain worker thread (no piscina): the quick local sync
// (src/engine/quickLocal.ts) scans the destination here while the main thread scans the
// source. Started before the pools or any command module load, so it boots in ~20-30 ms
// (this module's small graph) instead of piscina's. Answers once, with the entries in
// columns (src/core/packedEntries.ts), and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { packEntries, type PackedEntries } from '../core/packedEntries.js';
import type { ScanSkip } from '../core/tree.js';
import { scan } from './scanTask.js';

export interface ScanThreadResult {
  packed: PackedEntries;
  skipped: ScanSkip[];
}

const r = scan({ root: (workerData as { root: string }).root });
const packed = packEntries(r.entries);
parentPort!.postMessage({ packed, skipped: r.skipped } satisfies ScanThreadResult, [packed.num.buffer as ArrayBuffer]);
