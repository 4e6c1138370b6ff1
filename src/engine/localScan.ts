// The listing of a whole local tree on every io thread, and its early start.
//
// A command that will scan a local directory first (`omirr sync`, and `omirr serve --stdio`,
// which is asked for a scan right after its handshake) starts the scan before it loads the
// rest of its modules (the CLI parser, pino, xstate, the engine: 100-300 ms of a small
// sync's time): src/cli/main.ts calls prescan(), and the tree's first scan() takes the
// result instead of walking again. Light on purpose (below).
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { ListingFeed } from './listingFeed.js';
import type { ScanTaskResult } from '../workers/scanTask.js';
import type { ListingResume } from '../core/listingEncode.js';
import type { ScanSkip } from '../core/tree.js';
import type { Entry } from '../core/entry.js';
import { packEntries, ScanList, type ScanColumns } from '../core/scanColumns.js';
import { cpuMs, mark, markAt, phase } from './timing.js';
import { enterDir, workerClass } from './processDir.js';
// ../workers/pool.js (piscina) loads when the threads are first asked for, and
// ../workers/scanTask.js on the main thread when a command starts early (startScans): the
// roots are listed before either the pool or the command's modules load.

const pool = (): Promise<typeof import('../workers/pool.js')> => import('../workers/pool.js');

/**
 * The whole tree, walked on every io thread at once: the root's listing first, then the
 * top-level directories in shares (a few per thread, for balance), concatenated in order,
 * so the result is the same depth-first, parents-first listing as one walk.
 */
export async function scanParallel(root: string): Promise<ScanTaskResult> {
  const { ioPool } = await pool();
  return scanBelowTop(root, (await ioPool().run({ root, recursive: false }, { name: 'scan' })) as ScanTaskResult);
}

/**
 * The whole tree for a scan that is not the slow part (mirror lists its site meanwhile,
 * LocalTreeOptions.oneScanThread): walked on this thread up to MAIN_WALK_ENTRIES entries (the
 * bound `omirr sync` walks a local end by while it waits for the other one's listing,
 * prescanWhenTaken), the rest of a bigger tree by one io thread, in columns (a second
 * thread's start and the shares cost more CPU than they save time). A small tree (most of
 * mm's jobs) then starts no thread and loads no pool: the boot of the io thread that walked
 * it cost more CPU (40-100 ms) than the walk (docs/performance.md, "Fifty-sixth version").
 */
export async function scanOneThread(root: string, mainWalkEntries = MAIN_WALK_ENTRIES, restThreads: 'one' | 'all' = 'one'): Promise<ScanTaskResult> {
  const { entries, skipped, rest } = await walkHereFirst(root, mainWalkEntries);
  for (const r of await walkRestInPool(root, rest, restThreads)) {
    for (const e of new ScanList([r.columns!])) entries.push(e);
    for (const k of r.skipped) skipped.push(k);
  }
  return { entries, skipped };
}

/**
 * The root's listing and its tree below, walked on this thread up to `budget` entries (names
 * and lstat only, never a file's bytes); `rest`: the directories left unwalked, if any.
 */
async function walkHereFirst(root: string, budget: number): Promise<{ entries: Entry[]; skipped: ScanSkip[]; rest?: string[] }> {
  const { scan: walk } = await import('../workers/scanTask.js');
  // (the root's own listing is always whole: the budget stops the walk below it, as startScans')
  const r = walk({ root, budget });
  return { entries: r.entries, skipped: r.skipped, ...(r.rest ? { rest: r.rest } : {}) };
}

/**
 * What walkHereFirst left (`rest`), walked in columns on one io thread or in shares on every
 * one, the results in order (concatenated, the same listing as one walk); none when no rest.
 */
async function walkRestInPool(root: string, rest: string[] | undefined, threads: 'one' | 'all'): Promise<ScanTaskResult[]> {
  if (!rest) return [];
  const { ioPool, poolThreads } = await pool();
  const parts = threads === 'one' ? [rest] : sharesOf(rest, poolThreads());
  return Promise.all(parts.map((below) => ioPool().run({ root, below, columns: true }, { name: 'scan' }) as Promise<ScanTaskResult>));
}

