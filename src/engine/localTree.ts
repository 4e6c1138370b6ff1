// A directory on this machine as a Tree. Every file-system call runs in the worker pools
// (src/workers): the main thread only moves control messages and whole buffers, so its
// event loop stays responsive while a daemon serves many peers. (The exceptions are asked
// for by a tree's options, for a command whose main thread waits meanwhile: oneScanThread
// and smallHere, mirror's small runs; and scanHereEntries, the first entries of a daemon's
// scans; they read and change metadata only, never a file's bytes: those are always
// written, read and hashed on a thread.)
import { chmod, mkdir, stat, utimes } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { entryFromStats, mtimeSeconds, type Entry } from '../core/entry.js';
import type { DeltaEndpoint, Expected, OpResult, PackOptions, PackRequest, RootAttrs, RootAttrsChange, ScanOptions, ScanSkip, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { extractPool, ioPool, poolThreads, warmPools } from '../workers/pool.js';
import type { ScanTaskResult } from '../workers/fsTasks.js';
import type { CopyResult } from '../workers/copyTasks.js';
import type { ExtractResult, FromExtract, PackCont, ToExtract } from '../workers/tarTasks.js';
import { blake3Available, tarHashFor, type HexHash } from '../workers/contentHash.js';
import { LazyDelta } from './lazyDelta.js';
import { mark } from './timing.js';
import { noteUnmirrorable } from './unmirrorable.js';
// (not ./paths.js, which re-exports the temporary's name with node:crypto)
import { assertSafeRelPath } from '../workers/paths.js';
import { dropPrescan, prescanLikeForm, restrictionOf, scanOneThread, scanParallel, scanParallelPacked, takePrescan, takePrescanListing, type ScanRestriction } from './localScan.js';
import { ScanList } from '../core/scanColumns.js';
import { expectedBuffers, packExpected } from '../core/expectedColumns.js';
import { isPackBuffer, markPackBuffer, takePackBuffer } from './packBuffers.js';

export interface LocalTreeOptions {
  writable: boolean;
  /** Create the root directory (and its parents) when it does not exist. */
  create?: boolean;
  log?: Logger;
  /** Partial files of expected files at least this large survive a broken transfer (default 1 MiB). */
  resumeMin?: number;
  /** Bytes of tar per pack batch (default 4 MiB). */
  batchBytes?: number;
  /**
   * Unpacks of up to this many files run in an io thread (started by the scan) instead of the
   * extract pool, whose thread start (50-100 ms of CPU) costs more than a small rerun's
   * writing. Default 0 (never): for a caller whose io threads are idle while files arrive
   * (mirror). One such unpack at a time and only with 2+ io threads, so a local source's
   * pack batches always keep a thread.
   */
  smallUnpackFiles?: number;
  /**
   * Whole-tree scans on this thread, a big tree's rest on one io thread (localScan.ts
   * scanOneThread), rather than on all the io threads.
   */
  oneScanThread?: boolean;
  /**
   * With oneScanThread: a big tree's rest on every io thread, in shares (a tree whose scan
   * is the slow part: mirror's local site).
   */
  restOnAllThreads?: boolean;
  /**
   * A short list of mkdir, symlink and attribute changes, and a small transfer's check for
   * partial files, run on this thread, no io thread started for them: for a caller whose
   * main thread waits for a site meanwhile (mirror, where such a thread's start cost more
   * CPU than a no-op rerun's work: docs/performance.md, "Fifty-sixth version"). Metadata only:
   * a file's bytes still go through a thread (unpack, copyFrom), however few.
   */
  smallHere?: boolean;
  /**
   * scanPacked walks a tree's first this many entries on this thread, the rest on the io
   * threads (localScan.ts scanPackedHereFirst): the daemon's, whose small trees' scans then
   * start no thread. Names and lstat only; a file's bytes are still hashed on a thread.
   * Default 0: all of it on the io threads.
   */
  scanHereEntries?: number;
}

/** LocalTreeOptions.smallHere: at most this many ops or files (quick copy's bound, workers/pairScan.ts QUICK_COPY_FILES). */
export const HERE_FILES = 512;
/** The only ops LocalTreeOptions.smallHere runs on this thread: each a call or two, never a tree's removal. */
const HERE_OPS = new Set<TreeOp['op']>(['mkdir', 'symlink', 'setattr']);

/**
 * The smallUnpackFiles of callers whose io threads sit idle while files arrive (mirror's
 * site, serve's tree): a rerun's few changed files (1 % of 20,000) are written by an io
 * thread instead of a freshly started extract thread, whose start cost 0.05-0.1 s of a
 * 0.8 s rerun's CPU.
 */
export const SMALL_UNPACK_FILES = 1000;

/** How long a scan with `like` waits for an io thread's walk to end before its blocks go out as walked (scanListing). */
const LIKE_WAIT_MS = 20;

/** `p`'s value if it settles within `ms`, else undefined (a rejection: undefined). */
async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(r, ms, undefined)));
  try {
    return await Promise.race([p.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Unpacks under way in the io pool (LocalTreeOptions.smallUnpackFiles): at most one. */
let ioUnpacks = 0;

/** A tar stream was refused (unsafe path, unexpected entry, malformed header). */
export class UnsafeStreamError extends Error {
  override name = 'UnsafeStreamError';
}

export interface LocalUnpackResult extends UnpackResult {
  resumedBytes: number;
  /** The stream broke off before its end (partial large files kept for resume). */
  aborted?: string;
}

const PATHS_PER_HASH_TASK = 64;
/** Unacknowledged bytes in flight to an extract worker: flow-control credit. */
const EXTRACT_CREDIT_BYTES = 16 << 20;
/** Small chunks (socket reads) are gathered into messages of about this size. */
const COALESCE_BYTES = 1 << 20;
/** Size of the reusable gather buffers: a flush past COALESCE_BYTES still fits one frame more. */
const GATHER_BYTES = 2 * COALESCE_BYTES;
/**
 * Gather buffers for small flushes (a small file from a site, one per event-loop turn): a
 * GATHER_BYTES buffer each, while the acks that return them were still on their way, made
 * 2 MiB of fresh memory per file and a full garbage collection every few hundred files.
 */
const SMALL_GATHER_BYTES = 64 * 1024;
/** Small gather buffers kept for reuse (2 MiB in all). */
const SMALL_SPARES = 32;
/** Ops per apply task: order matters (parents first), so batches run one after another. */
const OPS_PER_TASK = 2000;
/**
 * A local copy task: small enough that both io threads stay busy and that two tasks running
 * at once usually write into different directories (creates in one directory serialise),
 * large enough that messages are few (512 against 128 files: ~3 % less CPU for 20,000
 * small files, 40 tasks instead of 157).
 */
const COPY_FILES_PER_TASK = 512;
const COPY_BYTES_PER_TASK = 16 << 20;

/** Whether copyFrom cuts a new task before a file of `size`, its current one holding `files` files of `bytes`. */
function cutsCopyTask(files: number, bytes: number, size: number): boolean {
  return files > 0 && (files >= COPY_FILES_PER_TASK || bytes + size > COPY_BYTES_PER_TASK);
}

/**
 * How many copy tasks copyFrom would cut for these entries' files: the io threads a local
 * copy of them can keep busy (syncTrees warms no more: a thread's start is 50-100 ms of CPU).
 */
export function copyTaskCount(entries: Iterable<Pick<Entry, 'kind' | 'size'>>): number {
  let tasks = 0;
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    if (files === 0 || cutsCopyTask(files, bytes, e.size)) {
      tasks++;
      files = 0;
      bytes = 0;
    }
    files++;
    bytes += e.size;
  }
  return tasks;
}

async function rootMissing(root: string): Promise<boolean> {
  try {
    await stat(root);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * The plain pack thread's runners (workers/packer.ts) and the tar format, loaded at a
 * transfer's first need: `prepareTransfer` (a far end's `prepare`, the caller's as soon as
 * the listings differ), else the first pack, unpack or apply. A no-op never loads them:
 * `serve --stdio` loaded them at `open` (~9 ms before its answer, docs/performance.md).
 */
let transferModules: Promise<[typeof import('../workers/packer.js'), typeof import('../workers/tarFormat.js')]> | undefined;
function loadTransfer(): Promise<[typeof import('../workers/packer.js'), typeof import('../workers/tarFormat.js')]> {
  return (transferModules ??= Promise.all([import('../workers/packer.js'), import('../workers/tarFormat.js')]));
}

export class LocalTree implements Tree {
  readonly root: string;
  readonly label: string;
  readonly writable: boolean;
  private readonly log: Logger;
  private readonly create: boolean;
  private readonly resumeMin: number;
  private readonly batchBytes: number;
  /** LocalTreeOptions.smallUnpackFiles (syncTrees starts no extract thread for such an unpack). */
  readonly smallUnpackFiles: number;
  private readonly oneScanThread: boolean;
  private readonly scanHereEntries: number;
  private readonly smallHere: boolean;
  private readonly restOnAllThreads: boolean;
  private rootReady: Promise<void> | undefined;
  /** Delta transfers of changed files (src/engine/localDelta.ts). */
  readonly delta: DeltaEndpoint;

  /** BLAKE3 where the binding is installed (asked only when a verifying stream is made: no start-up cost). */
  get tarHashes(): readonly 'blake3'[] {
    return blake3Available() ? BLAKE3_ONLY : [];
  }

  /** Its unpack reads a hash in a ustar header (TarParser), its pack writes one when asked. */
  readonly tarHashInHeader = true;

  constructor(root: string, opts: LocalTreeOptions) {
    this.root = resolvePath(root);
    this.label = this.root;
    this.writable = opts.writable;
    this.create = opts.create ?? false;
    this.log = opts.log ?? silentLogger;
    this.resumeMin = opts.resumeMin ?? 1 << 20;
    this.batchBytes = opts.batchBytes ?? 4 << 20;
    this.smallUnpackFiles = opts.smallUnpackFiles ?? 0;
    this.oneScanThread = opts.oneScanThread ?? false;
    this.scanHereEntries = opts.scanHereEntries ?? 0;
    this.smallHere = opts.smallHere ?? false;
    this.restOnAllThreads = opts.restOnAllThreads ?? false;
    this.delta = new LazyDelta((m) => new m.LocalDelta(this.root, () => this.ready(), (what) => this.assertWritable(what), this.log));
  }

  /** Tree.prepareTransfer: a pack, unpack or apply follows; their modules load now, while the plan is made. */
  prepareTransfer(): void {
    loadTransfer().catch(() => undefined);
  }

  /** Create a missing root now (when `create` was asked): a sync of an empty source still makes its destination. */
  async ensureRoot(): Promise<void> {
    await this.ready();
  }

  /** The root must be a directory; created on first write when `create` was asked. */
  private ready(): Promise<void> {
    this.rootReady ??= (async () => {
      try {
        const st = await stat(this.root);
        if (!st.isDirectory()) throw new Error(`${this.root}: not a directory`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (!this.create) throw new Error(`${this.root}: no such directory`);
        await mkdir(this.root, { recursive: true });
      }
    })();
    return this.rootReady;
  }

  /** The root directory's own mode and mtime (followed, as rsync follows DST/); undefined when it is missing or not a directory. */
  async rootAttrs(): Promise<RootAttrs | undefined> {
    try {
      const e = entryFromStats('', await stat(this.root, { bigint: true }));
      if (e.kind !== 'dir') return undefined;
      return { mode: e.mode & 0o7777, mtimeMs: e.mtimeMs, ...(e.mtimeNs !== undefined ? { mtimeNs: e.mtimeNs } : {}) };
    } catch {
      return undefined;
    }
  }

  async setRootAttrs(a: RootAttrsChange): Promise<void> {
    this.assertWritable('the root\'s attributes');
    await this.ready();
    await chmod(this.root, a.mode & 0o7777);
    if (a.mtimeMs !== undefined) {
      const t = mtimeSeconds({ mtimeMs: a.mtimeMs, ...(a.mtimeNs !== undefined ? { mtimeNs: a.mtimeNs } : {}) });
      await utimes(this.root, Date.now() / 1000, t);
    }
  }

  private assertWritable(what: string): void {
    if (!this.writable) throw new Error(`${this.label}: read-only tree, refusing ${what}`);
    // every change goes through here: an early scan (localScan.ts) taken after it would be stale
    dropPrescan(this.root);
  }

  /**
   * Set by each whole scan: the restriction of the scan it took, when that was one of the
   * quick local check's restricted pair (localScan.ts ScanRestriction), else undefined.
   * syncTrees plans such a scan only with its pair.
   */
  scanRestriction: ScanRestriction | undefined;

  async scan(opts: ScanOptions = {}): Promise<Entry[]> {
    if (!opts.subtree && opts.recursive !== false) this.scanRestriction = undefined;
    // A destination that does not exist yet scans as empty and is created by the first
    // write, not here: a sync whose source turns out to be missing must create nothing.
    if (this.create && this.rootReady === undefined && (await rootMissing(this.root))) return [];
    await this.ready();
    if (opts.subtree) assertSafeRelPath(opts.subtree);
    const part = opts.recursive === false || Boolean(opts.subtree);
    const r = part
      ? ((await ioPool().run({ root: this.root, recursive: opts.recursive, subtree: opts.subtree }, { name: 'scan' })) as ScanTaskResult)
      : await (takePrescan(this.root) ?? (this.oneScanThread ? scanOneThread(this.root, undefined, this.restOnAllThreads ? 'all' : 'one') : scanParallel(this.root)));
    if (!part) this.scanRestriction = restrictionOf(r);
    this.reportSkipped(r.skipped, opts, !part);
    if (opts.withHashes) {
      const files = r.entries.filter((e) => e.kind === 'file');
      const hashes = await this.hashFiles(files.map((e) => e.path));
      for (const e of files) {
        const h = hashes.get(e.path);
        if (h) e.hash = h;
      }
    }
    return r.entries;
  }

  /** Tree.warmListingDigest: the digest of the early listing's like form (`serve --stdio`), taken now and kept for scanListing. */
  warmListingDigest(): void {
    const form = prescanLikeForm(this.root);
    if (form) void form.then(async (f) => f && (await import('../workers/likeDigest.js')).formDigest(f)).catch(() => undefined);
  }

  /**
   * The whole tree's listing already encoded by the thread that scanned it, when a command
   * started that scan early (localScan.ts prescanListing: `serve --stdio`); else undefined.
   * 'same' when `like` is the digest of its like form (the peer's listing stands for it).
   */
  async scanListing(opts: Pick<ScanOptions, 'onSkipped'> & { like?: string } = {}): Promise<Iterable<Buffer> | AsyncIterable<Buffer> | 'same' | undefined> {
    const early = takePrescanListing(this.root);
    if (!early) return undefined;
    // as scan(): a missing root that a writer creates lists as empty (scan() says so)
    if (this.create && this.rootReady === undefined && (await rootMissing(this.root))) return undefined;
    await this.ready();
    if (opts.like !== undefined && early.likeForm) {
      // the peer's listing has the same like form as this one: nothing to send. Only a walk
      // that makes a like form is waited for (serve --stdio's main thread: it has ended when
      // the form is there); an io thread's blocks, or a big tree's, go out as they are walked
      const form = await early.likeForm;
      if (form && (await import('../workers/likeDigest.js')).formDigest(form) === opts.like) {
        const r = await early.scan;
        this.reportSkipped(r.skipped, opts, true);
        return 'same';
      }
    }
    if (opts.like !== undefined && early.likeDigest) {
      // an io thread's walk that takes its like form's digest (`omirr serve`, for a peer with
      // listing-same-any, which sent its own after its walk): the same digest, nothing to
      // send. The walk is waited for at most LIKE_WAIT_MS: one still running after that
      // sends its blocks as it goes, as for a scan without `like` (waiting for its end held
      // a 1 % re-run's first block back by the rest of the walk: docs/performance.md)
      if ((await settledWithin(early.likeDigest, LIKE_WAIT_MS)) === opts.like) {
        const r = await early.scan;
        this.reportSkipped(r.skipped, opts, true);
        return 'same';
      }
    }
    // blocks handed on as the io thread walks (`omirr serve`): a scan that failed before its
    // first block is walked again by scan(); one that fails later fails the peer's call
    if (early.feed) return (await early.feed.started) ? early.feed.read((r) => this.reportSkipped(r.skipped, opts, true)) : undefined;
    let r: ScanTaskResult;
    try {
      r = await early.scan;
    } catch {
      return undefined; // the thread failed: scan() walks again and reports what it finds
    }
    if (!r.listing) return undefined;
    this.reportSkipped(r.skipped, opts, true);
    return r.listing;
  }

  /**
   * The whole tree, as scan() without options gives it, its entries packed in columns on the
   * io threads and made one by one as they are iterated (src/core/scanColumns.ts): the
   * daemon's scans of big trees.
   */
  async scanPacked(opts: Pick<ScanOptions, 'onSkipped'> = {}): Promise<ScanList> {
    if (this.create && this.rootReady === undefined && (await rootMissing(this.root))) return new ScanList([]);
    await this.ready();
    const r = await scanParallelPacked(this.root, this.scanHereEntries);
    this.reportSkipped(r.skipped, opts, true);
    return new ScanList(r.parts);
  }

  private reportSkipped(skipped: ScanSkip[], opts: Pick<ScanOptions, 'onSkipped'>, wholeTree: boolean): void {
    for (const s of skipped) {
      // unmirrorable entries are a failure of the mirror, never quietly left out
      this.log.warn({ tree: this.label, path: s.path }, s.unmirrorable ? `not mirrored: ${s.reason}` : `skipped: ${s.reason}`);
      opts.onSkipped?.(s);
    }
    if (wholeTree) noteUnmirrorable(this.label, skipped);
  }

  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [p, h] of await this.runHashTasks(paths)) if (h !== null) out.set(p, h);
    return out;
  }

  /**
   * Like hashFiles, and files of at most `keepUpTo` bytes come back with their content
   * (read once, in the worker: the bytes returned are the bytes hashed) and `stat`, the
   * file's entry (no hash) as it was when those bytes were read (fsTasks.ts, hash).
   */
  async hashFilesKeeping(paths: string[], keepUpTo: number): Promise<Map<string, { hash: string; data?: Buffer; stat?: Entry }>> {
    const out = new Map<string, { hash: string; data?: Buffer; stat?: Entry }>();
    for (const [p, h, d, st] of await this.runHashTasks(paths, keepUpTo)) {
      if (h === null) continue;
      out.set(p, d ? { hash: h, data: Buffer.from(d.buffer, d.byteOffset, d.byteLength), ...(st ? { stat: st } : {}) } : { hash: h });
    }
    return out;
  }

  /** The io pool's hash task over `paths`, in batches that run on every thread at once. */
  private async runHashTasks(paths: string[], keepUpTo?: number): Promise<Array<[string, string | null, Uint8Array?, Entry?]>> {
    await this.ready();
    const batches: string[][] = [];
    for (let i = 0; i < paths.length; i += PATHS_PER_HASH_TASK) batches.push(paths.slice(i, i + PATHS_PER_HASH_TASK));
    const results = await Promise.all(
      batches.map((b) => ioPool().run({ root: this.root, paths: b, ...(keepUpTo !== undefined ? { keepUpTo } : {}) }, { name: 'hash' }) as Promise<Array<[string, string | null, Uint8Array?, Entry?]>>),
    );
    return results.flat();
  }

  pack(files: PackRequest[], opts: PackOptions = {}): Readable {
    for (const f of files) assertSafeRelPath(f.path);
    this.prepareTransfer();
    const verify = opts.verify === true;
    return new PackStream(this.root, files, this.batchBytes, this.log, this.ready(), verify, verify && opts.blake3 === true && blake3Available(), verify && opts.hashInHeader === true);
  }

  /**
   * Tree.prepareReceive: an unpack of more files than an io thread takes (smallUnpackFiles)
   * runs in an extract thread, which `omirr serve` does not keep up (a no-op or a small
   * change never needs one). Booted now, with the tar tasks loaded, while the peer plans: a
   * first copy's unpack waited 230-760 ms for it (load 6-8), its sender stalled after the
   * first window meanwhile (docs/performance.md, "First copy over the network").
   */
  prepareReceive(files: number): void {
    if (!this.writable || this.smallUnpackFiles === 0 || files <= this.smallUnpackFiles) return;
    warmPools(['extract'], 1, 'tarWarm');
  }

  async unpack(tar: Readable, expect: Expected[]): Promise<LocalUnpackResult> {
    // An error before the listeners below are on (a peer's error answer to a fetch can come
    // while the tree gets ready) is kept for them, not thrown as an unhandled 'error' event.
    let early: Error | undefined;
    const onEarly = (err: Error): void => {
      early ??= err;
    };
    tar.on('error', onEarly);
    this.assertWritable('unpack');
    const modules = loadTransfer();
    await this.ready();
    const [{ runSmallUnpack }] = await modules;
    for (const e of expect) assertSafeRelPath(e.path);
    const { port1, port2 } = new MessageChannel();
    // a worker waiting on the port between tasks would not see its messages (pool.ts), but
    // during a task an io thread runs its event loop like any other
    // the expected files in columns, their typed arrays moved (not copied) with the port
    const columns = packExpected(expect);
    const transferList = [port2, ...expectedBuffers(columns)];
    const job = { root: this.root, expect: columns, port: port2, chown: process.getuid?.() === 0, resumeMin: this.resumeMin };
    // a small one on the plain pack thread a pull started for it (workers/packer.ts), if free
    const onThread = expect.length <= this.smallUnpackFiles ? runSmallUnpack(job, transferList) : undefined;
    const inIo = !onThread && expect.length <= this.smallUnpackFiles && ioUnpacks === 0 && poolThreads() >= 2;
    if (inIo) ioUnpacks++;
    const task = onThread ?? ((inIo ? ioPool() : extractPool()).run(job, { name: 'extract', transferList }) as Promise<ExtractResult>);
    if (inIo) {
      const done = (): void => {
        ioUnpacks--;
      };
      task.then(done, done);
    }
    // Flow control in bytes: chunks from a socket are small (a frame, or a TLS record's
    // worth), so they are gathered into messages of up to COALESCE_BYTES (one copy, which a
    // view into a socket buffer needs anyway) and at most EXTRACT_CREDIT_BYTES are in flight.
    let inflight = 0;
    let refused: string | undefined;
    let closed = false;
    let pend: Buffer[] = [];
    let pendBytes = 0;
    let scheduled = false;
    const post = (m: ToExtract, transfer?: ArrayBuffer[]): void => {
      if (!closed) port1.postMessage(m, transfer);
    };
    const send = (ab: ArrayBuffer, length: number): void => {
      post({ chunk: ab, length }, [ab]);
      inflight += length;
      if (inflight >= EXTRACT_CREDIT_BYTES && !tar.isPaused()) tar.pause();
    };
    // Gather buffers come back with the worker's acks: reused, no page faults on fresh memory.
    const spare: ArrayBuffer[] = [];
    const spareSmall: ArrayBuffer[] = [];
    const flush = (): void => {
      scheduled = false;
      if (pendBytes === 0) return;
      const size = pendBytes <= SMALL_GATHER_BYTES ? SMALL_GATHER_BYTES : pendBytes <= GATHER_BYTES ? GATHER_BYTES : pendBytes;
      const reuse = size === SMALL_GATHER_BYTES ? spareSmall.pop() : size === GATHER_BYTES ? spare.pop() : undefined;
      // its own ArrayBuffer, not zero-filled
      const u = reuse ? Buffer.from(reuse, 0, pendBytes) : Buffer.allocUnsafeSlow(size).subarray(0, pendBytes);
      let at = 0;
      for (const c of pend) {
        u.set(c, at);
        at += c.length;
      }
      pend = [];
      const n = pendBytes;
      pendBytes = 0;
      send(u.buffer as ArrayBuffer, n);
    };
    port1.on('message', (m: FromExtract) => {
      if ('ack' in m) {
        inflight -= m.ack;
        if (m.buf && m.buf.byteLength === GATHER_BYTES && spare.length < 4) spare.push(m.buf);
        else if (m.buf && m.buf.byteLength === SMALL_GATHER_BYTES && spareSmall.length < SMALL_SPARES) spareSmall.push(m.buf);
        if (inflight < EXTRACT_CREDIT_BYTES && tar.isPaused() && !refused) tar.resume();
      } else {
        // refused: stop reading, close the source (for a socket: the connection)
        refused = m.fatal;
        tar.destroy();
      }
    });
    tar.on('data', (chunk: Buffer) => {
      // Ownership contract: unpack() takes the chunks it reads. A large chunk that spans its
      // whole ArrayBuffer, or a buffer our own pack produced, is transferred to the worker
      // (no copy); others are copied (gathered).
      const whole = chunk.byteLength === chunk.buffer.byteLength && chunk.byteLength >= 65536;
      if (chunk.byteOffset === 0 && chunk.buffer instanceof ArrayBuffer && (whole || isPackBuffer(chunk.buffer))) {
        flush();
        send(chunk.buffer, chunk.length);
        return;
      }
      pend.push(chunk);
      pendBytes += chunk.length;
      if (pendBytes >= COALESCE_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
    tar.on('end', () => {
      flush();
      post({ end: true });
    });
    tar.on('error', (err: Error) => {
      flush();
      post({ abort: err.message });
    });
    tar.on('close', () => {
      // destroyed without 'end' or 'error' (e.g. a socket closed under us)
      flush();
      if (!tar.readableEnded) post({ abort: 'stream closed before its end' });
    });
    tar.off('error', onEarly);
    // destroyed while we got ready: its 'error' and 'close' are gone by now
    if (tar.destroyed && !tar.readableEnded) post({ abort: early?.message ?? 'stream closed before its end' });
    // a stream its caller paused until we read (executePlan counts the bytes on it) flows now
    else if (tar.isPaused()) tar.resume();
    try {
      const r = await task;
      if (r.fatal) {
        refused ??= r.fatal;
        tar.destroy();
        throw new UnsafeStreamError(`${this.label}: tar stream refused: ${refused}`);
      }
      if (r.aborted) this.log.warn({ tree: this.label, reason: r.aborted }, 'transfer broken off; partial large files kept for resume');
      return { written: r.written, failed: r.failed, bytes: r.bytes, resumedBytes: r.resumedBytes, ...(r.aborted ? { aborted: r.aborted } : {}) };
    } finally {
      closed = true;
      port1.close();
    }
  }

  /**
   * Copy files from another local tree straight into this one, in batches on every io
   * thread at once (no tar in between: src/workers/copyTasks.ts). Same rules as unpack for
   * what lands here; `onBatch` reports each finished batch (progress).
   */
  async copyFrom(
    src: LocalTree,
    files: Expected[],
    opts: { onBatch?: (files: number, bytes: number) => void; signal?: AbortSignal } = {},
  ): Promise<LocalUnpackResult> {
    this.assertWritable('copy');
    await Promise.all([this.ready(), src.ready()]);
    const chown = process.getuid?.() === 0;
    const out: LocalUnpackResult = { written: [], failed: [], bytes: 0, resumedBytes: 0 };
    // Each batch goes to the pool as soon as it is cut: the io threads start on the first
    // while the main thread cuts and posts the rest. Checking every path here first, then
    // cutting all batches, kept both io threads idle for ~30 ms of a first copy's critical
    // path (20,000 files; docs/performance.md). No path is checked here: the copy task checks
    // each one (assertSafeRelPath) before it opens anything, and an unsafe one fails alone,
    // named in `failed` (never silent, nothing written outside the root).
    const runs: Array<Promise<void>> = [];
    const post = (b: Expected[]): void => {
      runs.push(
        (
          ioPool().run({ srcRoot: src.root, dstRoot: this.root, files: b, chown }, { name: 'copyFiles', ...(opts.signal ? { signal: opts.signal } : {}) }) as Promise<CopyResult>
        ).then((r) => {
          out.written.push(...r.written);
          out.failed.push(...r.failed);
          out.bytes += r.bytes;
          opts.onBatch?.(r.written.length + r.failed.length, r.bytes);
        }),
      );
    };
    let cur: Expected[] = [];
    let bytes = 0;
    for (const f of files) {
      if (cutsCopyTask(cur.length, bytes, f.size)) {
        post(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(f);
      bytes += f.size;
    }
    if (cur.length > 0) post(cur);
    await Promise.all(runs);
    return out;
  }

  async resumeOffsets(expect: Expected[]): Promise<Map<string, number>> {
    await this.ready();
    const large = expect.filter((e) => e.size >= this.resumeMin);
    if (large.length === 0) return new Map();
    // a few lstats: here for a small transfer's (smallHere)
    const here = this.smallHere && large.length <= HERE_FILES;
    const r = here ? (await import('../workers/fsTasks.js')).partSizes({ root: this.root, expect: large }) : ((await ioPool().run({ root: this.root, expect: large }, { name: 'partSizes' })) as Array<[string, number]>);
    return new Map(r);
  }

  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    this.assertWritable('changes');
    const modules = loadTransfer();
    await this.ready();
    const [{ runTreeOps }] = await modules;
    const out: OpResult[] = [];
    const chown = process.getuid?.() === 0;
    for (let i = 0; i < ops.length; i += OPS_PER_TASK) {
      const batch = ops.slice(i, i + OPS_PER_TASK);
      const task = { root: this.root, ops: batch, chown };
      // a few light ones here (smallHere), else on a pull's plain pack thread while it is up
      // and free (workers/packer.ts), else in the io pool
      if (this.smallHere && batch.length <= HERE_FILES && batch.every((o) => HERE_OPS.has(o.op))) {
        out.push(...(await import('../workers/fsTasks.js')).apply(task));
        continue;
      }
      out.push(...(await (runTreeOps(task) ?? (ioPool().run(task, { name: 'apply' }) as Promise<OpResult[]>))));
    }
    return out;
  }

  async close(): Promise<void> {
    // nothing held: the worker pools are shared (closePools() at exit)
  }
}


/** Most files offered to one pack batch (it takes as many as fit in its byte budget). */
const ITEMS_PER_BATCH = 1024;

/**
 * The tar stream of a set of files, produced batch by batch in the io pool. While the
 * consumer takes one batch the next is being read (highWaterMark of two batches).
 */
class PackStream extends Readable {
  private idx = 0;
  /**
   * Files offered to the next batch: twice what the last one took (the list is cloned into
   * the worker, and a 4 MiB batch of 1-16 KiB files takes ~270 of 1024), never fewer than 16.
   */
  private offer = ITEMS_PER_BATCH;
  private cont: PackCont | null = null;
  private busy = false;
  /**
   * Verify: whole-file hashes of the large files coming up (size hint above one batch),
   * computed on another io thread while the batches before them are packed. A file that
   * spans batches must be hashed before its header goes out (no hash state can follow its
   * batches from thread to thread); hashed in its own batch, it stopped the stream for
   * ~0.2 s per 256 MiB. At most AHEAD_FILES at a time.
   */
  private readonly ahead = new Map<string, { done: Promise<void>; hash?: HexHash }>();
  /** Where the look-ahead goes on from (it only moves forward). */
  private aheadPos = 0;

  constructor(
    private readonly root: string,
    private readonly files: PackRequest[],
    private readonly cap: number,
    private readonly log: Logger,
    private readonly rootReady: Promise<void>,
    private readonly verify: boolean,
    /** (verify) large files go with their BLAKE3 (tarHashFor) */
    private readonly blake3: boolean,
    /** (verify) the hash in a plain entry's ustar header (PackOptions.hashInHeader) */
    private readonly hashInHeader = false,
  ) {
    super({ highWaterMark: 2 * cap });
  }

  override _read(): void {
    if (this.busy) return;
    this.busy = true;
    this.nextBatch().catch((err: Error) => this.destroy(err));
  }

  private async nextBatch(): Promise<void> {
    await this.rootReady;
    const [{ runPackBatch }, { END_OF_ARCHIVE }] = await loadTransfer();
    if (!this.cont && this.idx >= this.files.length) {
      this.push(END_OF_ARCHIVE);
      this.push(null);
      return;
    }
    const items = this.files.slice(this.idx, this.idx + this.offer);
    const hashes = this.verify ? await this.hashesFor(items) : undefined;
    // a released buffer of an earlier batch, when there is one (src/engine/packBuffers.ts)
    const buf = takePackBuffer(this.cap);
    // (OMIRR_TIMING: when the stream's first batch is asked for and packed, against `pack thread up`)
    const first = this.idx === 0 && !this.cont;
    if (first) mark(`first batch due (${items.length})`);
    // on the pack thread a push started, when it is free (workers/packer.ts), else in the io pool
    const r = await runPackBatch(
      { root: this.root, items, cont: this.cont, cap: this.cap, verify: this.verify, blake3: this.blake3, ...(this.hashInHeader ? { hashInHeader: true } : {}), ...(hashes ? { hashes } : {}), ...(buf ? { buf } : {}) },
      buf ? [buf] : [],
    );
    if (first) mark(`first batch packed (${r.consumed})`);
    for (let i = 0; i < r.consumed; i++) this.ahead.delete(items[i]!.path);
    this.idx += r.consumed;
    this.offer = Math.min(ITEMS_PER_BATCH, Math.max(16, 2 * r.consumed));
    this.cont = r.cont;
    for (const e of r.errors) this.log.warn({ tree: this.root, path: e.path }, `not sent: ${e.error}`);
    this.busy = false;
    if (this.destroyed) return;
    if (r.length > 0) {
      markPackBuffer(r.buf, r.length);
      this.push(Buffer.from(r.buf, 0, r.length));
    }
    else this._read(); // a batch of only unreadable files: go on
  }

  /**
   * The look-ahead hashes this batch can use: the first item's is waited for (the batch
   * would hash it anyway), later ones only if ready. Starts the next ones.
   */
  private async hashesFor(items: PackRequest[]): Promise<Record<string, HexHash> | undefined> {
    this.hashAhead();
    const first = !this.cont && items[0] ? this.ahead.get(items[0].path) : undefined;
    if (first) await first.done;
    let out: Record<string, HexHash> | undefined;
    for (const it of items) {
      const h = this.ahead.get(it.path)?.hash;
      if (h) (out ??= {})[it.path] = h;
    }
    return out;
  }

  private hashAhead(): void {
    this.aheadPos = Math.max(this.aheadPos, this.idx);
    for (; this.aheadPos < this.files.length && this.ahead.size < AHEAD_FILES; this.aheadPos++) {
      const f = this.files[this.aheadPos]!;
      if ((f.size ?? 0) - (f.offset ?? 0) < this.cap / 2 || this.ahead.has(f.path)) continue;
      const entry: { done: Promise<void>; hash?: HexHash } = { done: Promise.resolve() };
      const alg = tarHashFor(f.size ?? 0, this.blake3);
      entry.done = (ioPool().run({ root: this.root, paths: [f.path], alg }, { name: 'hash' }) as Promise<Array<[string, string | null]>>).then(
        (r) => {
          const hex = r[0]?.[1];
          if (hex) entry.hash = { alg, hex };
        },
        () => undefined, // the batch hashes it itself (and reports what is wrong with it)
      );
      this.ahead.set(f.path, entry);
    }
  }
}

const BLAKE3_ONLY: readonly 'blake3'[] = Object.freeze(['blake3'] as const);

/** Large files hashed ahead of the pack stream at a time (verify). */
const AHEAD_FILES = 2;
