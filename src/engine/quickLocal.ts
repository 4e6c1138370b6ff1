// The quick local sync: `omirr sync SRC DST` between two existing local directories, decided
// before any of the command's modules load (src/cli/main.ts). A no-op re-run is most of what
// a mirror job does, and for it the full command costs several times the work itself:
// commander, pino, xstate, the engine and piscina's threads load (100-300 ms) to find that
// nothing is to be done. Here both roots are listed on the main thread, and what is below
// their top-level directories is walked, both trees at once, by the main thread and one
// plain worker thread taking directories from a shared list (src/workers/pairScan.ts: the
// main thread starts at once, the thread joins when it has booted; a small tree is walked
// by the main thread alone, MAIN_ONLY_ENTRIES), each comparing what it walked by the full
// sync's quick check (core/packedEntries.ts matchesPacked: equal exactly when core/plan.ts
// planSync would plan nothing). Equal, with nothing skipped on either side, is the whole run: nothing to write,
// nothing to say, exit 0. Anything else goes to the full command with both scans handed
// over (localScan.ts offerScan), so the quick path never decides anything the full one
// would decide otherwise.
import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { entryFromStats, sameMtime, type Entry } from '../core/entry.js';
import { changedPairs, matchesPacked, unpackEntries } from '../core/packedEntries.js';
import type { ScanSkip } from '../core/tree.js';
import { DIFFERS_SLOTS, joinChanges, KEEP, MAIN_THREAD, PAIR_THREAD, pairItems, QUICK_COPY_FILES, walkPair, walkUntaken, type PairChanges, type PairChunk, type PairItem, type PairRoots } from '../workers/pairScan.js';
import type { PairDone, PairEntries } from '../workers/pairScanThread.js';
import type { QuickCopyDone, QuickCopyJob } from '../workers/quickCopy.js';
import { scan, type ScanTaskResult } from '../workers/scanTask.js';
import { enterDir, workerClass } from './processDir.js';
import { cpuMs, mark, markAt, phase } from './timing.js';

/** A directory with at least one entry (false: missing, not a directory, empty, unreadable). */
/**
 * The two roots have the same mode and mtime (the full command gives DST's root SRC's:
 * engine/rootAttrs.ts), so a no-op below them is a no-op of the whole command.
 */
function sameRoots(src: string, dst: string): boolean {
  try {
    const s = entryFromStats('', statSync(src, { bigint: true }));
    const d = entryFromStats('', statSync(dst, { bigint: true }));
    return s.mode === d.mode && sameMtime(s, d);
  } catch {
    return false;
  }
}

function filledDir(abs: string): boolean {
  try {
    return statSync(abs).isDirectory() && readdirSync(abs).length > 0;
  } catch {
    return false;
  }
}

// The directory both roots are in is made the working directory while the trees are walked
// (processDir.ts enterDir): each lstat then names a path from there down (`src/d000/f1.dat`),
// not the components above it too. On a million files in 1,000 directories under
// /dev/shm/x/src, ~15 % less CPU in lstat (measured with the source alone from inside it; both
// trees gain now). The working directory is the process's, so the pair thread's walks use it
// too; nothing else runs in this process yet (no module of the command has loaded).

/**
 * The pair thread starts only when more than this many entries (both trees together) look
 * left to walk after an item: in the time it takes to boot (20-30 ms of a core, and its
 * start holds the main thread 3-15 ms) the main thread walks about this many itself, so a
 * small tree (4,000 files) is done sooner alone.
 */
const MAIN_ONLY_ENTRIES = 16_000;

/** The longest directory path both absolute paths are in, or are ('/' at least). */
function commonDir(a: string, b: string): string {
  const pa = a.split('/');
  const pb = b.split('/');
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join('/') || '/';
}

/** The pair thread (src/workers/pairScanThread.ts): its answer; then, asked once, the entries it kept or a quick copy's result; stop() ends it. */
interface PairThread {
  done: Promise<PairDone>;
  entries: () => Promise<PairEntries>;
  copy: (job: QuickCopyJob) => Promise<QuickCopyDone>;
  stop: () => void;
}

