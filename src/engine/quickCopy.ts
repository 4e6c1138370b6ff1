// The quick local sync's copy: a rerun the quick check (quickLocal.ts) found changed, whose
// changes are only a few small files rewritten in place, is carried out there and then,
// before the full command's modules load. Those modules (commander, the engine, xstate,
// piscina and its io thread: ~0.2 s of CPU) were most of what 200 changed files of a
// 20,000-file tree cost over a no-op, against ~5 ms for the copy itself.
//
// Nothing here decides what to write: the full sync's planner (core/plan.ts planSync) plans
// the changed pairs, as syncTrees does for a local rerun (changedPairs), and the copy is the
// io pool's copy task (workers/copyTasks.ts: temporary name, rename, mode and mtime), then
// the pool's apply task restores the directories' mode and mtime (as PlanRunner.applyDirAttrs).
// Taken only where the full command would do exactly that and nothing else: every changed
// pair a regular file on both sides, planned as a transfer (no mkdir, symlink, setattr,
// delete or skip), below the size where a partial temporary could be resumed, none directly
// in the root, and the roots' own attributes already equal. Anything else, and any failure,
// goes to the full command, which plans and reports from its own fresh scans.
import { realpathSync } from 'node:fs';
import { mtimeOf, type Entry } from '../core/entry.js';
import { planSync } from '../core/plan.js';
import { RESUMABLE_MIN } from '../core/paths.js';
import type { Expected, TreeOp } from '../core/tree.js';
import type { QuickCopyDone, QuickCopyJob } from '../workers/quickCopy.js';
import { phase } from './timing.js';
// at most this many changed files on the main thread, and this many at all (pairScan.ts, where
// the walks count them): more is a transfer for the pool's threads
import { QUICK_COPY_FILES, QUICK_THREAD_COPY_FILES } from '../workers/pairScan.js';
import { workerClass } from './processDir.js';

/**
 * The copy of a rerun's changed files, when the quick path may make it (see above): the
 * transfers and the directories' attribute ops, else undefined (the full command runs).
 * `pairs`: every pair of the two listings that fails the quick check, where the listings
 * hold the same paths and kinds in the same order (changedPairs); `dirs`: source
 * directories, among them those the changed files are in.
 */
export function quickCopyJob(srcRoot: string, dstRoot: string, pairs: Array<[Entry, Entry]>, dirs: Entry[]): QuickCopyJob | undefined {
  if (pairs.length === 0 || pairs.length > QUICK_THREAD_COPY_FILES) return undefined;
  const parents = new Set<string>();
  for (const [s, d] of pairs) {
    // a file directly in the root moves the root's mtime: the full command's root step (rootAttrs.ts)
    const slash = s.path.lastIndexOf('/');
    if (s.kind !== 'file' || d.kind !== 'file' || s.size >= RESUMABLE_MIN || slash < 0) return undefined;
    parents.add(s.path.slice(0, slash));
  }
  if (overlap(srcRoot, dstRoot)) return undefined;
  // in path order, as in the listings (the walks' pieces come from two threads)
  pairs = pairs.slice().sort(([a], [b]) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const plan = planSync(
    pairs.map(([s]) => s),
    pairs.map(([, d]) => d),
  );
  const only = plan.transfers.length === pairs.length && plan.mkdirs.length + plan.symlinks.length + plan.setattrs.length + plan.deletes.length + (plan.replaced?.length ?? 0) + plan.skipped.length === 0;
  if (!only || plan.transfers.some((f: Expected) => f.hash !== undefined)) return undefined;
  // the directories written into get the source's mode and mtime back, children first (PlanRunner.applyDirAttrs)
  const byPath = new Map(dirs.filter((e) => e.kind === 'dir' && parents.has(e.path)).map((e) => [e.path, e]));
  if (byPath.size !== parents.size) return undefined;
  const ordered = [...byPath.values()].sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  const dirOps: TreeOp[] = ordered.map((e) => ({ op: 'setattr', path: e.path, mode: e.mode, ...mtimeOf(e) }));
  return { srcRoot, dstRoot, files: plan.transfers, dirOps, chown: process.getuid?.() === 0 };
}

/** One root inside the other (or the same): left to the full command, which refuses or nests as it does. */
function overlap(a: string, b: string): boolean {
  try {
    const ra = realpathSync(a);
    const rb = realpathSync(b);
    const inside = (x: string, y: string): boolean => x === y || x.startsWith(y === '/' ? '/' : `${y}/`);
    return inside(ra, rb) || inside(rb, ra);
  } catch {
    return true;
  }
}

/**
 * Run `job`: up to QUICK_COPY_FILES here, on the main thread, which has nothing else to do
 * by now. A thread of its own took longer to boot (~40-80 ms of a 4,000-file tree's rerun,
 * node's worker bootstrap) than such a copy (40 files: ~2 ms); the quick check's pair
 * thread, where it started one, was often still booting when the walk was done (it had taken
 * no item at load ~8, and the copy waited 70-130 ms for it), and where it was up it would
 * load the same copy modules. More files go on a thread: the pair thread, booted already,
 * where the check started one (`onPairThread`), else one of their own
 * (workers/quickCopyThread.ts): file bytes stay off the main thread beyond that bound.
 * 'done': every file written and every directory's attributes set, the sync is complete;
 * 'partial': something failed, and the destination may have changed, so the full command
 * must scan again and retry, reporting what still fails.
 */
export async function runQuickCopy(job: QuickCopyJob, onPairThread?: (job: QuickCopyJob) => Promise<QuickCopyDone>): Promise<'done' | 'partial'> {
  const onThread = job.files.length > QUICK_COPY_FILES;
  const end = phase(`quick copy ${job.files.length} files (${!onThread ? 'main thread' : onPairThread ? 'pair thread' : 'own thread'})`);
  try {
    const done = await (!onThread ? here(job) : (onPairThread ?? onItsThread)(job));
    const ok = done.copy.failed.length === 0 && done.copy.written.length === job.files.length && done.dirs !== undefined && done.dirs.every((r) => r.ok);
    return ok ? 'done' : 'partial';
  } catch {
    return 'partial';
  } finally {
    end();
  }
}

/** The io pool's copy and apply tasks, loaded only for a copy (a no-op never needs them). */
async function here(job: QuickCopyJob): Promise<QuickCopyDone> {
  return (await import('../workers/quickCopy.js')).quickCopy(job);
}

/** The same on a plain thread of its own; a thread that fails or ends without an answer rejects (the full command then runs). */
function onItsThread(job: QuickCopyJob): Promise<QuickCopyDone> {
  const w = new (workerClass())(new URL('../workers/quickCopyThread.js', import.meta.url), { workerData: job });
  return new Promise<QuickCopyDone>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`quick copy thread exited with ${code}`)));
  });
}