/**
 * scanParallel with each share's entries packed in columns (src/core/scanColumns.ts): for
 * the daemon's scans of big trees, where a million entries cloned as objects cost the main
 * thread seconds and a heap it keeps.
 */
export async function scanParallelPacked(root: string, mainWalkEntries = 0): Promise<{ parts: ScanColumns[]; skipped: ScanSkip[] }> {
  if (mainWalkEntries > 0) return scanPackedHereFirst(root, mainWalkEntries);
  const { ioPool, poolThreads } = await pool();
  const top = (await ioPool().run({ root, recursive: false }, { name: 'scan' })) as ScanTaskResult;
  const results = await Promise.all(shares(top, poolThreads()).map((below) => ioPool().run({ root, below, columns: true }, { name: 'scan' }) as Promise<ScanTaskResult>));
  return { parts: [packEntries(top.entries), ...results.map((r) => r.columns!)], skipped: [...top.skipped, ...results.flatMap((r) => r.skipped)] };
}

/**
 * scanParallelPacked with the tree's first `mainWalkEntries` entries walked on this thread
 * (names and lstat only, never a file's bytes), the rest of a bigger tree in shares on the io
 * threads: the same listing, in the same order. For the daemon (LocalTreeOptions.scanHere):
 * a small tree's scan, most daemons' at start, then starts no io thread and loads no pool;
 * the boot of the thread that walked it cost more CPU (~0.1 s) than the walk.
 */
async function scanPackedHereFirst(root: string, mainWalkEntries: number): Promise<{ parts: ScanColumns[]; skipped: ScanSkip[] }> {
  const here = await walkHereFirst(root, mainWalkEntries);
  const results = await walkRestInPool(root, here.rest, 'all');
  return { parts: [packEntries(here.entries), ...results.map((r) => r.columns!)], skipped: [...here.skipped, ...results.flatMap((r) => r.skipped)] };
}

/** The top-level directories of a root's listing, in shares for the io threads (a few per thread, for balance). */
function shares(top: ScanTaskResult, threads: number): string[][] {
  return sharesOf(
    top.entries.filter((e) => e.kind === 'dir').map((e) => e.path),
    threads,
  );
}

/** Directories in shares for the io threads, in order (a few per thread, for balance). */
function sharesOf(dirs: string[], threads: number): string[][] {
  if (dirs.length === 0) return [];
  const n = Math.min(dirs.length, threads * 4);
  const per = Math.ceil(dirs.length / n);
  const parts: string[][] = [];
  for (let i = 0; i < dirs.length; i += per) parts.push(dirs.slice(i, i + per));
  return parts;
}

/** The rest of a whole-tree scan, given the root's listing: its directories in shares on the io threads. */
async function scanBelowTop(root: string, top: ScanTaskResult, cpuAtStart?: number): Promise<ScanTaskResult> {
  if (top.startedAt !== undefined) markAt('first readdir', top.startedAt, cpuAtStart);
  const { ioPool, poolThreads } = await pool();
  // a walk with a budget (startScans) leaves its rest; a root's listing alone, its directories
  const parts = top.rest ? sharesOf(top.rest, poolThreads()) : shares(top, poolThreads());
  if (parts.length === 0) return top;
  // in columns: the structured clone of an object per entry cost more than the lstats
  const results = await Promise.all(parts.map((below) => ioPool().run({ root, below, columns: true }, { name: 'scan' }) as Promise<ScanTaskResult>));
  const entries = top.entries;
  const skipped = top.skipped;
  for (const r of results) {
    for (const e of new ScanList([r.columns!])) entries.push(e);
    for (const k of r.skipped) skipped.push(k);
  }
  return { entries, skipped };
}


/** A listing block from another thread: a plain Uint8Array (the structured clone drops Buffer's prototype). */
const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * The whole tree below `root`, scanned in a plain worker thread of its own
 * (workers/scanThread.ts), in columns or (`listing`) as the binary listing's blocks; stop()
 * ends the thread. `top`: the root's own listing, made already (the thread walks below it);
 * `below`: only what is below these directories (the rest of a walk that stopped at its budget).
 * `feed`: a listing's full blocks go there as the thread walks (the result holds the last).
 * `after`: where the listing's encoding stands (its start was encoded on the main thread).
 */
