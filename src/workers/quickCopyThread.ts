// The quick local sync's copy on a thread of its own (src/engine/quickCopy.ts runQuickCopy):
// a rerun with more changed files than the main thread may copy (pairScan.ts QUICK_COPY_FILES)
// is copied here, with the same task, so that no file's bytes pass through the main thread
// beyond that bound. A plain worker (no piscina, no command modules): it boots in 20-30 ms.
// It answers once, with the copy's result, and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { quickCopy, type QuickCopyJob } from './quickCopy.js';

parentPort!.postMessage(quickCopy(workerData as QuickCopyJob));
