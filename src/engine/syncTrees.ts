// One-way sync of two Trees (`omirr sync`): scan both, plan, execute, as one
// transferSession actor. Hashes are computed only where they decide something: with
// `checksum`, for files present on both sides with the same size.
import type { Entry } from '../core/entry.js';
import { planSync, type PlanOptions, type SyncPlan } from '../core/plan.js';
import type { Tree } from '../core/tree.js';
import { emptyResult, planCounts, PlanRunner, runSession, type ExecuteOptions, type SyncResult } from './executePlan.js';

export type SyncOptions = PlanOptions & ExecuteOptions & { checksum?: boolean };

/** Give files that exist on both sides with equal sizes their hashes (both sides, in parallel). */
export async function hashWhereNeeded(src: Tree, srcEntries: Entry[], dst: Tree, dstEntries: Entry[]): Promise<number> {
  const dstFiles = new Map(dstEntries.filter((e) => e.kind === 'file').map((e) => [e.path, e]));
  const both = srcEntries.filter((s) => s.kind === 'file' && dstFiles.get(s.path)?.size === s.size);
  if (both.length === 0) return 0;
  const paths = both.map((e) => e.path);
  const [sh, dh] = await Promise.all([src.hashFiles(paths), dst.hashFiles(paths)]);
  for (const e of both) {
    const a = sh.get(e.path);
    const b = dh.get(e.path);
    if (a) e.hash = a;
    if (b) dstFiles.get(e.path)!.hash = b;
  }
  return both.length;
}

export interface SyncTreesResult extends SyncResult {
  /** Entries scanned on each side. */
  scanned: { src: number; dst: number };
}

export async function syncTrees(src: Tree, dst: Tree, opts: SyncOptions = {}): Promise<SyncTreesResult> {
  const started = Date.now();
  const dryRun = opts.dryRun === true;
  let srcEntries: Entry[] = [];
  let dstEntries: Entry[] = [];
  let plan: SyncPlan | undefined;
  let runner: PlanRunner | undefined;
  const progress = (phase: 'scanning' | 'planning'): void =>
    opts.onProgress?.({ phase, filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, rate: 0 });
  await runSession(
    `${src.label} -> ${dst.label}`,
    {
      scan: async () => {
        progress('scanning');
        [srcEntries, dstEntries] = await Promise.all([src.scan(), dst.scan()]);
        if (opts.checksum) await hashWhereNeeded(src, srcEntries, dst, dstEntries);
        return { srcEntries: srcEntries.length, dstEntries: dstEntries.length };
      },
      plan: async () => {
        progress('planning');
        plan = planSync(srcEntries, dstEntries, opts);
        runner = new PlanRunner(src, dst, plan, { ...opts, source: opts.source ?? srcEntries });
        return planCounts(plan);
      },
      transfer: () => runner!.transfer(),
      apply: () => runner!.apply(),
    },
    { hasPlan: false, dryRun, ...(opts.log ? { log: opts.log } : {}) },
  );
  const result = runner ? runner.finish() : emptyResult(plan!, dryRun);
  return { ...result, durationMs: Date.now() - started, scanned: { src: srcEntries.length, dst: dstEntries.length } };
}
