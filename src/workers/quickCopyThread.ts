// A plain thread for the quick local sync's copy (./quickCopy.ts), where the quick check
// walked both trees on the main thread alone and started no pair thread.
import { parentPort, workerData } from 'node:worker_threads';
import { quickCopy, type QuickCopyJob } from './quickCopy.js';

parentPort!.postMessage(quickCopy(workerData as QuickCopyJob));
