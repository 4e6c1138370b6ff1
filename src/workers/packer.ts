// Where a push's pack batches run: on the plain pack thread (packThread.ts) when one was
// started for this transfer and is free, else on the io pool. A sync from a local source to
// a far end starts the thread at the listings' first difference (startPackThread), instead
// of warming a piscina io thread with the tar tasks: half the boot's CPU (~40 against ~80
// ms, ~15 ms of it piscina's main module on the main thread), so a small re-run's one batch
// no longer waits for the thread after the plan. A second stream's batch, or one that
// comes while this thread packs, runs in the io pool as before. A pull whose local
// destination takes a small unpack (LocalTreeOptions.smallUnpackFiles) starts the same thread
// and unpacks there (runSmallUnpack), instead of in a piscina io thread: a 1 % pull's client
// then loads no piscina either: its directory changes (the parents' mtimes put back after
// the renames) run there too (runTreeOps).
import type { TransferListItem, Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { ioPool, onClosePools, workerExecArgv } from './pool.js';
import type { PackAnswer, PackRequestMessage } from './packThread.js';
import type { ExtractResult, ExtractTask, PackResult, PackTask } from './tarTasks.js';
import type { ApplyTask } from './fsTasks.js';
import type { OpResult } from '../core/tree.js';

/** An idle pack thread ends after this long (as the pools' threads do). */
const IDLE_MS = 5_000;

class PackThread {
  private readonly w: Worker;
  private waiting: { id: number; resolve: (r: PackResult | ExtractResult | OpResult[]) => void; reject: (e: Error) => void } | undefined;
  private nextId = 0;
  private idle: NodeJS.Timeout | undefined;
  /** Why the thread can take no more batches (it failed, exited or was closed). */
  ended: Error | undefined;
  /** Batches this thread packed (tests, diagnostics). */
  packed = 0;
  /** Streams this thread unpacked (tests, diagnostics). */
  unpacked = 0;
  /** Tree-change tasks this thread ran (tests, diagnostics). */
  applied = 0;
  /** Tests: the next request ends the thread just after it is posted (exitMidBatch). */
  private exitAtNext = false;
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
    return this.request((id) => ({ id, task }), transfer).then((r) => {
      this.packed++;
      return r as PackResult;
    });
  }

  unpack(task: ExtractTask, transfer: TransferListItem[]): Promise<ExtractResult> {
    return this.request((id) => ({ id, extract: task }), transfer).then((r) => {
      this.unpacked++;
      return r as ExtractResult;
    });
  }

  apply(task: ApplyTask): Promise<OpResult[]> {
    return this.request((id) => ({ id, apply: task }), []).then((r) => {
      this.applied++;
      return r as OpResult[];
    });
  }

  private request(message: (id: number) => PackRequestMessage, transfer: TransferListItem[]): Promise<PackResult | ExtractResult | OpResult[]> {
    clearTimeout(this.idle);
    this.w.ref();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting = { id, resolve, reject };
      this.w.postMessage(message(id), transfer);
      // (one field test per batch: the thread dies with the batch in its hands)
      if (this.exitAtNext) void this.w.terminate();
    });
  }

  /**
   * Tests: the thread dies in the middle of its next batch, as a crash would (terminated
   * just after the batch is posted, with no answer; not close(), which ends it politely).
   */
  exitMidBatch(): void {
    this.exitAtNext = true;
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
export function packThread(): { packed: number; unpacked: number; applied: number; exitMidBatch(): void } | undefined {
  return thread;
}

/** One pack batch: on the pack thread if it is up and free, else in the io pool. */
export function runPackBatch(task: PackTask, transfer: ArrayBuffer[]): Promise<PackResult> {
  const t = thread;
  if (t && !t.busy && !t.ended) return t.run(task, transfer);
  return ioPool().run(task, { name: 'packBatch', transferList: transfer }) as Promise<PackResult>;
}

/**
 * A small unpack (LocalTree.unpack) on the pack thread, if one was started for this transfer
 * and is free; undefined if not (the caller runs it in the pool). The task is the same
 * `extract` as the pool's: each file to a temporary name, verified against its hash, renamed.
 */
export function runSmallUnpack(task: ExtractTask, transfer: TransferListItem[]): Promise<ExtractResult> | undefined {
  const t = thread;
  if (t && !t.busy && !t.ended) return t.unpack(task, transfer);
  return undefined;
}

/** Tree changes (LocalTree.apply) on the pack thread, if one was started for this transfer and is free; undefined if not (the caller runs them in the pool). */
export function runTreeOps(task: ApplyTask): Promise<OpResult[]> | undefined {
  const t = thread;
  if (t && !t.busy && !t.ended) return t.apply(task);
  return undefined;
}
