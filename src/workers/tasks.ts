// The piscina worker module: every task omirr runs in a worker, as named exports
// (pool.run(task, { name })). See pool.ts for which pool runs which.
//
// Only the scan's module graph loads when a thread starts: a command's first task is almost
// always a scan, and a thread boots on the same two cores that load the command's modules.
// The tar, copy and delta tasks (with piscina's main module, the tar format, the delta
// matcher and its WebAssembly) load on their first call in that thread.
import { createRequire } from 'node:module';
import type { MessagePort } from 'node:worker_threads';
import { columnBuffers } from '../core/scanColumns.js';
import { scan as scanHere, type ScanTask, type ScanTaskResult } from './fsTasks.js';
export { hash, partSizes, apply, lstatMany } from './fsTasks.js';

/** Scans of at least this many entries move their columns (below it a clone is cheap). */
const MOVE_COLUMNS_FROM = 16_384;

/**
 * The scan task; a big result in columns has its typed arrays moved to the main thread, not
 * copied (./transfer.ts). Only big ones: moving needed piscina's main module in the thread
 * (~18 ms to load), which a small tree's re-run would pay on its critical path; transfer.ts
 * does without it now, and the threshold was not measured again.
 */
export async function scan(t: ScanTask): Promise<ScanTaskResult> {
  if (t.port && t.listing) return scanToPort({ ...t, port: undefined }, t.port);
  const r = scanHere(t);
  if (!r.columns || r.columns.count < MOVE_COLUMNS_FROM) return r;
  const { moveWith } = await import('./transfer.js');
  return moveWith(r, columnBuffers(r.columns));
}

/** A listing scan whose blocks go out on `port` as the walk fills them (ScanTask.port). */
async function scanToPort(t: ScanTask, port: MessagePort): Promise<ScanTaskResult> {
  // with `like`, the encoder writes the like form too, and its digest comes back with the
  // result (node:crypto loads in this thread then, once: `omirr serve` keeps it up)
  const [{ ListingEncoder }, like] = await Promise.all([
    import('../core/listingEncode.js'),
    t.like ? Promise.all([import('../core/likeForm.js'), import('./likeDigest.js')]) : undefined,
  ]);
  const withForm = like ? new like[0].LikeFormEncoder() : undefined;
  const encoder = withForm ?? new ListingEncoder();
  let streamed = 0;
  const r = scanHere(t, {
    encoder,
    post: (block) => {
      port.postMessage(block);
      streamed++;
    },
  });
  const likeDigest = like && withForm ? like[1].likeDigest(withForm.form.end()) : undefined;
  return { ...r, streamed, ...(likeDigest ? { likeDigest } : {}) };
}

type TarTasks = typeof import('./tarTasks.js');
type CopyTasks = typeof import('./copyTasks.js');
type DeltaTasks = typeof import('./deltaTasks.js');

let tar: Promise<TarTasks> | undefined;
let copy: Promise<CopyTasks> | undefined;
let delta: Promise<DeltaTasks> | undefined;
const tarTasks = (): Promise<TarTasks> => (tar ??= import('./tarTasks.js'));
const copyTasks = (): Promise<CopyTasks> => (copy ??= import('./copyTasks.js'));
const deltaTasks = (): Promise<DeltaTasks> => (delta ??= import('./deltaTasks.js'));

export async function packBatch(t: Parameters<TarTasks['packBatch']>[0]): Promise<ReturnType<TarTasks['packBatch']>> {
  return (await tarTasks()).packBatch(t);
}
export async function extract(t: Parameters<TarTasks['extract']>[0]): ReturnType<TarTasks['extract']> {
  return (await tarTasks()).extract(t);
}
export async function copyFiles(t: Parameters<CopyTasks['copyFiles']>[0]): Promise<ReturnType<CopyTasks['copyFiles']>> {
  return (await copyTasks()).copyFiles(t);
}
export async function deltaStat(t: Parameters<DeltaTasks['deltaStat']>[0]): Promise<ReturnType<DeltaTasks['deltaStat']>> {
  return (await deltaTasks()).deltaStat(t);
}
export async function deltaSign(t: Parameters<DeltaTasks['deltaSign']>[0]): Promise<ReturnType<DeltaTasks['deltaSign']>> {
  return (await deltaTasks()).deltaSign(t);
}
export async function deltaMatch(t: Parameters<DeltaTasks['deltaMatch']>[0]): Promise<ReturnType<DeltaTasks['deltaMatch']>> {
  return (await deltaTasks()).deltaMatch(t);
}
export async function deltaApply(t: Parameters<DeltaTasks['deltaApply']>[0]): ReturnType<DeltaTasks['deltaApply']> {
  return (await deltaTasks()).deltaApply(t);
}
export async function deltaHash(t: Parameters<DeltaTasks['deltaHash']>[0]): Promise<Awaited<ReturnType<DeltaTasks['deltaHash']>>> {
  return (await deltaTasks()).deltaHash(t);
}

export async function deltaWarm(): Promise<ReturnType<DeltaTasks['deltaWarm']>> {
  return (await deltaTasks()).deltaWarm();
}

/**
 * The tar tasks' modules loaded, nothing run: the first task of a thread warmed for a
 * transfer (pool.ts WarmTask), so that its first pack or extract does not load them (20-50
 * ms, with piscina's main module) after the plan, on the transfer's critical path.
 */
export async function tarWarm(): Promise<null> {
  await tarTasks();
  return null;
}

/** The copy task's modules loaded, nothing run (pool.ts warmIoTasks): a local copy's io threads, during the plan. */
export async function copyWarm(): Promise<null> {
  await copyTasks();
  return null;
}

/**
 * Which of the tasks loaded on first call this thread has loaded, and whether piscina's main
 * module is loaded in it (transfer.ts does without), for tests and diagnostics.
 */
export function loadedTasks(): string[] {
  const piscinaMain = Object.keys(createRequire(import.meta.url).cache).some((k) => /[\\/]piscina[\\/]dist[\\/](index|main)\.js$/.test(k));
  return [...(tar ? ['tar'] : []), ...(copy ? ['copy'] : []), ...(delta ? ['delta'] : []), ...(piscinaMain ? ['piscina'] : [])];
}

/** No work: warmPools() runs one per thread to start the threads early. */
export function ping(): null {
  return null;
}