export function scanInThread(root: string, listing = false, top?: ScanTaskResult, below?: string[], feed?: ListingFeed, after?: ListingResume): { result: Promise<ScanTaskResult>; stop: () => void } {
  let w: Worker;
  const result = new Promise<ScanTaskResult>((resolveScan, reject) => {
    // a young generation large enough for a whole listing: the entries all survive
    w = new (workerClass())(new URL('../workers/scanThread.js', import.meta.url), { workerData: { root, listing, top, below, stream: feed !== undefined, ...(after ? { after } : {}) }, resourceLimits: { maxYoungGenerationSizeMb: 64 } });
    // a listing's taker is a peer's request, which keeps the process up on its own: a
    // listing nobody takes must not hold the process at its end
    if (listing) w.unref();
    const onMessage = (m: ScanTaskResult | Uint8Array): void => {
      // with a feed, the listing's full blocks come first, one message each, as it walks
      if (m instanceof Uint8Array) return feed?.block(asBuffer(m));
      w.off('message', onMessage);
      w.unref(); // it ends by itself; the process need not wait for that
      if (m.listing) m.listing = m.listing.map(asBuffer);
      resolveScan(m);
    };
    w.on('message', onMessage);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`scan thread exited with ${code}`)));
  });
  result.catch(() => undefined); // a failure only means the full command scans
  return {
    result,
    stop: () => {
      w.unref();
      void w.terminate();
    },
  };
}

/** Scans started early, by absolute root: each taken by the first full scan of that root. */
/**
 * `likeForm` (serve --stdio's walk on its main thread): settles with the whole listing's like
 * form once that walk has ended, or undefined as soon as it is known there is none (a tree
 * too big for the main thread, a failed walk); absent for a walk that never makes one (an io
 * thread's). A peer's `like` waits for this, never for a whole scan whose blocks could be sent.
 * `likeDigest` (an io thread's walk asked for one: prescanListing's `likeDigest`): settles with
 * the digest of the whole listing's like form when the walk has ended (undefined if it failed).
 */
const early = new Map<string, { scan: Promise<ScanTaskResult>; startedMs: number; listing?: true; feed?: ListingFeed; likeForm?: Promise<Buffer[] | undefined>; likeDigest?: Promise<string | undefined>; start?: (digest?: boolean) => Promise<void> }>();
/**
 * An early scan asked for later than this after it started is not used: a command asks at
 * once (its own start-up, a handshake); a scan asked for much later may be of an older tree
 * (another program may have changed it meanwhile).
 */
const EARLY_SCAN_FRESH_MS = 30_000;

/**
 * Start the full scan of `root` (an absolute, resolved path) now. Only a head start: the
 * tree that takes it still checks its root first, and one nobody takes ends with the pools
 * (closePools at the command's end). A missing root lists as empty (the scan task's rule for the root).
 * `walked`: listRoot walked the tree with a budget (startScans), and its `rest` is what is
 * left to walk; else it listed the root alone, and its directories are.
 */
export function prescan(root: string, listRoot: (root: string) => ScanTaskResult, walked = false): void {
  if (early.has(root)) return;
  let p: Promise<ScanTaskResult>;
  try {
    const cpu = cpuMs();
    const top = listRoot(root);
    if (walked ? top.rest === undefined : !top.entries.some((e) => e.kind === 'dir')) flatRoots.add(root);
    p = walked && top.rest === undefined ? Promise.resolve(top) : scanBelowTop(root, top, cpu);
  } catch (err) {
    p = Promise.reject(err as Error);
  }
  p.catch(() => undefined); // the taker sees the failure; an untaken one is nobody's
  early.set(root, { scan: p, startedMs: Date.now() });
}

