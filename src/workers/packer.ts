// Where a push's pack batches run: on the plain pack thread (packThread.ts) when one was
// started for this transfer and is free, else on the io pool. A sync from a local source to
// a far end starts the thread at the listings' first difference (startPackThread), instead
// of warming a piscina io thread with the tar tasks: half the boot's CPU (~40 against ~80
// ms, ~15 ms of it piscina's main module on the main thread), so a small re-run's one batch
// no longer waits for the thread after the plan. A second stream's batch, or one that
// comes while this thread packs, runs in the io pool as before.
import type { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { ioPool, onClosePools, workerExecArgv } from './pool.js';
import type { PackAnswer, PackRequestMessage } from './packThread.js';
import type { PackResult, PackTask } from './tarTasks.js';

/** An idle pack thread ends after this long (as the pools' threads do). */
const IDLE_MS = 5_000;

class PackThread {
  private readonly w: Worker;
  private waiting: { id: number; resolve: (r: PackResult) => void; reject: (e: Error) => void } | undefined;
  private nextId = 0;
  private idle: NodeJS.Timeout | undefined;
  /** Why the thread can take no more batches (it failed, exited or was closed). */
  ended: Error | undefined;
  /** Batches this thread packed (tests, diagnostics). */
  packed = 0;
  /** Resolves when the thread has loaded the tar tasks (OMIRR_TIMING's `pack thread up`). */
  readonly up: Promise<void>;
  private isUp: () => void = () => {};

  constructor() {
    this.up = new Promise((resolve) => (this.isUp = resolve));
    const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    // (the process's node flags that a thread accepts: pool.ts)
    this.w = new Worker(new URL('./packThread.js', import.meta.url), { execArgv: workerExecArgv() });
    this.w.on('message', (m: PackAnswer) => this.answer(m));
    this.w.on('error', (err) => this.end(err));
    this.w.on('exit', (code) => this.end(new Error(`the pack thread exited (code ${code})`)));
    this.rest();
  }

  get busy(): boolean {
    return this.waiting !== undefined;
  }

  run(task: PackTask, transfer: ArrayBuffer[]): Promise<PackResult> {
    clearTimeout(this.idle);
    this.w.ref();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting = { id, resolve, reject };
      this.w.postMessage({ id, task } satisfies PackRequestMessage, transfer);
    });
  }

  async close(): Promise<void> {
    this.end(new Error('the pack thread was closed'));
    await this.w.terminate();
  }

  private answer(m: PackAnswer): void {
    if ('up' in m) return this.isUp();
    const w = this.waiting;
    if (!w || m.id !== w.id) return;
    this.waiting = undefined;
    this.rest();
    if ('error' in m) return w.reject(new Error(m.error));
    this.packed++;
    w.resolve(m.result);
  }

  /** Idle: the process need not wait for the thread, which ends after IDLE_MS. */
  private rest(): void {
    this.w.unref();
    this.idle = setTimeout(() => void this.close(), IDLE_MS).unref();
  }

  private end(err: Error): void {
    clearTimeout(this.idle);
    this.ended ??= err;
    if (thread === this) thread = undefined;
    const w = this.waiting;
    this.waiting = undefined;
    // never silent: the batch in flight fails, and the stream with it
    w?.reject(err);
  }
}

let thread: PackThread | undefined;
let hooked = false;

/**
 * Start the pack thread now (if none is up), so that it boots while the plan is made.
 * Resolves when it has loaded the tar tasks (never, if it could not start or ended first).
 */
export function startPackThread(): Promise<void> | undefined {
  if (!hooked) {
    onClosePools(() => thread?.close());
    hooked = true;
  }
  try {
    thread ??= new PackThread();
  } catch {
    // (no thread: the batches run in the io pool, as before; a failure of the pool's own is loud there)
  }
  return thread?.up;
}

/** The pack thread, if one is up (tests, diagnostics). */
export function packThread(): { packed: number } | undefined {
  return thread;
}

/** One pack batch: on the pack thread if it is up and free, else in the io pool. */
export function runPackBatch(task: PackTask, transfer: ArrayBuffer[]): Promise<PackResult> {
  const t = thread;
  if (t && !t.busy && !t.ended) return t.run(task, transfer);
  return ioPool().run(task, { name: 'packBatch', transferList: transfer }) as Promise<PackResult>;
}
