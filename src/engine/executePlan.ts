// Carries out a SyncPlan between two Trees, as a transferSession actor:
//   transferring: remove what is in the way (plan.replaced), create directories, then send
//                 the files in a few parallel tar streams (resuming partial large files);
//   applying:     symlinks, attributes, deletes (or saves), and last the directories'
//                 modes and mtimes, since every write inside a directory changes its mtime.
import { availableParallelism } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import type { InspectionEvent } from 'xstate';
import { mtimeOf, type Entry } from '../core/entry.js';
import type { SyncPlan } from '../core/plan.js';
import type { DeltaHash, Signature } from '../core/delta.js';
import type { DeltaEndpoint, Expected, OpResult, PackRequest, Tree, TreeOp, UnpackResult } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { LocalTree } from './localTree.js';
import { DELTA_MIN, deltaCandidates, strongAlgOf, type SignaturesAhead } from './deltaCandidates.js';
import { parentOf } from './paths.js';
import { emptyResult, withPartialResult, type SyncResult } from './syncResult.js';
import { phase } from './timing.js';
import { refusalOf } from '../core/refusedFiles.js';

export interface Progress {
  phase: 'scanning' | 'planning' | 'transferring' | 'applying' | 'done';
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  bytesDone: number;
  /** Bytes per second since the transfer began. */
  rate: number;
  /** Seconds to go at that rate, when known. */
  etaSec?: number;
}

export interface ExecuteOptions {
  /** Plan and count, change nothing. */
  dryRun?: boolean;
  /** Move deleted entries under this directory (relative to the destination root) instead of deleting. */
  saveDir?: string;
  onProgress?(p: Progress): void;
  log?: Logger;
  signal?: AbortSignal;
  /** Parallel tar streams for the files (default: 2 when there is enough to share). */
  streams?: number;
  /**
   * The source listing the plan came from. With it, the mtimes of existing directories
   * the transfer wrote into are restored, so a second run is a true no-op.
   */
  source?: Entry[];
  /** xstate inspection for the session's transferSession actor (e.g. the inspector's). */
  inspect?: (ev: InspectionEvent) => void;
  /**
   * Send changed large files as deltas against the receiver's old version when both trees
   * can (default true; never between two local trees, where it would save no writes).
   */
  delta?: boolean;
  /**
   * The destination listing the plan came from. With it, only files the destination has
   * are offered as deltas (no signatures round trip on a first copy), and the sender hashes
   * them while the receiver signs its old versions.
   */
  target?: Entry[];
  /**
   * The candidates' signatures, already asked for (by syncTrees, right after its plan, so
   * that the receiver signs while the executor loads); used when they are the candidates
   * splitDelta finds (the same `target`), else asked for again.
   */
  signaturesAhead?: SignaturesAhead;
}

export { DELTA_MIN } from './deltaCandidates.js';

/** The whole-file hash of a delta stream between two ends: the sender's most preferred that both have (blake3-ranges, blake3, sha256: capabilities hash-blake3-ranges, hash-blake3). */
function deltaHashOf(src: DeltaEndpoint, dst: DeltaEndpoint): DeltaHash {
  return src.hashAlgs.find((a) => dst.hashAlgs.includes(a)) ?? 'sha256';
}

export { emptyResult, planCounts, type DeltaCounts, type PlanCounts, type SyncResult } from './syncResult.js';