/**
 * The quick local check's pair of scans restricted to the items that differ (quickLocal.ts):
 * each of the two roots' scans leaves out the same top-level directories, equal on both
 * sides. Both scans carry the same object; planned together, the pair plans what the whole
 * scans would (syncTrees.ts). `totals`: the entries of the whole trees.
 */
export interface ScanRestriction {
  totals: { src: number; dst: number };
}

const restrictions = new WeakMap<ScanTaskResult, ScanRestriction>();

/** The restriction a scan result was offered with (offerScan), if any. */
export function restrictionOf(result: ScanTaskResult): ScanRestriction | undefined {
  return restrictions.get(result);
}

/**
 * A scan of `root` already made (the quick local sync's, src/engine/quickLocal.ts): the
 * tree's first scan() takes it, as it takes a prescan. Whole, or `restricted` (one of a
 * pair: ScanRestriction).
 */
export function offerScan(root: string, result: ScanTaskResult, restricted?: ScanRestriction): void {
  if (restricted) restrictions.set(result, restricted);
  early.set(root, { scan: Promise.resolve(result), startedMs: Date.now() });
  offeredRoots.add(root);
}

/** Roots whose scan the quick local check offered: a local rerun it found changed. */
const offeredRoots = new Set<string>();

/**
 * Roots whose early listing (prescan, on this thread) held no directory: their whole scan
 * is that listing, and no io thread walks any of it (a tiny tree, a missing destination).
 */
const flatRoots = new Set<string>();

/** Whether the command's early scan of `root` (startScans) found it small: walked whole on this thread, or with no directory. */
export function scannedSmall(root: string): boolean {
  return flatRoots.has(root);
}

/**
 * The early scan of `root`, once; undefined when none was started (or it was taken), and for
 * one made as a listing (prescanListing), which holds no entries: the caller scans.
 */
export function takePrescan(root: string): Promise<ScanTaskResult> | undefined {
  const e = early.get(root);
  early.delete(root);
  if (!e || e.listing || Date.now() - e.startedMs > EARLY_SCAN_FRESH_MS) return undefined;
  void e.start?.(); // one that walks when taken (prescanWhenTaken)
  return e.scan;
}

/** Whether an early scan of `root` is there to be taken. */
export function hasPrescan(root: string): boolean {
  return early.has(root);
}

/**
 * Start the whole scan of `root` (an absolute, real path) now, encoded as the binary listing:
 * `serve --stdio`'s tree, which its peer asks to scan right after the handshake
 * (src/cli/main.ts), walked on this thread (listOnMainThread; a tree of more than
 * `mainWalkEntries` leaves its rest to a scan thread). No piscina pool starts: a no-op never
 * needs one, and its threads cost more CPU to boot than the 20,000-entry scan itself. `inPool`:
 * on one io thread instead (`omirr serve`'s trees at open, where the pool is up). Taken by
 * LocalTree.scanListing; a whole-tree scan() asked instead walks again. `likeDigest` (with
 * `inPool`): the io thread takes the like form's digest too, for a peer that may ask whether
 * its listing is the same (capability `listing-same-any`).
 */
export async function prescanListing(root: string, inPool = false, mainWalkEntries = MAIN_WALK_ENTRIES, likeDigest = false): Promise<void> {
  if (early.has(root)) return;
  mark('early scans');
  let scan: Promise<ScanTaskResult>;
  let feed: ListingFeed | undefined;
  let likeForm: Promise<Buffer[] | undefined> | undefined;
  let digest: Promise<string | undefined> | undefined;
  if (inPool) {
    ({ scan, feed } = listInPool(root, likeDigest));
    if (likeDigest) digest = scan.then((r) => r.likeDigest, () => undefined);
  }
  else {
    const cpu = cpuMs();
    const top = await listRoot(root);
    if (early.has(root)) return;
    if (top.startedAt !== undefined) markAt('first readdir', top.startedAt, cpu);
    // its blocks handed on as the thread walks, as an io thread's (listInPool)
    feed = new ListingFeed();
    let formKnown!: (form: Buffer[] | undefined) => void;
    likeForm = new Promise((resolve) => (formKnown = resolve));
    scan = listOnMainThread(root, top, feed, mainWalkEntries, formKnown);
    const f = feed;
    scan.then(
      (r) => f.end(r),
      (err: Error) => {
        formKnown(undefined);
        f.fail(err);
      },
    );
  }
  scan.catch(() => undefined); // the taker scans again; an untaken one is nobody's
  early.set(root, { scan, startedMs: Date.now(), listing: true, ...(feed ? { feed } : {}), ...(likeForm ? { likeForm } : {}), ...(digest ? { likeDigest: digest } : {}) });
}

