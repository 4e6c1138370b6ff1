// The pack of a push in a plain worker thread (no piscina): a sync whose local source sends
// to a far end (omirr://, ssh://) starts it at the listings' first difference
// (src/workers/packer.ts). A piscina io thread warmed with the tar tasks cost ~80 ms of CPU
// to boot (piscina's main module on the main thread ~15 ms, its worker side and the scan's
// module graph in the thread), and at load 5-9 a small re-run's transfer waited for it
// after the plan; this thread loads only the tar tasks (~40 ms). File bytes stay off the
// main event loop: the batches are read, hashed and framed here, as in an io thread.
import { parentPort } from 'node:worker_threads';
import { packBatch, type PackTask } from './tarTasks.js';
import { unwrapMoved } from './transfer.js';

/** A batch to pack (`id` names its answer). */
export interface PackRequestMessage {
  id: number;
  task: PackTask;
}

/** The answer to one request: the batch, or why it failed. `up` is posted once, when the tar tasks are loaded. */
export type PackAnswer = { up: true } | { id: number; result: import('./tarTasks.js').PackResult } | { id: number; error: string };

const port = parentPort!;
port.on('message', (m: PackRequestMessage) => {
  let moved;
  try {
    moved = unwrapMoved(packBatch(m.task));
  } catch (err) {
    port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies PackAnswer);
    return;
  }
  port.postMessage({ id: m.id, result: moved.value } satisfies PackAnswer, moved.transfer);
});
port.postMessage({ up: true } satisfies PackAnswer);
