// One-way sync of two Trees (`omirr sync`): scan both, plan, execute, as one
// transferSession actor. Hashes are computed only where they decide something: with
// `checksum`, for files present on both sides with the same size.
//
// The actor runs from the scan on when someone watches it (an inspector, or a log at debug
// level, where every transition is a line); otherwise the scan, the plan and the plan's steps
// run without it: the transfer machine and xstate load only when the run is watched, the
// executor (~5 ms of CPU to load without them) only when there is work.
import type { Entry } from '../core/entry.js';
import { plainQuickCheck, planSync, type PlanOptions, type SyncPlan } from '../core/plan.js';
import { changedPairs } from '../core/packedEntries.js';
import { itemizePlan, itemizeRoot, type ItemizedChange } from '../core/itemize.js';
import type { FirstDifference, ScanSkip, Tree } from '../core/tree.js';
import { warmIoTasks, warmPools } from '../workers/pool.js';
import { startPackThread } from '../workers/packer.js';
import { ioThreadsToWarm, type ScanRestriction } from './localScan.js';
import { copyTaskCount, LocalTree } from './localTree.js';
import { deltaCandidates, isDeltaPair, strongAlgOf, type SignaturesAhead } from './deltaCandidates.js';
import { mark, phase } from './timing.js';
import type { ExecuteOptions, PlanRunner } from './executePlan.js';
import { emptyResult, planCounts, planHasWork, type SyncResult } from './syncResult.js';
import { mirrorRootAttrs, plannedRootAttrs, touchesRoot } from './rootAttrs.js';

/** A scan the caller started itself: its entries, and the skips it collected (`onSkipped`). */
export interface StartedScan {
  entries: Promise<Entry[]>;
  skipped: ScanSkip[];
}

export type SyncOptions = PlanOptions &
  ExecuteOptions & {
    checksum?: boolean;
    /** The source's listing, already started by the caller (e.g. while the destination connected). */
    srcScan?: StartedScan;
    /** Told every planned action, one per path (`omirr sync -i`), before anything is done. */
    onItemize?: (changes: ItemizedChange[]) => void;
  };

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

/** Wire bytes of both trees' connections (minus `since`); undefined when neither is remote. */
function wireDelta(src: Tree, dst: Tree, since?: { sent: number; received: number }): { sent: number; received: number } | undefined {
  const a = src.wireBytes?.();
  const b = dst.wireBytes?.();
  if (!a && !b) return undefined;
  return {
    sent: (a?.sent ?? 0) + (b?.sent ?? 0) - (since?.sent ?? 0),
    received: (a?.received ?? 0) + (b?.received ?? 0) - (since?.received ?? 0),
  };
}

export interface SyncTreesResult extends SyncResult {
  /** Entries scanned on each side. */
  scanned: { src: number; dst: number };
  /** Protocol bytes this run sent and received, over the connections of its remote trees. */
  wire?: { sent: number; received: number };
}

function countFiles(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) if (e.kind === 'file') n++;
  return n;
}