/**
 * `serve --stdio`'s walk (prescanListing), on this thread, right away: the tree's first
 * `mainWalkEntries` (MAIN_WALK_ENTRIES) entries walked and encoded as the listing's blocks
 * into `feed` before the command's modules load, and a bigger tree's rest in a scan thread
 * that goes on with the same encoding. Not in a thread from the start: the process has
 * nothing else to do until its peer's scan request (its modules, ~30-50 ms, then the
 * handshake), and a thread's boot took 75-125 ms of wall time before its first readdir on the far side of an ssh://
 * no-op (the near end and the far main thread loading modules beside it on two cores),
 * with ~30-40 ms of CPU (docs/performance.md, "ssh:// start-up (issue 12, this round)").
 */
async function listOnMainThread(root: string, top: ScanTaskResult, feed: ListingFeed, mainWalkEntries: number, formKnown: (form: Buffer[] | undefined) => void): Promise<ScanTaskResult> {
  const [{ scan: walk }, { LikeFormEncoder }] = await Promise.all([import('../workers/scanTask.js'), import('../core/likeForm.js')]);
  // the listing, and its like form for a peer's digest (capability listing-same)
  const encoder = new LikeFormEncoder();
  let streamed = 0;
  const post = (b: Buffer): void => {
    feed.block(b);
    streamed++;
  };
  for (const e of top.entries) {
    const b = encoder.add(e);
    if (b) post(b);
  }
  const dirs = top.entries.filter((e) => e.kind === 'dir').map((e) => e.path);
  const end = phase('walk at start');
  const leave = enterRootAlone(root);
  let walked: ScanTaskResult;
  try {
    walked = walk({ root, below: dirs, listing: true, budget: mainWalkEntries, ...(leave ? { fsRoot: '.' } : {}) }, { encoder, post });
  } finally {
    leave?.();
  }
  end();
  const skipped = top.skipped.concat(walked.skipped);
  const startedAt = top.startedAt !== undefined ? { startedAt: top.startedAt } : {};
  if (!walked.rest) {
    formKnown(encoder.form.end());
    return { entries: [], listing: walked.listing ?? [], skipped, streamed, ...startedAt };
  }
  // a big tree: no like form (its blocks go as they are encoded); the block begun here is
  // sent as it is, and a thread encodes the rest after it
  formKnown(undefined);
  for (const b of walked.listing ?? []) post(b);
  const r = await scanInThread(root, true, undefined, walked.rest, feed, encoder.resumeAt()).result;
  return { ...r, skipped: skipped.concat(r.skipped), streamed: streamed + (r.streamed ?? 0), ...startedAt };
}

/**
 * The root's own listing, on this thread: it comes before any of the command's modules load
 * (an io thread needs 30-100 ms to boot before it can list anything), and the thread walks
 * below it. A root that cannot be listed lists as empty here; the thread's walk below it
 * then finds nothing, and the taker reports what its own scan finds.
 */
async function listRoot(root: string): Promise<ScanTaskResult> {
  const { scan } = await import('../workers/scanTask.js');
  return scan({ root, recursive: false });
}