function startPairThread(roots: PairRoots, items: PairItem[], owner: Int32Array, differs: Int32Array): PairThread {
  // a young generation large enough for its share of both listings: the entries all survive
  const w = new (workerClass())(new URL('../workers/pairScanThread.js', import.meta.url), { workerData: { roots, items, owner, differs }, resourceLimits: { maxYoungGenerationSizeMb: 64 } });
  w.unref(); // never holds the process: the main thread waits for what it needs
  const failed = new Promise<never>((_, reject) => {
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`pair scan thread exited with ${code}`)));
  });
  failed.catch(() => undefined); // a failure only means the full command scans
  // its messages in order: the answer, then what it was asked for (once)
  let answered!: (m: PairDone) => void;
  let replied!: (m: unknown) => void;
  const done = Promise.race([new Promise<PairDone>((r) => (answered = r)), failed]);
  const reply = Promise.race([new Promise<unknown>((r) => (replied = r)), failed]);
  let seen = 0;
  w.on('message', (m: unknown) => (seen++ === 0 ? answered(m as PairDone) : replied(m)));
  done.catch(() => undefined);
  reply.catch(() => undefined);
  const entries = (): Promise<PairEntries> => {
    w.postMessage('entries');
    return reply as Promise<PairEntries>;
  };
  const copy = (job: QuickCopyJob): Promise<QuickCopyDone> => {
    w.postMessage({ copy: job });
    return reply as Promise<QuickCopyDone>;
  };
  return { done, entries, copy, stop: () => void w.terminate() };
}

/**
 * Both sides' scans put back together: each root's listing, then each item's entries in
 * order, from whichever thread kept them. `whole`: an item neither kept (an equal one,
 * walked before a source entry was found skipped: pairScan.ts walkUntaken) is walked again
 * here (the working directory is still the one the walks name their paths from). Else the
 * scans are restricted: the items neither kept are equal on both sides and left out of both.
 */
function reassemble(roots: PairRoots, tops: { src: ScanTaskResult; dst: ScanTaskResult }, items: PairItem[], mine: Array<PairChunk | undefined>, theirs: PairEntries | undefined, whole: boolean): { src: ScanTaskResult; dst: ScanTaskResult } {
  const kept = new Set(theirs?.counts.map((c) => c.k));
  if (whole) for (let k = 0; k < items.length; k++) if (!mine[k] && !kept.has(k)) mine[k] = walkPair(roots, items[k]!);
  const side = (name: 'src' | 'dst'): ScanTaskResult => {
    const top = tops[name];
    const entries: Entry[] = top.entries.slice();
    const skipped: ScanSkip[] = top.skipped.slice();
    const their = theirs ? unpackEntries(theirs[name]) : [];
    // where each of the thread's items starts in its entries (it lists them in the order it walked them)
    const spans = new Map<number, [number, number]>();
    let at = 0;
    for (const c of theirs?.counts ?? []) {
      spans.set(c.k, [at, at + c[name]]);
      at += c[name];
    }
    for (let k = 0; k < items.length; k++) {
      const m = mine[k];
      if (m) {
        for (const e of m[name]) entries.push(e);
        for (const s of m.skipped[name]) skipped.push(s);
      } else {
        const span = spans.get(k);
        if (!span) continue; // equal on both sides: left out of both (restricted scans)
        for (let i = span[0]; i < span[1]; i++) entries.push(their[i]!);
      }
    }
    if (theirs) for (const s of theirs.skipped[name]) skipped.push(s);
    return { entries, skipped };
  };
  return { src: side('src'), dst: side('dst') };
}

/**
 * True when the sync of `srcSpec` into `dstSpec` (both local paths) was found to be a no-op,
 * or a rerun whose only changes were a few small files, copied here (quickCopy.ts): the
 * command is done. False otherwise; the full command then runs, taking the scans made
 * here when there are any. A first copy (the destination missing or empty) is not tried: it
 * goes straight to the full command, whose scans overlap its module loading.
 */