function samePaths(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** Split files into `n` streams of about equal bytes (largest first, to the lightest stream). */
export function splitStreams(files: Expected[], n: number): Expected[][] {
  // one stream (two cores or fewer): no balancing; a plan's transfers usually come in path
  // order already (20,000 files: two sorts were ~30 ms of the main thread before the first pack request)
  if (n <= 1) return files.length === 0 ? [] : [inPathOrder(files) ? files : [...files].sort(byPath)];
  const streams: Expected[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  const bySize = [...files].sort((a, b) => b.size - a.size);
  for (const f of bySize) {
    let k = 0;
    for (let i = 1; i < n; i++) if (load[i]! < load[k]!) k = i;
    streams[k]!.push(f);
    load[k]! += f.size + 512;
  }
  // within a stream, directory order: neighbours share directories (cheaper checks, better locality)
  for (const s of streams) s.sort(byPath);
  return streams.filter((s) => s.length > 0);
}

function byPath(a: Expected, b: Expected): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function inPathOrder(files: Expected[]): boolean {
  for (let i = 1; i < files.length; i++) if (files[i - 1]!.path > files[i]!.path) return false;
  return true;
}

/**
 * Each stream keeps a pack thread and an extract thread busy, so one stream per two cores:
 * on 2 cores a second stream only adds contention (measured: 0.6 s vs 0.8-1.2 s for 20,000
 * small files on tmpfs). Small jobs get one stream.
 */
function defaultStreams(files: Expected[]): number {
  const bytes = files.reduce((n, f) => n + f.size, 0);
  if (files.length < 64 && bytes < 32 << 20) return 1;
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/** The work of one session: the phases the transferSession machine invokes. */
/** PlanRunner's directory attributes: the entries deepest first, their ops, and the paths the plan counts. */
interface DirAttrOps {
  ordered: Entry[];
  ops: TreeOp[];
  counted: Set<string>;
}

export class PlanRunner {
  readonly result: SyncResult;
  private readonly log: Logger;
  private readonly started = Date.now();
  private bytesDone = 0;
  private filesDone = 0;
  private transferStart = 0;
  /** Each stream to a far end, once its last byte left for the connection (the unpack request is out before). */
  private streamsSent: Array<Promise<void>> = [];
  /** The directories' attributes sent behind the streams (Tree.applyAfterUnpack), for apply() to collect. */
  private earlyDirAttrs?: { ops: DirAttrOps; results: () => Promise<OpResult[]> };

  constructor(
    private readonly src: Tree,
    private readonly dst: Tree,
    private readonly plan: SyncPlan,
    private readonly opts: ExecuteOptions,
  ) {
    this.result = emptyResult(plan, opts.dryRun === true);
    this.log = opts.log ?? silentLogger;
  }

  private checkAbort(): void {
    if (this.opts.signal?.aborted) throw new Error('sync aborted');
  }

  private collect(ops: TreeOp[], results: OpResult[], onOk: () => void): void {
    for (const r of results) {
      if (r.ok) onOk();
      else this.result.failed.push({ path: r.path, error: r.error ?? 'failed' });
    }
    void ops;
  }

  private progress(phase: Progress['phase']): void {
    if (!this.opts.onProgress) return;
    const elapsed = (Date.now() - (this.transferStart || this.started)) / 1000;
    const rate = elapsed > 0 ? this.bytesDone / elapsed : 0;
    const left = this.result.planned.bytes - this.bytesDone;
    this.opts.onProgress({
      phase,
      filesTotal: this.result.planned.transfers,
      filesDone: this.filesDone,
      bytesTotal: this.result.planned.bytes,
      bytesDone: this.bytesDone,
      rate,
      ...(rate > 0 ? { etaSec: Math.max(0, left / rate) } : {}),
    });
  }

  /** Phase "transferring": clear the way, create directories, send the files. */
  async transfer(): Promise<void> {
    this.checkAbort();
    this.transferStart = Date.now();
    const replaced = this.plan.replaced ?? [];
    if (replaced.length > 0) {
      const ops: TreeOp[] = replaced.map((e) => ({ op: 'remove', path: e.path }));
      this.collect(ops, await this.dst.apply(ops), () => this.result.deleted++);
    }
    // Between two local trees the directories are made while the first batches copy: each
    // copy task makes the missing directories of its own files itself (assertRealDirChain:
    // real directories only, never through a symlink; either side takes a directory the
    // other made first), so a batch waits for no other directory. Made first, they kept one
    // io thread busy and the other idle for 30-70 ms of a first copy (200 directories).
    // Any other transfer (a far end, a resumed local file's tar stream) waits for them.
    const mkdirs = this.makeDirs();
    mkdirs.catch(() => undefined); // (awaited below; not an unhandled rejection meanwhile)
    const files = this.plan.transfers;
    try {
      if (files.length > 0) await this.transferFiles(files, mkdirs);
    } finally {
      // also after a failed copy: nothing left running behind the run's end
      await mkdirs.catch(() => undefined);
    }
    await mkdirs;
  }

  /** The plan's new directories, owner rwx while we fill them (the real mode is set at the end: a 0555 dir would refuse our files). */
  private async makeDirs(): Promise<void> {
    if (this.plan.mkdirs.length === 0) return;
    const end = phase('mkdirs');
    const ops: TreeOp[] = this.plan.mkdirs.map((e) => ({ op: 'mkdir', path: e.path, mode: e.mode | 0o700 }));
    this.collect(ops, await this.dst.apply(ops), () => this.result.dirsCreated++);
    end();
  }

  /** The plan's files; `mkdirs`: the plan's directories being made (only a local copy goes on meanwhile). */
  private async transferFiles(files: Expected[], mkdirs: Promise<void>): Promise<void> {
    const local = this.src instanceof LocalTree && this.dst instanceof LocalTree;
    if (!local) await mkdirs;
    const endOffsets = phase('resumeOffsets');
    const offsetsAsked = this.dst.resumeOffsets(files);
    // the delta candidates' signatures are asked for at the same time, not a round trip
    // later (over ssh:// the receiver's first pool thread boots for resumeOffsets: ~50 ms)
    const split = this.splitDelta(files, offsetsAsked);
    const [offsets] = await Promise.all([offsetsAsked.finally(endOffsets), split]);
    // Both ends local and nothing to resume: straight file-to-file copies (resuming a
    // partial large file needs the tar path's offset and prefix-hash handling).
    if (offsets.size === 0 && this.src instanceof LocalTree && this.dst instanceof LocalTree) return this.copyLocal(this.src, this.dst, files);
    await mkdirs;
    const { whole, delta } = await split;
    const n = Math.max(1, this.opts.streams ?? defaultStreams(whole));
    const timer = setInterval(() => this.progress('transferring'), 250);
    const end = phase(`send (${n} streams${delta ? `, ${delta.files.length} deltas` : ''})`);
    try {
      const sending = [...splitStreams(whole, n).map((s) => this.sendStream(s, offsets)), ...(delta ? [this.sendDelta(delta.files, delta.sigs, delta.hashes)] : [])];
      if (!delta) this.sendDirAttrsBehind();
      await Promise.all(sending);
    } finally {
      clearInterval(timer);
      // also when a stream failed: the last word on how far it got (a lost connection's error says it)
      this.progress('transferring');
    }
    end();
  }

  /**
   * Which files go as deltas: large ones (DELTA_MIN) that are not being resumed, when both
   * trees do deltas, and of those the ones the receiver has an old version of (it answers
   * with their signatures). The rest go whole, in tar streams. `offsets` (the resume
   * offsets) is awaited only after the signatures were asked for: a file being resumed is
   * signed for nothing (rare: a partial copy of a file the receiver also has).
   */
  private async splitDelta(
    files: Expected[],
    offsetsAsked: Promise<Map<string, number>>,
  ): Promise<{ whole: Expected[]; delta?: { files: Expected[]; sigs: Map<string, Signature>; hashes: Map<string, string> } }> {
    const sd = this.src.delta;
    const dd = this.dst.delta;
    // between two local trees a delta saves no writes (the rebuild writes the whole file)
    if (!sd || !dd || this.opts.delta === false || (this.src instanceof LocalTree && this.dst instanceof LocalTree)) return { whole: files };
    const have = this.opts.target;
    const sized = have ? deltaCandidates(files, have).map((c) => c.file) : files.filter((f) => f.size >= DELTA_MIN);
    if (sized.length === 0) return { whole: files };
    // without a listing every large file is a candidate: learn which are resumed first (no signatures asked in vain)
    const cands = have ? sized : await offsetsAsked.then((offsets) => sized.filter((f) => !offsets.has(f.path)));
    if (cands.length === 0) return { whole: files };
    const paths = cands.map((f) => f.path);
    // lanes32 block hashes when both ends do them
    const strong = strongAlgOf(sd, dd);
    const ahead = this.opts.signaturesAhead;
    const asked = have && ahead && ahead.strong === strong && samePaths(ahead.paths, paths) ? ahead.sigs : undefined;
    // the sender's threads start (and load the matcher) while the receiver signs (with the
    // signatures asked for ahead, they were started then)
    if (!asked) sd.warmToSend?.();
    const end = phase('signatures');
    // With a listing, these files almost surely go as deltas: the sender hashes them while
    // the receiver signs, instead of while it matches (the hash was the sender's longest
    // step, holding one of its io threads through most of the matching).
    const alg = deltaHashOf(sd, dd);
    // (blake3-ranges: nothing ahead, the sender hashes each range in the read that matches it)
    const early = !have || alg === 'blake3-ranges' ? Promise.resolve(new Map<string, string>()) : alg === 'sha256' ? this.src.hashFiles(paths) : sd.wholeHashes(paths, alg);
    const [sigs, hashes, offsets] = await Promise.all([asked ?? dd.signatures(paths, strong), early, offsetsAsked]);
    end();
    for (const p of offsets.keys()) sigs.delete(p); // resumed the tar way instead
    if (sigs.size === 0) return { whole: files };
    return { whole: files.filter((f) => !sigs.has(f.path)), delta: { files: cands.filter((f) => sigs.has(f.path)), sigs, hashes } };
  }

  /** Changed large files as deltas; the ones whose delta fails go again, whole. */
  private async sendDelta(files: Expected[], sigs: Map<string, Signature>, hashes: Map<string, string>): Promise<void> {
    this.checkAbort();
    const hash = deltaHashOf(this.src.delta!, this.dst.delta!);
    const stream = this.src.delta!.pack(
      files.map((f) => {
        const hash = hashes.get(f.path);
        return { path: f.path, size: f.size, sig: sigs.get(f.path)!, ...(hash ? { hash } : {}) };
      }),
      { hash },
    );
    const onAbort = (): void => {
      stream.destroy(new Error('sync aborted'));
    };
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    let r;
    try {
      r = await this.dst.delta!.unpack(stream, files);
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      if (!stream.destroyed) stream.destroy();
    }
    const d = (this.result.delta ??= { files: 0, literalBytes: 0, copiedBytes: 0, fallbacks: 0 });
    d.files += r.written.length;
    d.literalBytes += r.literal;
    d.copiedBytes += r.copied;
    d.hash = hash;
    this.filesDone += r.written.length;
    this.bytesDone += r.bytes;
    this.result.filesSent += r.written.length;
    this.result.bytesSent += r.bytes;
    r = { ...r, failed: [...r.failed, ...unaccounted(files, r)] };
    if (r.failed.length === 0) return;
    const failed = new Set(r.failed.map((f) => f.path));
    for (const f of r.failed) this.log.info({ path: f.path, reason: f.error }, 'delta failed; sending the whole file');
    d.fallbacks += failed.size;
    await this.sendStream(
      files.filter((f) => failed.has(f.path)),
      new Map(),
    );
  }

  /** Both ends on this machine: copy file to file in the io workers, no tar stream. */
  private async copyLocal(src: LocalTree, dst: LocalTree, files: Expected[]): Promise<void> {
    this.checkAbort();
    const timer = setInterval(() => this.progress('transferring'), 250);
    const end = phase('copy files');
    try {
      const r = await dst.copyFrom(src, files, {
        onBatch: (n, bytes) => {
          this.filesDone += n;
          this.bytesDone += bytes;
        },
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
      });
      this.result.filesSent += r.written.length;
      this.result.bytesSent += r.bytes;
      this.result.failed.push(...r.failed);
    } finally {
      clearInterval(timer);
      end();
    }
    this.progress('transferring');
  }

  private async sendStream(files: Expected[], offsets: Map<string, number>): Promise<void> {
    this.checkAbort();
    const reqs: PackRequest[] = files.map((f) => {
      const off = offsets.get(f.path);
      return off ? { path: f.path, offset: off, size: f.size } : { path: f.path, size: f.size };
    });
    // Count bytes as they pass, to estimate files done: the stream holds the files in order.
    const ends: number[] = [];
    let acc = 0;
    for (const r of reqs) {
      const size = files[ends.length]!.size - (r.offset ?? 0);
      acc += 512 + size + ((512 - (size % 512)) % 512);
      ends.push(acc);
    }
    let seen = 0;
    let done = 0;
    // verify: every entry carries the sha256 of what was read, checked by the receiver
    // before the file gets its real name (issue 3), also when no side has a hash yet; its
    // BLAKE3 instead for large files when both ends can (4x the speed: the hash was the
    // slowest stage of a large file's copy)
    const blake3 = (this.src.tarHashes?.includes('blake3') ?? false) && (this.dst.tarHashes?.includes('blake3') ?? false);
    const hashInHeader = this.src.tarHashInHeader === true && this.dst.tarHashInHeader === true;
    const packed = this.src.pack(reqs, { verify: true, ...(blake3 ? { blake3 } : {}), ...(hashInHeader ? { hashInHeader } : {}) });
    packed.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      this.bytesDone += chunk.length;
      while (done < ends.length && ends[done]! <= seen) {
        done++;
        this.filesDone++;
      }
    });
    // Counting never makes the pack stream flow before its consumer is attached: explicitly
    // paused, it stays so when listeners are added. A local destination takes it as it is and
    // resumes it (LocalTree.unpack); others get a PassThrough that buffers until they read.
    // (In a pull the stream is the socket's pieces, ~13,500 for 20,000 small files: through a
    // PassThrough, each was one more write, push and event on the main thread.)
    packed.pause();
    let toUnpack: Readable = packed;
    if (!(this.dst instanceof LocalTree)) {
      const pass = new PassThrough({ highWaterMark: 1 << 20 });
      packed.on('error', (err) => pass.destroy(err));
      packed.pipe(pass);
      toUnpack = pass;
      // read to its end by the connection's upload, which starts only once the unpack request is sent
      this.streamsSent.push(new Promise((resolve) => pass.once('end', resolve)));
    }
    const onAbort = (): void => {
      packed.destroy(new Error('sync aborted'));
    };
    this.opts.signal?.addEventListener('abort', onAbort, { once: true });
    let r: UnpackResult & { resumedBytes?: number };
    try {
      r = await this.dst.unpack(toUnpack, files);
    } finally {
      this.opts.signal?.removeEventListener('abort', onAbort);
      if (!packed.destroyed) packed.destroy();
    }
    // the count was of tar bytes; settle on the real numbers
    this.filesDone += r.written.length - done;
    this.result.filesSent += r.written.length;
    this.result.bytesSent += r.bytes;
    this.result.resumedBytes += r.resumedBytes ?? 0;
    // a file the site refused (an FTP 550) is named with its reply, not just "not received"
    for (const f of [...r.failed, ...unaccounted(files, r)]) {
      const refusal = f.error.startsWith('not received') ? refusalOf(packed, f.path) : undefined;
      this.result.failed.push(refusal ? { path: f.path, error: `not sent: ${refusal}` } : f);
    }
  }

  /** Phase "applying": symlinks, attributes, deletes, then directory attributes, deepest first. */
  async apply(): Promise<void> {
    this.checkAbort();
    const ops: TreeOp[] = [];
    for (const s of this.plan.symlinks) ops.push({ op: 'symlink', path: s.path, target: s.target ?? '', ...mtimeOf(s) });
    const fileAttrs = this.plan.setattrs.filter((e) => e.kind !== 'dir');
    for (const e of fileAttrs) ops.push({ op: 'setattr', path: e.path, mode: e.mode, ...mtimeOf(e) });
    if (ops.length > 0) {
      const res = await this.dst.apply(ops);
      res.forEach((r, i) => {
        if (!r.ok) this.result.failed.push({ path: r.path, error: r.error ?? 'failed' });
        else if (ops[i]!.op === 'symlink') this.result.symlinks++;
        else this.result.attrsSet++;
      });
    }
    if (this.plan.deletes.length > 0) {
      const del: TreeOp[] = this.plan.deletes.map((e) =>
        this.opts.saveDir ? { op: 'save', path: e.path, saveDir: this.opts.saveDir } : { op: 'remove', path: e.path },
      );
      this.collect(del, await this.dst.apply(del), () => this.result.deleted++);
    }
    const end = phase('dir attrs');
    await this.applyDirAttrs();
    end();
    this.progress('done');
  }

  /**
   * The directories' attributes sent right behind the file streams, when the far end runs
   * them after its unpacks (capability `apply-after`) and apply() has nothing to do before
   * them (no symlinks, file attributes or deletes): apply() then collects the answer, which
   * is on its way as the last unpack ends, instead of a round trip after it. Sent once every
   * stream has left (its unpack request went before its data), so the far end has read the
   * unpack requests it is to wait for.
   */
  private sendDirAttrsBehind(): void {
    const p = this.plan;
    if (!this.dst.applyAfterUnpack || this.streamsSent.length === 0 || p.symlinks.length > 0 || p.deletes.length > 0 || p.setattrs.some((e) => e.kind !== 'dir')) return;
    const ops = this.dirAttrOps();
    if (ops.ops.length === 0) return;
    const applyAfter = this.dst.applyAfterUnpack.bind(this.dst);
    let sent: Promise<OpResult[]> | undefined;
    const send = (): Promise<OpResult[]> => (sent ??= applyAfter(ops.ops));
    // (a transfer that fails never collects it; a stream the far end answered before its
    // end never ends here, and apply() sends it then, with no unpack left to wait for)
    void Promise.all(this.streamsSent).then(() => send().catch(() => undefined));
    this.earlyDirAttrs = { ops, results: send };
  }

  /** The directories' modes and mtimes to set, deepest first, and which of them the plan counts as attributes set. */
  private dirAttrOps(): DirAttrOps {
    const dirs = new Map<string, Entry>();
    for (const e of this.plan.mkdirs) dirs.set(e.path, e);
    for (const e of this.plan.setattrs) if (e.kind === 'dir') dirs.set(e.path, e);
    const counted = new Set(this.plan.setattrs.filter((e) => e.kind === 'dir').map((e) => e.path));
    if (this.opts.source) {
      // directories the transfer wrote into (or deleted from) got a new mtime: put the source's back
      const srcDirs = new Map(this.opts.source.filter((e) => e.kind === 'dir').map((e) => [e.path, e]));
      const touched = [...this.plan.transfers, ...this.plan.symlinks, ...this.plan.deletes, ...(this.plan.replaced ?? []), ...this.plan.mkdirs];
      for (const t of touched) {
        const p = parentOf(t.path);
        const d = p ? srcDirs.get(p) : undefined;
        if (d && !dirs.has(p)) dirs.set(p, d);
      }
    }
    const ordered = [...dirs.values()].sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0)); // children first
    const ops: TreeOp[] = ordered.map((e) => ({ op: 'setattr', path: e.path, mode: e.mode, ...mtimeOf(e) }));
    return { ordered, ops, counted };
  }

  private async applyDirAttrs(): Promise<void> {
    const early = this.earlyDirAttrs;
    const { ordered, ops, counted } = early?.ops ?? this.dirAttrOps();
    if (ops.length === 0) return;
    const res = early ? await early.results() : await this.dst.apply(ops);
    res.forEach((r, i) => {
      if (!r.ok) this.result.failed.push({ path: r.path, error: r.error ?? 'failed' });
      else if (counted.has(ordered[i]!.path)) this.result.attrsSet++;
    });
  }

  finish(): SyncResult {
    this.result.durationMs = Date.now() - this.started;
    return this.result;
  }
}