/**
 * The early scan of `sync`'s local end when the other end is remote: only the root is
 * listed now (before the command's modules load); the rest is walked on this thread when
 * the tree takes the scan (takePrescan), right after the tree's scan is asked for on both
 * ends. The main thread would wait idle for the other end's listing meanwhile (over ssh://,
 * ssh's login, the far side's node start and walk; over omirr://, the round trip and the
 * listing's transfer), so the walk costs no time there, and no thread is booted for it
 * (~30-40 ms of CPU, plus ~30 ms to pack its result in columns and unpack them: a plain
 * scan thread did it before, measured in docs/performance.md "Twelfth version"), nor any
 * piscina pool (openTree and syncTrees warm none for this tree: a no-op needs none, and a
 * transfer starts the pool with its first task). No walk at all when the sync fails before
 * it scans. A tree of more than `mainWalkEntries` leaves the rest of its walk to a scan thread.
 */
export async function prescanWhenTaken(root: string, mainWalkEntries = MAIN_WALK_ENTRIES): Promise<void> {
  if (early.has(root)) return;
  mark('early scans');
  const cpu = cpuMs();
  const top = await listRoot(root);
  if (early.has(root)) return;
  if (top.startedAt !== undefined) markAt('first readdir', top.startedAt, cpu);
  const { scan: walk } = await import('../workers/scanTask.js');
  let start!: (digest?: boolean) => Promise<void>;
  let started: Promise<void> | undefined;
  // the digest: asked for before the walk ran (taken right after it), or after (taken then);
  // once, and only of a tree walked whole here
  let digestWanted = false;
  let digestTaken = false;
  let walkedWhole: Entry[] | undefined;
  const scan = new Promise<ScanTaskResult>((resolveScan, reject) => {
    // a macrotask: the caller asks the other end for its scan first, in the same turn; once
    // (walkWhenTakenNow may have started it before it is taken). Settles once the walk, and
    // the digest when asked for, are done (or known not to come)
    start = (digest = false) => {
      if (digest) digestWanted = true;
      if (started) {
        // the digest asked for only once the walk had run without it: over ssh:// through
        // `serve --socket` the walk starts during ssh's login, and whether the server can
        // answer "the same" (listing-same-any) is known from its welcome
        if (digest && walkedWhole && !digestTaken) {
          digestTaken = true;
          const entries = walkedWhole;
          started = started
            .then(() => import('../workers/likeDigest.js'))
            .then((d) => {
              const endDigest = phase('listing digest');
              d.takeDigestAhead(entries);
              endDigest();
            })
            .catch(() => undefined);
        }
        return started;
      }
      let settle!: () => void;
      started = new Promise((r) => (settle = r));
      // the digest's modules are read while this thread walks (evaluated after it)
      const digester = digest ? import('../workers/likeDigest.js') : undefined;
      digester?.catch(() => undefined);
      setImmediate(() => {
        let digestLater = false;
        const end = phase('walk when taken');
        try {
          const dirs = top.entries.filter((e) => e.kind === 'dir').map((e) => e.path);
          // from inside the root when nothing else can be resolving a path meanwhile (enterRootAlone)
          const leave = enterRootAlone(root);
          lastWalkFromRoot = leave !== undefined;
          let below: ScanTaskResult;
          try {
            below = walk({ root, below: dirs, budget: mainWalkEntries, ...(leave ? { fsRoot: '.' } : {}) });
          } finally {
            leave?.();
          }
          const entries = top.entries.concat(below.entries);
          const skipped = top.skipped.concat(below.skipped);
          if (!below.rest) {
            resolveScan({ entries, skipped });
            walkedWhole = entries;
            // walked ahead of the scan request (ssh's login still runs): its digest too, in the
            // next turn, for the request to carry (workers/likeDigest.ts)
            if (digestWanted) {
              digestLater = true;
              digestTaken = true;
              setImmediate(() => {
                const endDigest = phase('listing digest');
                void (digester ?? import('../workers/likeDigest.js'))
                  .then((d) => d.takeDigestAhead(entries))
                  .then(endDigest, () => undefined)
                  .finally(settle);
              });
            }
          } else {
            // a big tree: the rest in a thread, while this one decodes the other end's listing
            scanInThread(root, false, undefined, below.rest).result.then((r) => {
              for (const e of new ScanList([r.columns!])) entries.push(e);
              resolveScan({ entries, skipped: skipped.concat(r.skipped) });
            }, reject);
          }
        } catch (err) {
          reject(err as Error);
        }
        end();
        if (!digestLater) settle();
      });
      return started;
    };
  });
  scan.catch(() => undefined); // the taker sees the failure; an untaken one is nobody's
  early.set(root, { scan, startedMs: Date.now(), start });
  whenTakenRoots.add(root);
}


