// The shared piscina pools. Two, because their tasks behave differently:
// - `io`: short, CPU- or syscall-bound batches (scan, hash, pack a batch, apply ops).
//   Default atomics: an idle worker blocks on Atomics.wait, which is fine since it owns
//   nothing asynchronous.
// - `extract`: one long task per incoming tar stream, fed chunk by chunk through a
//   MessagePort. A worker that waits on a port needs `atomics: 'async'` (with the default
//   'sync' it never sees the port's messages). Separate threads also mean a local->local
//   copy packs and extracts in parallel, and a pack batch never queues behind an extract.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Piscina } from 'piscina';

/**
 * piscina itself, loaded when the first pool is made: a run whose scans took plain threads
 * (a no-op sync against a remote end, `serve --stdio`) makes no pool, and its ~20 modules
 * were part of each such run's start-up.
 */
const piscina = (): typeof Piscina => createRequire(import.meta.url)('piscina') as typeof Piscina;

const filename = fileURLToPath(new URL('./tasks.js', import.meta.url));

/** Threads per pool: the cores we have, at least 2 (so two streams overlap), at most 4. */
export function poolThreads(): number {
  const env = Number(process.env.OMIRR_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(2, Math.min(4, availableParallelism()));
}

/**
 * The workers' node flags: the process's own, and require(esm) off. Piscina loads the task
 * module with require() first, which on Node 20.19+ is require(esm); that path raced with
 * an `--import` preload once in a few hundred worker starts here ("FATAL ERROR:
 * v8::Module::IsGraphAsync must be used on an instantiated module", a Node loader bug). With
 * it off, require() fails at once and piscina uses import(), the ordinary ESM path.
 */
export function workerExecArgv(): string[] {
  const flag = '--no-experimental-require-module';
  const own = threadFlags(process.execArgv);
  return process.allowedNodeEnvironmentFlags.has(flag) && !own.includes(flag) ? [...own, flag] : own;
}

/**
 * The process's flags that a thread may be given: the others (heap sizes such as
 * --max-semi-space-size, --stack-size, --expose-gc, --title) make `new Worker` throw, and
 * every pool task with it. Node names the flags it refuses; a flag it always refuses is
 * added so that it answers at once, without starting a thread.
 */
function threadFlags(flags: string[]): string[] {
  if (flags.length === 0) return flags;
  const sentinel = '--title=omirr-flag-probe';
  try {
    const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    new Worker('', { eval: true, execArgv: [...flags, sentinel] });
  } catch (err) {
    const m = /invalid execArgv flags: (.*)$/.exec((err as Error).message);
    if (m) {
      const refused = new Set(m[1]!.split(', '));
      return flags.filter((f) => !refused.has(f));
    }
  }
  return flags; // not the answer expected: pass them on as before
}

let io: Piscina | undefined;
let extract: Piscina | undefined;
/** Io threads kept while idle (keepIoThreadWarm); 0: every idle thread retires after idleTimeout. */
let ioFloor = 0;
/** How long a thread above the floor waits idle before it retires (both pools): a command's 5 s; a server's SERVER_IDLE_MS (keepIoThreadWarm). */
let idleTimeout = 5_000;

/**
 * A server's idle threads retire after this long, not 5 s. Its clients come seconds apart
 * (a watch's pushes, a cron job's several syncs, the benches' runs): with 5 s, each delta
 * push booted the second io thread (signing) and the extract thread (the rebuild) again,
 * ~100 ms of CPU each, on the cores the signing runs on (docs/performance.md, "Deltas: the
 * server's threads kept"). An idle thread costs its memory only (it waits on an atomic).
 */
export const SERVER_IDLE_MS = 60_000;

/**
 * A pool whose tasks, queued while warmPools' threads of it are still starting, wait for
 * the first of them to be up: queued at once, such a task finds no idle thread and piscina starts one more for it
 * (50-100 ms of CPU, and on two cores the warm thread's boot slowed). So a caller need not
 * wait for the warm-up before it starts work that queues tasks later (a sync's transfer
 * asks the far end for its resume offsets and signatures meanwhile).
 */
function warmAware(name: 'io' | 'extract'): typeof Piscina {
  return class extends piscina() {
    // (any: piscina's own task and result types)
    override run(task: any, options?: Parameters<Piscina['run']>[1]): Promise<any> {
      const w = firstUp.get(name);
      return w ? w.then(() => super.run(task, options)) : super.run(task, options);
    }
  };
}

export function ioPool(): Piscina {
  io ??= new (warmAware('io'))({ filename, maxThreads: poolThreads(), minThreads: ioFloor, idleTimeout, execArgv: workerExecArgv() });
  return io;
}

/**
 * Keep one io thread up while idle, from now on (call before either pool is first used): for a
 * long-running `omirr serve`, whose clients come minutes or hours apart (cron), each of
 * whose scans at `open` runs on an io thread. With every thread retired, a client's no-op
 * waited for one to boot: 446 against 317 ms for a 20,000-file no-op over omirr:// (medians
 * of 5, right after a run against 6.5 s later). Costs the idle thread's memory. The other
 * threads (io and extract), started when a client needs them, then wait `idleMs`
 * (SERVER_IDLE_MS) idle before they retire.
 */
export function keepIoThreadWarm(idleMs = SERVER_IDLE_MS): void {
  // piscina reads minThreads and idleTimeout when a pool is made: a pool made before would keep nothing
  if (io && io.options.minThreads < 1) throw new Error('keepIoThreadWarm: the io pool was made before it was called');
  if (extract && extract.options.idleTimeout !== idleMs) throw new Error('keepIoThreadWarm: the extract pool was made before it was called');
  ioFloor = 1;
  idleTimeout = idleMs;
  ioPool();
}

export function extractPool(): Piscina {
  extract ??= new (warmAware('extract'))({ filename, maxThreads: poolThreads(), minThreads: 0, idleTimeout, atomics: 'async', execArgv: workerExecArgv() });
  return extract;
}

/**
 * What a thread warmPools starts runs first: `ping` (nothing), `tarWarm` (the tar tasks'
 * modules, ~20-50 ms in a fresh thread, which the first pack or extract would load on the
 * transfer's critical path: tasks.ts), or `copyWarm` (a local copy's: warmIoTasks).
 */
export type WarmTask = 'ping' | 'tarWarm' | 'copyWarm';

/**
 * Start every thread of these pools now (a no-op task each), so that thread start-up (about
 * 40-60 ms: a Worker, then this module graph) overlaps with whatever the caller does next
 * (a TLS handshake, the other side's scan) instead of happening one thread at a time when
 * the first batches queue. Threads still retire after idleTimeout. `threads`: how many of
 * each pool's (a thread each costs 50-100 ms of CPU to start, wasted on a run that does not
 * use it: one tar stream needs one extract thread, mirror's one scan one io thread).
 * `task`: what each started thread runs first (WarmTask); threads already up run nothing.
 */
export function warmPools(which: Array<'io' | 'extract'> = ['io'], threads = poolThreads(), task: WarmTask = 'ping'): void {
  for (const name of which) {
    const pool = name === 'io' ? ioPool() : extractPool();
    const missing = Math.min(poolThreads(), threads) - pool.threads.length;
    if (missing <= 0) continue;
    // (queued before the gate below is set: the pings are the tasks the threads start for)
    const pings: Array<Promise<unknown>> = [];
    for (let i = 0; i < missing; i++) pings.push(pool.run(null, { name: task }).catch(() => {}));
    const up = Promise.all([warming.get(name), ...pings]).then(() => {
      if (warming.get(name) === up) warming.delete(name);
    });
    warming.set(name, up);
    // the gate opens with the first thread up: a task waits for a thread, not for all of them
    const first = Promise.race(pings).then(() => {
      if (firstUp.get(name) === first) firstUp.delete(name);
    });
    firstUp.set(name, first);
  }
}

/**
 * Every io thread loads a task's modules now: the threads already up (a sync's scans ran
 * there) each run `task` once, and the missing ones start with it (warmPools). For a local
 * copy, called when the scans are done and the plan is made on the main thread: both io
 * threads sat idle through the plan, then each loaded the copy tasks in its first batch
 * (docs/performance.md, "Local first copy"). One task per idle thread: piscina gives a
 * task to an idle thread before it queues one, so with every thread idle each gets one (a
 * busy thread may get none, and loads the modules with its first real task, as before).
 * `threads`: how many the work can use (a copy of one batch, one): no more are started for
 * it (a thread's start is 50-100 ms of CPU), though those already up are warmed.
 */
export function warmIoTasks(task: Exclude<WarmTask, 'ping'>, threads = poolThreads()): void {
  const pool = ioPool();
  const runs: Array<Promise<unknown>> = [];
  for (let i = pool.threads.length; i > 0; i--) runs.push(pool.run(null, { name: task }).catch(() => {}));
  const before = firstUp.get('io');
  warmPools(['io'], threads, task);
  const started = firstUp.get('io') !== before ? firstUp.get('io') : undefined;
  // (warmed('io') waits for these too)
  const up = Promise.all([warming.get('io'), ...runs]).then(() => {
    if (warming.get('io') === up) warming.delete('io');
  });
  warming.set('io', up);
  // and the tasks queued meanwhile wait for the first thread to have loaded them (warmAware's
  // gate): a small copy's one batch, queued at once behind its thread's warm-up, found no idle
  // thread and piscina started another for it (50-100 ms of CPU), whose boot took longer
  // than the warm-up it avoided waiting for. (The runs wait behind an earlier gate already:
  // this one opens after them, or with a thread started just now.)
  if (runs.length > 0) {
    const first = Promise.race([...runs, ...(started ? [started] : [])]).then(() => {
      if (firstUp.get('io') === first) firstUp.delete('io');
    });
    firstUp.set('io', first);
  }
}

/** The warm-up tasks of warmPools still running, per pool. */
const warming = new Map<'io' | 'extract', Promise<unknown>>();
/** Per pool, resolves when the first thread of the latest warmPools is up (warmAware's gate). */
const firstUp = new Map<'io' | 'extract', Promise<unknown>>();

/**
 * Resolves when the threads warmPools started for this pool are up (at once when it started
 * none). Tasks queued before then wait for them in the pool (warmAware); a caller waits
 * here when it wants to know they are up (`serve`'s answer to `prepare`, a scan that times
 * itself from the thread's start).
 */
export function warmed(name: 'io' | 'extract'): Promise<unknown> {
  return warming.get(name) ?? Promise.resolve();
}

/** Other threads closed with the pools (the pack thread: packer.ts). */
const closers: Array<() => Promise<unknown> | undefined> = [];

/** Close this with the pools (closePools). */
export function onClosePools(close: () => Promise<unknown> | undefined): void {
  closers.push(close);
}

/** Stop all worker threads (commands call this before exiting; the pools restart on demand). */
export async function closePools(): Promise<void> {
  const pools = [io, extract].filter((p): p is Piscina => p !== undefined);
  io = undefined;
  extract = undefined;
  warming.clear();
  firstUp.clear();
  await Promise.all([...pools.map((p) => p.destroy()), ...closers.map((c) => c())]);
}