export async function syncTrees(src: Tree, dst: Tree, opts: SyncOptions = {}): Promise<SyncTreesResult> {
  const started = Date.now();
  // All threads start at once, while the scans begin; an incoming tar stream's extract
  // thread too when this side receives one (not when a small one is written by an io
  // thread, LocalTreeOptions.smallUnpackFiles: a big one's starts when the plan says so).
  // Fewer, or none, for a local end whose scan was made or started otherwise
  // (localScan.ts ioThreadsToWarm: a no-op after prescanWhenTaken needs no pool, a small local
  // rerun one thread); a transfer starts the rest with its tasks.
  const locals = [src, dst].filter((t): t is LocalTree => t instanceof LocalTree).map((t) => ioThreadsToWarm(t.root));
  const threads = locals.includes(0) ? 0 : locals.includes(1) ? 1 : undefined;
  const receives = dst instanceof LocalTree && !(src instanceof LocalTree) && opts.dryRun !== true;
  if (locals.length > 0 && threads !== 0) warmPools(receives && dst.smallUnpackFiles === 0 ? ['io', 'extract'] : ['io'], threads);
  const wireAtStart = wireDelta(src, dst);
  const dryRun = opts.dryRun === true;
  let srcEntries: Entry[] = [];
  let dstEntries: Entry[] = [];
  /** What the scans left out; the unmirrorable ones make the sync fail (never silent). */
  const scanSkips: Array<ScanSkip & { side: 'src' | 'dst' }> = [];
  let plan: SyncPlan | undefined;
  let runner: PlanRunner | undefined;
  /** The indices where the two listings differ, when they are otherwise entry by entry the same (scanLike). */
  let changedAt: number[] | undefined;
  /** Both listings are the quick local check's restricted pair (their whole trees' counts in it). */
  let restricted: ScanRestriction | undefined;
  /** `-i`'s line for the destination root itself, when its mode or mtime is to be set. */
  let rootItem: ItemizedChange | undefined;
  const progress = (phase: 'scanning' | 'planning'): void =>
    opts.onProgress?.({ phase, filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, rate: 0 });
  const scan = async (): Promise<{ srcEntries: number; dstEntries: number }> => {
    progress('scanning');
    const endScan = phase('scan src+dst');
    const timed = async (t: Tree, name: 'src' | 'dst', started?: StartedScan): Promise<Entry[]> => {
      const end = phase(`scan ${name}`);
      const r = started ? await started.entries : await t.scan({ onSkipped: (s) => scanSkips.push({ ...s, side: name }) });
      if (started) for (const s of started.skipped) scanSkips.push({ ...s, side: name });
      end();
      return r;
    };
    // A remote end next to a local one, with a plan that is planSync's quick check alone:
    // its listing is compared with the local entries as it arrives (Tree.scanLike). Found
    // equal, it builds no entry and the local listing stands in for it: equal by every
    // field the plan reads, so the plan is the same (empty), as are the counts.
    // Found equal but for some entries' other attributes (a few changed files), the local
    // listing stands in with those entries in their places, and only they are planned (makePlan).
    const timedLike = async (t: Tree, name: 'src' | 'dst', like: Promise<Entry[]>): Promise<Entry[]> => {
      const end = phase(`scan ${name}`);
      const r = await t.scanLike!(like, { onSkipped: (s) => scanSkips.push({ ...s, side: name }) }, prepareTransfer);
      end();
      if (Array.isArray(r)) return r;
      const local = await like;
      if (!r.changed || r.changed.length === 0) return local;
      const entries = local.slice();
      for (const [i, e] of r.changed) entries[i] = e;
      changedAt = r.changed.map(([i]) => i);
      return entries;
    };
    const plain = plainQuickCheck(opts);
    if (plain && src.scanLike && !dst.scanLike) {
      let give!: (p: Promise<Entry[]>) => void;
      const like = new Promise<Entry[]>((r) => (give = r));
      const s = timedLike(src, 'src', like);
      const d = timed(dst, 'dst');
      give(d);
      [srcEntries, dstEntries] = await Promise.all([s, d]);
    } else if (plain && dst.scanLike && !src.scanLike) {
      const s = timed(src, 'src', opts.srcScan);
      [srcEntries, dstEntries] = await Promise.all([s, timedLike(dst, 'dst', s)]);
    } else {
      const s = timed(src, 'src', opts.srcScan);
      const d = timed(dst, 'dst');
      // An empty destination (a first copy): every source entry is work, so the executor's
      // modules load while the source is still being walked, not between the plan and the
      // first copy (45-80 ms there, both io threads idle: docs/performance.md)
      // (a failure here is not lost: the call after the plan makes the set-up again and fails the sync)
      d.then((e) => e.length === 0 && prepareTransfer()).catch(() => undefined);
      [srcEntries, dstEntries] = await Promise.all([s, d]);
      // The quick local check's restricted pair (localScan.ts ScanRestriction): both listings
      // leave out the same top-level directories, equal on both sides, so the pair plans
      // what the whole listings would. Planned only as a pair, and only by planSync's quick
      // check with symlinks judged by their targets alone (as changedAt below): else both
      // ends are scanned again, whole (a lone restricted listing against a whole one would
      // plan every left-out file as new, or with --delete as gone).
      const rs = src instanceof LocalTree ? src.scanRestriction : undefined;
      const rd = dst instanceof LocalTree ? dst.scanRestriction : undefined;
      if (rs !== undefined || rd !== undefined) {
        if (rs === rd && plain && opts.makeBadSymlinks !== false) restricted = rs;
        else {
          scanSkips.length = 0;
          [srcEntries, dstEntries] = await Promise.all([timed(src, 'src'), timed(dst, 'dst')]);
        }
      }
      // two whole listings (a local rerun): the same paths and kinds in order, only the pairs
      // that differ are planned, as for a remote listing compared as it arrived (makePlan)
      if (plain) changedAt = changedPairs(srcEntries, dstEntries);
    }
    scansDone = true;
    // a first copy (prepared as the empty destination's scan ended) warms its copy now
    if (preparing && src instanceof LocalTree && dst instanceof LocalTree) warmCopy();
    // The least the destination will be sent, before the plan: each of its files stands for
    // one source file at most, so the source's files beyond its count are new (a first copy:
    // all of them). A far end starts its extract thread for them now (Tree.prepareReceive),
    // not when the unpack comes (docs/performance.md, "First copy over the network").
    // A local copy unpacks no stream (LocalTree.copyFrom): no extract thread for it.
    const unpacks = !(src instanceof LocalTree && dst instanceof LocalTree);
    if (!dryRun && unpacks && dst.prepareReceive) {
      const atLeast = countFiles(srcEntries) - countFiles(dstEntries);
      if (atLeast > 0) void dst.prepareReceive(atLeast);
    }
    endScan();
    if (opts.checksum) await hashWhereNeeded(src, srcEntries, dst, dstEntries);
    // the root's own line for -i (rsync's `./`), as it is before this run writes into it
    if (opts.onItemize) {
      const r = await plannedRootAttrs(src, dst, opts);
      if (r) rootItem = itemizeRoot(r.change, r.have);
    }
    return restricted ? { srcEntries: restricted.totals.src, dstEntries: restricted.totals.dst } : { srcEntries: srcEntries.length, dstEntries: dstEntries.length };
  };
  /**
   * Changed large files the destination has old versions of go as deltas (executePlan's
   * splitDelta, which takes these): their signatures are asked for now, right after the
   * plan, so that the receiver signs while the executor loads (40-340 ms: it was the wait
   * before the signing), and a far end is told first (Tree.prepareDelta), so that it starts
   * every thread that signs and the one that rebuilds at once. A plan without such a file
   * asks and tells nothing, and boots nothing there.
   */
  let signaturesAhead: SignaturesAhead | undefined;
  const askSignatures = (p: SyncPlan): SignaturesAhead | undefined => {
    const sd = src.delta;
    const dd = dst.delta;
    const cands = deltas ? deltaCandidates(p.transfers, opts.target ?? dstEntries) : [];
    if (packDeferred) {
      packDeferred = false;
      if (cands.length < p.transfers.length) startPlainThread();
    }
    if (!sd || !dd || cands.length === 0) return undefined;
    let bytes = 0;
    for (const c of cands) bytes += c.basisSize;
    dst.prepareDelta?.(bytes);
    // the sender's threads start (and load the matcher) while the receiver signs
    sd.warmToSend?.();
    const paths = cands.map((c) => c.file.path);
    const strong = strongAlgOf(sd, dd);
    const sigs = dd.signatures(paths, strong);
    // (awaited by the executor; a run that ends before it would leave the failure unhandled)
    sigs.catch(() => undefined);
    return { paths, strong, sigs };
  };
  const makePlan = (): SyncPlan => {
    progress('planning');
    const endPlan = phase('plan');
    // what the source left out may have its copy here: never deleted for being unlisted
    const srcSkipped = scanSkips.filter((s) => s.side === 'src').map((s) => s.path);
    const planOpts = srcSkipped.length > 0 ? { ...opts, srcSkipped } : opts;
    // Two listings with the same paths and kinds in the same order, equal by the quick check
    // but at `changedAt`: those pairs alone plan the same (the others plan nothing, nothing is
    // deleted or replaced), unless symlinks are judged by what exists (makeBadSymlinks off)
    const p =
      changedAt && opts.makeBadSymlinks !== false
        ? planSync(
            changedAt.map((i) => srcEntries[i]!),
            changedAt.map((i) => dstEntries[i]!),
            planOpts,
          )
        : planSync(srcEntries, dstEntries, planOpts);
    endPlan();
    if (!dryRun) signaturesAhead = askSignatures(p);
    opts.onItemize?.(rootItem ? [rootItem, ...itemizePlan(p, dstEntries)] : itemizePlan(p, dstEntries));
    return p;
  };
  const executor = (): Promise<typeof import('./executePlan.js')> => import('./executePlan.js');
  /**
   * A remote listing found to differ from the local one as it was compared: a transfer is
   * coming, so the executor's modules load and the first io thread of each end boots (a pack
   * or a small unpack runs there; the remote end's through Tree.prepareTransfer) while the
   * rest of the listing is compared and the plan made, instead of after. A no-op run never
   * gets here and starts none of it.
   */
  let preparing: Promise<unknown> | undefined;
  /** A push's pack thread left to after the plan (prepareTransfer). */
  let packDeferred = false;
  const startPlainThread = (): void => {
    mark('pack thread start');
    void startPackThread()?.then(() => mark('pack thread up'));
  };
  // deltas can go between these trees (executePlan's splitDelta: never between two local ones)
  const deltas = src.delta !== undefined && dst.delta !== undefined && opts.delta !== false && !(src instanceof LocalTree && dst instanceof LocalTree);
  /**
   * A local copy's io threads load the copy task (warmIoTasks) once the scans are done: its
   * first batch on each thread loaded it after the plan and the mkdirs (20-40 ms each, on
   * the copy's critical path), while both threads sat idle through the plan. Not before:
   * a thread still scanning would take no warm-up task, and the idle one both.
   */
  let scansDone = false;
  let copyWarmed = false;
  const warmCopy = (): void => {
    if (!scansDone || copyWarmed) return;
    copyWarmed = true;
    // only as many threads as the copy can use (all source files, or the changed pairs' of a rerun)
    const files = changedAt ? changedAt.map((i) => srcEntries[i]!) : srcEntries;
    warmIoTasks('copyWarm', Math.max(1, copyTaskCount(files)));
  };
  const prepareTransfer = (first?: FirstDifference): void => {
    if (dryRun || preparing) return;
    // and the remote end's server its own (capability `prepare`)
    src.prepareTransfer?.();
    dst.prepareTransfer?.();
    // A transfer between a local tree and a far end runs on a plain thread of its own
    // (workers/packer.ts: half a piscina thread's boot, and no piscina on this thread): a
    // push's pack batches, or a pull's small unpack (started before the plan counts the
    // files: a big pull's unpack runs in the extract thread warmed after the plan, and this
    // one ends idle). Anything else local warms an io thread with the tar tasks loaded
    // (`tarWarm`): loaded after the plan, they cost 20-50 ms.
    const srcLocal = src instanceof LocalTree;
    const dstLocal = dst instanceof LocalTree;
    const plainThread = srcLocal !== dstLocal && (srcLocal || (dst as LocalTree).smallUnpackFiles > 0);
    // A push whose first difference is a large file the destination has an old version of
    // (`first`: the local entry, then the far one) is most likely a delta only, which packs
    // nothing: its pack thread (30-100 ms of CPU, on the cores the far end signs on) waits
    // for the plan, and starts only if whole files go too (a failed delta's whole copy
    // packs in the io pool). A push whose first difference is another file starts it now.
    if (plainThread && srcLocal && deltas && first && isDeltaPair(first.like, first.entry)) packDeferred = true;
    else if (plainThread) startPlainThread();
    else if (srcLocal && dstLocal) warmCopy();
    else if (srcLocal || dstLocal) warmPools(['io'], 1, 'tarWarm');
    // (the io thread's boot is not waited for: tasks queued meanwhile wait for it in the pool,
    // while the transfer's first requests to a far end go out)
    preparing = executor().catch(() => undefined);
  };
  const newRunner = (m: typeof import('./executePlan.js'), p: SyncPlan): PlanRunner =>
    new m.PlanRunner(src, dst, p, { ...opts, source: opts.source ?? srcEntries, target: opts.target ?? dstEntries, ...(signaturesAhead ? { signaturesAhead } : {}) });
  const work = {
    transfer: async () => {
      const end = phase('transfer');
      await runner!.transfer();
      end();
    },
    apply: async () => {
      const end = phase('apply');
      await runner!.apply();
      end();
    },
  };
  const session = { dryRun, ...(opts.log ? { log: opts.log } : {}), ...(opts.inspect ? { inspect: opts.inspect } : {}) };
  const label = `${src.label} -> ${dst.label}`;
  if (opts.inspect || opts.log?.isLevelEnabled('debug')) {
    // watched: every step a transition of the actor
    const m = await executor();
    const { runSession } = await import('./runSession.js');
    await runSession(
      label,
      {
        scan,
        plan: async () => {
          plan = makePlan();
          runner = newRunner(m, plan);
          return planCounts(plan);
        },
        ...work,
      },
      { hasPlan: false, ...session },
    );
  } else {
    // the same steps, and the same error as the actor's (its message), without loading it for a no-op
    try {
      await scan();
      plan = makePlan();
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
    if (!dryRun && planHasWork(plan)) {
      // too many files for an io thread's unpack: the extract thread boots while the executor loads
      if (receives && plan.transfers.length > dst.smallUnpackFiles && dst.smallUnpackFiles > 0) warmPools(['extract'], 1);
      // (a listing decoded before the local one was there was not compared: prepared now)
      prepareTransfer();
      await preparing;
      const m = await executor();
      runner = newRunner(m, plan);
      // The actor's steps from `planned` on (transfer, then apply; a failure of either ends
      // the run with its message, as the actor's `failed` does), without the actor: nobody
      // watches it, and xstate with the machine costs ~20 ms of CPU to load, between the plan
      // and the transfer's first request (docs/performance.md, "Re-runs over omirr://")
      try {
        await work.transfer();
        await work.apply();
      } catch (e) {
        throw new Error(e instanceof Error ? e.message : String(e));
      }
    } else if (!dryRun) {
      // what the executor's empty transfer and apply would have done: honour an abort, report done
      if (opts.signal?.aborted) throw new Error('sync aborted');
      opts.onProgress?.({ phase: 'done', filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, rate: 0 });
    }
  }
  const result = runner ? runner.finish() : emptyResult(plan!, dryRun);
  if (!dryRun && !opts.signal?.aborted) {
    // the root itself, last: every write into it above moved its mtime
    const p = plan!;
    const touched = runner !== undefined && touchesRoot([...p.transfers, ...p.mkdirs, ...p.symlinks, ...p.deletes, ...(p.replaced ?? [])]);
    const failed = await mirrorRootAttrs(src, dst, opts, touched);
    if (failed) result.failed.push({ path: '.', error: `the destination root's mode and mtime: ${failed}` });
  }
  for (const s of scanSkips) {
    const where = `${s.side === 'src' ? src.label : dst.label}: ${s.reason}`;
    if (s.unmirrorable) result.failed.push({ path: s.path, error: `not mirrored (${where})` });
  }
  const wire = wireDelta(src, dst, wireAtStart);
  const scanned = restricted ? restricted.totals : { src: srcEntries.length, dst: dstEntries.length };
  return { ...result, durationMs: Date.now() - started, scanned, ...(wire ? { wire } : {}) };
}
