// The tar tasks of one transfer in a plain worker thread (no piscina): a push's pack batches,
// started at the listings' first difference when a local source sends to a far end, and a
// pull's small unpack and its directory changes, when a far source sends to a local
// destination (src/workers/packer.ts).
// A piscina io thread warmed with the tar tasks cost ~80 ms of CPU to boot (piscina's main
// module on the main thread ~15 ms, its worker side and the scan's module graph in the
// thread), and at load 5-9 a small re-run's transfer waited for it after the plan; this
// thread loads only the tar tasks (~40 ms). File bytes stay off the main event loop: the
// batches are read, hashed and framed here, and an unpack's files written, verified and
// renamed here, as in an io thread.
import { parentPort } from 'node:worker_threads';
import { extract, packBatch, type ExtractResult, type ExtractTask, type PackResult, type PackTask } from './tarTasks.js';
import { unwrapMoved } from './transfer.js';
import type { ApplyTask } from './fsTasks.js';
import type { OpResult } from '../core/tree.js';

/** A batch to pack, a stream to unpack through its port, or tree changes to make (`id` names its answer). */
export type PackRequestMessage = { id: number; task: PackTask } | { id: number; extract: ExtractTask } | { id: number; apply: ApplyTask };

/** The answer to one request: its result, or why it failed. `up` is posted once, when the tar tasks are loaded. */
export type PackAnswer = { up: true } | { id: number; result: PackResult | ExtractResult | OpResult[] } | { id: number; error: string };

const port = parentPort!;
const failed = (id: number, err: unknown): void => port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies PackAnswer);
port.on('message', (m: PackRequestMessage) => {
  if ('extract' in m) {
    // (the thread's event loop runs while the stream comes through the task's port)
    extract(m.extract).then((result) => port.postMessage({ id: m.id, result } satisfies PackAnswer), (err: unknown) => failed(m.id, err));
    return;
  }
  if ('apply' in m) {
    // (the fs tasks' modules are loaded by the first such request, not at boot: a push never needs them)
    import('./fsTasks.js').then((fs) => port.postMessage({ id: m.id, result: fs.apply(m.apply) } satisfies PackAnswer), (err: unknown) => failed(m.id, err));
    return;
  }
  let moved;
  try {
    moved = unwrapMoved(packBatch(m.task));
  } catch (err) {
    failed(m.id, err);
    return;
  }
  port.postMessage({ id: m.id, result: moved.value } satisfies PackAnswer, moved.transfer);
});
port.postMessage({ up: true } satisfies PackAnswer);