export async function quickLocalSync(srcSpec: string, dstSpec: string): Promise<boolean> {
  const src = resolve(srcSpec);
  const dst = resolve(dstSpec);
  markAt('first readdir', performance.timeOrigin + performance.now(), cpuMs());
  if (!filledDir(dst) || !filledDir(src)) return false;
  mark('quick scans');
  const common = commonDir(src, dst);
  const leave = enterDir(common);
  const from = (root: string): string => (root === common ? '.' : common === '/' ? root.slice(1) : root.slice(common.length + 1));
  let thread: PairThread | undefined;
  try {
    const endScan = phase('scan src+dst');
    const roots: PairRoots = { src, dst, ...(leave ? { srcFs: from(src), dstFs: from(dst) } : {}) };
    const srcTop = scan({ root: src, recursive: false, ...(roots.srcFs !== undefined ? { fsRoot: roots.srcFs } : {}) });
    const dstTop = scan({ root: dst, recursive: false, ...(roots.dstFs !== undefined ? { fsRoot: roots.dstFs } : {}) });
    const items = pairItems(srcTop.entries, dstTop.entries);
    const owner = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, items.length)));
    const mine: Array<PairChunk | undefined> = [];
    let same = srcTop.skipped.length === 0 && dstTop.skipped.length === 0 && matchesPacked(srcTop.entries, dstTop.entries);
    const differs = new Int32Array(new SharedArrayBuffer(4 * DIFFERS_SLOTS));
    // a source entry skipped: the full command scans the source itself, so it needs the
    // destination's whole listing too (every item's entries kept from the start)
    if (srcTop.skipped.length > 0) differs[KEEP] = 1;
    const rootsSame = sameRoots(src, dst);
    let walked = 0;
    const counted = { src: srcTop.entries.length, dst: dstTop.entries.length };
    const myChanges: Array<PairChanges | undefined> = [];
    walkUntaken(roots, items, owner, MAIN_THREAD, differs, (k, c, keep) => {
      if (keep) mine[k] = c;
      same &&= c.same;
      if (!c.same) myChanges.push(c.changes);
      walked += c.src.length + c.dst.length;
      counted.src += c.src.length;
      counted.dst += c.dst.length;
      // the thread, once what is left looks worth its start (the items walked so far as the measure)
      if (!thread && (walked / (k + 1)) * (items.length - k - 1) > MAIN_ONLY_ENTRIES) thread = startPairThread(roots, items, owner, differs);
    });
    // every item is taken now: the thread walks only those it holds (none: a small tree, done before it booted)
    const taken = owner.filter((o) => o === PAIR_THREAD).length;
    const theirs = taken > 0;
    mark(`pair thread took ${taken} of ${items.length}`);
    const endWait = phase('wait for thread');
    const answer = theirs ? await thread!.done : undefined;
    if (answer) same = answer.same && same;
    endWait();
    endScan();
    mark(`kept ${mine.filter(Boolean).length} items here${answer?.kept ? ', some in the pair thread' : ''}`);
    if (same && rootsSame) return true;
    // A few small files rewritten: copied here, as the full command would (quickCopy.ts),
    // from the pairs each walk found changed (the top level unchanged, every item the same
    // paths and kinds on both sides: the whole listings' changedPairs), with no whole listing
    // put together. After a failure the full command scans again (these scans may be stale) and reports.
    const top = srcTop.skipped.length === 0 && dstTop.skipped.length === 0 ? changedPairs(srcTop.entries, dstTop.entries) : undefined;
    const changes = rootsSame && top?.length === 0 ? joinChanges([...myChanges, answer ? answer.changes : { pairs: [], dirs: [] }]) : undefined;
    if (changes) {
      const endJob = phase('quick copy plan');
      // loaded only here: a no-op needs neither the planner nor the copy
      const { quickCopyJob, runQuickCopy } = await import('./quickCopy.js');
      const job = quickCopyJob(src, dst, changes.pairs, [...srcTop.entries, ...changes.dirs]);
      endJob();
      if (job) {
        // the copy runs here (quickCopy.ts runQuickCopy), and the pair thread, done or still
        // booting, gives its core back to it; a copy too big for the main thread runs on the
        // pair thread where there is one (booted already), else on a thread of its own
        const viaPair = thread && job.files.length > QUICK_COPY_FILES ? thread.copy : undefined;
        if (!viaPair) thread?.stop();
        return (await runQuickCopy(job, viaPair)) === 'done';
      }
    }
    // (a failed thread: its items are walked again here, and whole scans handed over)
    const got = answer?.kept ? await thread!.entries().catch(() => undefined) : undefined;
    const lost = answer?.kept === true && got === undefined;
    // A source entry skipped (KEEP set): a skip's message names the path the walk gave the
    // kernel (relative), so the full command's own scan of the source reports it, and it gets
    // the destination's whole scan. Else both scans restricted to the items that differ (the
    // others are equal on both sides and plan nothing, with or without --delete): the full
    // command plans only those (syncTrees.ts), neither walking the equal ones again nor
    // putting their entries together. Both or neither: syncTrees scans both again when it
    // gets one restricted scan without its pair.
    const whole = lost || Atomics.load(differs, KEEP) === 1;
    const endReassemble = phase(whole ? 'reassemble' : 'restricted scans');
    const { src: s, dst: d } = reassemble(roots, { src: srcTop, dst: dstTop }, items, mine, got, whole);
    endReassemble();
    const { offerScan } = await import('./localScan.js');
    if (whole) {
      if (s.skipped.length === 0) offerScan(src, s);
      offerScan(dst, d);
    } else {
      const restriction = { totals: { src: counted.src + (answer?.walked.src ?? 0), dst: counted.dst + (answer?.walked.dst ?? 0) } };
      offerScan(src, s, restriction);
      offerScan(dst, d, restriction);
    }
    return false;
  } catch {
    return false;
  } finally {
    thread?.stop();
    // the thread's source walks are over: it answered, holds nothing, or is ended unused
    leave?.();
  }
}