/**
 * enterDir(root) for prescanWhenTaken's walk, only where nothing else can resolve a relative
 * path while the working directory is the root (it is the process's, shared by every thread):
 * - the walk is synchronous, so no JS of this thread runs until it has gone back: nothing is
 *   opened, spawned or imported meanwhile;
 * - no file system request of this thread is in flight on libuv's threads (one made before,
 *   of a path given relative, would resolve from the root): else the walk names its paths whole;
 * - prescanWhenTaken is called only by the CLI's `omirr sync` (src/cli/main.ts), a process of
 *   one command, never by the daemon or the API; its other threads (a pack or io thread, when
 *   any is up) are given absolute paths only (every tree's root is resolved), and load their
 *   modules by absolute URL;
 * - the scan thread that walks the rest of a big tree starts after the working directory is back.
 * What the walk reaches is the same: `.` is the root's directory itself (entered once, as the
 * whole path was resolved before, a symlinked root followed alike), each lstat and readdir
 * names a path below it that never follows a symlink, and a too-long path is refused as from
 * the root (scanTask.ts tooLongFromRoot). Skip reasons name the whole path (scanTask.ts).
 */
function enterRootAlone(root: string): (() => void) | undefined {
  if (process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq'))) return undefined;
  return enterDir(root);
}

let lastWalkFromRoot: boolean | undefined;

/** For tests: whether the last walk prescanWhenTaken made named its paths from inside the root (enterRootAlone). */
export function lastWalkWasFromRoot(): boolean | undefined {
  return lastWalkFromRoot;
}

/**
 * Start now the walks prescanWhenTaken left to when they are taken: for a caller that knows
 * this thread will wait idle for longer than a walk takes (sshTree once its hello and open
 * are written: ssh's login and the far side's start take 0.3-0.5 s, the walk ~0.1 s).
 * `digest`: take the walked listing's digest too, for a far side that can answer "the same"
 * (`serve --stdio`, and a server with capability `listing-same-any`). Settles once the
 * walks, and the digests asked for, are done.
 */
export async function walkWhenTakenNow(digest: boolean): Promise<void> {
  await Promise.all([...whenTakenRoots].map((root) => early.get(root)?.start?.(digest)));
}

/**
 * prescanWhenTaken walks at most this many entries on the main thread (~0.15 s cold), then
 * leaves the rest to a scan thread: a big tree's walk there would hold up the decoding of
 * the other end's listing, which arrives meanwhile (the two would run one after the other
 * instead of side by side).
 */
const MAIN_WALK_ENTRIES = 50_000;

/** Roots whose first scan was left by prescanWhenTaken to walk when taken: no pool to warm for them. */
const whenTakenRoots = new Set<string>();

/** Whether an early scan of `root` waits to walk on this thread until it is taken (prescanWhenTaken). */
export function walksWhenTaken(root: string): boolean {
  return early.get(root)?.start !== undefined;
}

/**
 * How many io threads to start early for a tree at `root` (openTree, syncTrees): none when
 * its first scan was left by prescanWhenTaken (a no-op then needs no pool, and a transfer
 * starts it with its first task); one for a local rerun the quick check found changed (its
 * few changed files are one copy batch; a second thread starts if a second batch queues, and
 * a thread's boot costs 40-100 ms of CPU); one for a root whose early listing held no
 * directory (flatRoots: its scan needs no thread, a copy's first batch one); else undefined:
 * all of them.
 */
export function ioThreadsToWarm(root: string): 0 | 1 | undefined {
  return whenTakenRoots.has(root) ? 0 : offeredRoots.has(root) || flatRoots.has(root) ? 1 : undefined;
}

/**
 * The whole tree as the binary listing's blocks, scanned by one io thread (prescanListing's
 * `inPool`): the blocks come through `feed` as the walk fills them (ScanTask.port).
 */
function listInPool(root: string, like: boolean): { scan: Promise<ScanTaskResult>; feed: ListingFeed } {
  const feed = new ListingFeed();
  const { MessageChannel } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (b: Uint8Array) => feed.block(asBuffer(b)));
  port1.unref(); // the peer's request keeps the process up; an untaken listing must not
  const scan = (async () => {
    const { ioPool } = await pool();
    const r = (await ioPool().run({ root, listing: true, port: port2, ...(like ? { like } : {}) }, { name: 'scan', transferList: [port2] })) as ScanTaskResult;
    r.listing = r.listing!.map(asBuffer);
    return r;
  })();
  scan.then(
    (r) => feed.end(r),
    (err: Error) => feed.fail(err),
  );
  // the port closes once the feed has every block (or the scan failed)
  void feed.settled.then(() => port1.close());
  return { scan, feed };
}