/** Execute a plan: make `dst` match what the plan says about `src`. */
export async function executePlan(src: Tree, dst: Tree, plan: SyncPlan, opts: ExecuteOptions = {}): Promise<SyncResult> {
  const runner = new PlanRunner(src, dst, plan, opts);
  const { runSession } = await import('./runSession.js');
  try {
    await runSession(
      `${src.label} -> ${dst.label}`,
      { transfer: () => runner.transfer(), apply: () => runner.apply() },
      { hasPlan: true, dryRun: opts.dryRun === true, ...(opts.log ? { log: opts.log } : {}), ...(opts.inspect ? { inspect: opts.inspect } : {}) },
    );
  } catch (err) {
    throw withPartialResult(err, runner.finish());
  }
  return runner.finish();
}

/**
 * The files a receiver neither wrote nor reported failed: its stream was cut short (the
 * sender's connection lost, LocalTree's `aborted`). Failed, so the sync is not reported done
 * with files missing; the next run sends them (resuming their temp files).
 */
function unaccounted(files: Expected[], r: UnpackResult & { aborted?: string }): Array<{ path: string; error: string }> {
  if (r.written.length + r.failed.length >= files.length) return [];
  const seen = new Set([...r.written, ...r.failed.map((f) => f.path)]);
  const error = `not received: the transfer was broken off${r.aborted ? ` (${r.aborted})` : ''}`;
  return files.filter((f) => !seen.has(f.path)).map((f) => ({ path: f.path, error }));
}