/**
 * The early listing of `root` (prescanListing), once, with what its scan left out;
 * undefined when there is none (or it was taken, or is stale).
 */
export function takePrescanListing(
  root: string,
): { scan: Promise<ScanTaskResult>; feed?: ListingFeed; likeForm?: Promise<Buffer[] | undefined>; likeDigest?: Promise<string | undefined> } | undefined {
  const e = early.get(root);
  if (!e?.listing) return undefined;
  early.delete(root);
  if (Date.now() - e.startedMs > EARLY_SCAN_FRESH_MS) return undefined;
  return { scan: e.scan, ...(e.feed ? { feed: e.feed } : {}), ...(e.likeForm ? { likeForm: e.likeForm } : {}), ...(e.likeDigest ? { likeDigest: e.likeDigest } : {}) };
}

/** The like form's digest of `root`'s early listing, untaken, when its io thread takes one (prescanListing's `likeDigest`; else undefined). */
export function prescanDigest(root: string): Promise<string | undefined> | undefined {
  return early.get(root)?.likeDigest;
}

/** The like form of `root`'s early listing (prescanListing), untaken, when its walk makes one (else undefined). */
export function prescanLikeForm(root: string): Promise<Buffer[] | undefined> | undefined {
  return early.get(root)?.likeForm;
}

/** Forget the early scan of `root`: the tree is about to change, so it would be stale. */
export function dropPrescan(root: string): void {
  early.delete(root);
}

/**
 * startScans walks at most this many entries of each root on the main thread (a few ms),
 * the rest in shares on the io threads: a small tree walked whole there needs no thread for
 * its scan (a thread's start is 50-100 ms of CPU), a big one's threads start a few ms later.
 */
const START_WALK_ENTRIES = 400;

/**
 * A command's head start (src/cli/main.ts): the scans of these local roots, then the rest of
 * the io threads. `real`: the roots as their real paths (how `serve --stdio` opens its
 * export), else resolved as LocalTree resolves a path. A root that cannot be resolved is left
 * to the command, which reports it. `ioThreads`: how many io threads to start (default: one
 * when every root was walked whole here, else all).
 */
export async function startScans(roots: string[], real: boolean, ioThreads?: number): Promise<void> {
  mark('early scans');
  // The roots are walked here, on the main thread, at once, up to START_WALK_ENTRIES each:
  // it has nothing else to do yet, and an io thread needs 30-100 ms to boot (a thread, node,
  // piscina, the task modules) before it can list anything. What is left goes to the threads.
  const { scan } = roots.length ? await import('../workers/scanTask.js') : { scan: undefined };
  let flat = roots.length > 0;
  for (const r of roots) {
    try {
      const root = real ? realpathSync(r) : resolve(r);
      prescan(root, (root) => scan!({ root, budget: START_WALK_ENTRIES }), true);
      flat &&= flatRoots.has(root);
    } catch {
      flat = false; /* missing: the command says so */
    }
  }
  // no more for roots walked whole (a small tree's first copy): the one, for the copy's first
  // batch; a second starts if a second batch queues (docs/performance.md, "Worker threads' start")
  (await pool()).warmPools(['io'], ioThreads ?? (flat ? 1 : undefined));
}
