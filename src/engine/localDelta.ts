// Delta transfers for a directory on this machine (LocalTree.delta): the receiver's
// signatures and rebuild, the sender's matching. The work runs in the worker pools
// (src/workers/deltaTasks.ts); a large file is cut into ranges: signed on every io thread at
// once, matched on one while the ranges are mostly copies (the rebuild is then the slower
// stage) and on every io thread once they are mostly literal (pack).
import { Readable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { blockCount, blockSizeFor, encodeEnd, encodeFile, encodeSkip, STRONG_BYTES, type DeltaHash, type Signature, type StrongAlg } from '../core/delta.js';
import type { DeltaEndpoint, DeltaPackOptions, DeltaRequest, DeltaUnpackResult, Expected } from '../core/tree.js';
import { hashOfRanges, localDeltaHashes } from '../workers/contentHash.js';
import type { Logger } from '../log.js';
import { extractPool, ioPool, poolThreads } from '../workers/pool.js';
import type { ApplyResult, FromApply, MatchResult, ToApply } from '../workers/deltaTasks.js';
import { assertSafeRelPath } from './paths.js';
import { localStrongAlgs } from './lazyDelta.js';

/** About this many bytes of a file per sign or match task. */
const RANGE_BYTES = 16 << 20;
/** A matched range with more than 1/LITERAL_HEAVY of its bytes as literals: matching is the slower stage, so it gets every io thread (pack). */
const LITERAL_HEAVY = 8;
/** Unacknowledged bytes in flight to the rebuilding worker. */
const APPLY_CREDIT = 16 << 20;

/** A whole number of blocks, about RANGE_BYTES: matches never cross a range's end, so the loss at each boundary is nil for an unshifted file. */
function rangeBytes(blockSize: number): number {
  return blockSize * Math.max(1, Math.floor(RANGE_BYTES / blockSize));
}

/**
 * Loads the delta tasks (deltaTasks.ts deltaWarm) on `threads` threads of a pool, starting
 * the ones not up yet (piscina starts a thread for a task that finds none idle). A thread's
 * start-up and that module graph cost 40-60 ms each on a quiet machine (several times that
 * under load): run ahead, they overlap with the other end's work instead of delaying the
 * first range. A failure here is the real tasks' to report.
 */
function warmDelta(pool: ReturnType<typeof ioPool>, threads: number): Promise<unknown> {
  const runs: Array<Promise<unknown>> = [];
  for (let i = 0; i < threads; i++) runs.push(pool.run(null, { name: 'deltaWarm' }).catch(() => undefined));
  return Promise.all(runs);
}

/**
 * The threads warmed for the next rebuild (signatures: an extract thread) and the next
 * matching (warmToSend: an io thread): unpack and pack wait for them, as a task queued while
 * one still loads would make piscina boot another thread (slower than the rest of the
 * first's start-up, and its CPU spent for nothing).
 */
let applyWarm: Promise<unknown> = Promise.resolve();
let sendWarm: Promise<unknown> = Promise.resolve();

/**
 * The rebuild's extract thread, warmed (signatures, warmToReceive) after any warm-up of it
 * still running: queued while that one boots, the task would boot a second thread.
 */
function warmApply(): Promise<unknown> {
  const before = applyWarm;
  return (applyWarm = before.then(() => warmDelta(extractPool(), 1)));
}

/** Numbers each packed file's signature for the match tasks (deltaTasks.ts: MatchTask.sigId). */
let sigIds = 0;

export class LocalDelta implements DeltaEndpoint {
  readonly hashAlgs: readonly DeltaHash[] = localDeltaHashes();
  readonly strongAlgs: readonly StrongAlg[] = localStrongAlgs();

  constructor(
    private readonly root: string,
    private readonly ready: () => Promise<void>,
    private readonly assertWritable: (what: string) => void,
    private readonly log: Logger,
    /** Where unpack reads the old versions (the bases), when not `root` (the daemon's staging: src/daemon/deltaFetch.ts). */
    private readonly basisRoot?: string,
  ) {}

  warmToSend(): void {
    // the thread pack starts with (one; more when a range comes back mostly literal)
    sendWarm = warmDelta(ioPool(), 1);
  }

  /**
   * The sender says changed large files follow, old versions of `bytes` in all (`prepare`'s
   * `delta`): the io threads that will sign them (one per RANGE_BYTES, at most the pool's)
   * start now with the delta tasks loaded, and the extract thread that rebuilds them. With
   * the second io thread retired (`omirr serve` keeps one), it booted when the signatures
   * were asked for, along with the extract thread and the sender's matcher: one thread then
   * signed nearly every range (docs/performance.md, "Changed large files as deltas, fifth pass").
   */
  warmToReceive(bytes: number): void {
    if (bytes <= 0) return;
    void warmDelta(ioPool(), Math.min(poolThreads(), Math.ceil(bytes / RANGE_BYTES)));
    void warmApply();
  }

  async signatures(paths: string[], strong: StrongAlg = 'crc32'): Promise<Map<string, Signature>> {
    await this.ready();
    for (const p of paths) assertSafeRelPath(p);
    const out = new Map<string, Signature>();
    if (paths.length === 0) return out;
    // the rebuild (unpack) comes next, on an extract thread: it starts while the io threads sign
    void warmApply();
    const sizes = (await ioPool().run({ root: this.root, paths }, { name: 'deltaStat' })) as Array<number | null>;
    await Promise.all(
      paths.map(async (path, i) => {
        const size = sizes[i];
        if (size === null || size === undefined || size === 0) return;
        const blockSize = blockSizeFor(size);
        const n = blockCount(size, blockSize);
        const per = rangeBytes(blockSize) / blockSize;
        const sig: Signature = { size, blockSize, weak: new Uint32Array(n), strong: new Uint8Array(n * STRONG_BYTES), ...(strong !== 'crc32' ? { strongAlg: strong } : {}) };
        const tasks: Array<Promise<void>> = [];
        for (let first = 0; first < n; first += per) {
          const blocks = Math.min(per, n - first);
          tasks.push(
            (ioPool().run({ root: this.root, path, size, blockSize, firstBlock: first, blocks, strongAlg: strong }, { name: 'deltaSign' }) as Promise<{ weak: Uint32Array; strong: Uint8Array }>).then((r) => {
              sig.weak.set(r.weak, first);
              sig.strong.set(r.strong, first * STRONG_BYTES);
            }),
          );
        }
        try {
          await Promise.all(tasks);
          out.set(path, sig);
        } catch (err) {
          // no signature: the file goes whole
          this.log.debug({ path, err: (err as Error).message }, 'no delta signature');
        }
      }),
    );
    return out;
  }

  async wholeHashes(paths: string[], alg: DeltaHash): Promise<Map<string, string>> {
    await this.ready();
    for (const p of paths) assertSafeRelPath(p);
    // blake3-ranges is hashed where each range is matched (pack), never ahead
    if (!this.hashAlgs.includes(alg) || alg === 'blake3-ranges') throw new Error(`${this.root}: cannot hash with ${alg} ahead`);
    const out = new Map<string, string>();
    await Promise.all(
      paths.map(async (path) => {
        try {
          out.set(path, (await ioPool().run({ root: this.root, path, alg }, { name: 'deltaHash' })) as string);
        } catch (err) {
          // not hashed ahead: pack hashes it (or says SKIP)
          this.log.debug({ path, err: (err as Error).message }, 'no whole-file hash ahead');
        }
      }),
    );
    return out;
  }

  pack(files: DeltaRequest[], opts: DeltaPackOptions = {}): Readable {
    for (const f of files) assertSafeRelPath(f.path);
    const alg = opts.hash ?? 'sha256';
    if (!this.hashAlgs.includes(alg)) throw new Error(`${this.root}: cannot hash with ${alg}`);
    const { root, ready, log } = this;
    // Match tasks in flight: one while the ranges come back mostly copies (a copied range
    // costs the receiver's rebuild a read, a hash and a write, the matcher a read, a hash and
    // the sums: a second matching thread only added its start-up, ~70 ms of CPU per run, in
    // the same wall time; also with the rebuild spread over two threads, tried and not kept:
    // docs/performance.md "Delta transfers, fourth pass"); every io
    // thread once a range comes back mostly literal (the rolling search, ~20 ns a byte, makes
    // matching the slower stage).
    let width = 1;
    async function* records(): AsyncGenerator<Buffer> {
      await ready();
      await sendWarm;
      for (let i = 0; i < files.length; i++) {
        const f = files[i]!;
        const step = rangeBytes(f.sig.blockSize);
        const byRange = alg === 'blake3-ranges';
        yield encodeFile(i, f.sig.blockSize, alg, step);
        // the whole file's hash (unless the requester has it), on another thread while the
        // ranges are matched; blake3-ranges: each range's, by the task that matches it
        const hashed: Promise<string> =
          byRange ? Promise.resolve('') : f.hash ? Promise.resolve(f.hash) : (ioPool().run({ root, path: f.path, size: f.size, alg }, { name: 'deltaHash' }) as Promise<string>);
        hashed.catch(() => undefined);
        const digests: Buffer[] = [];
        const sigId = ++sigIds;
        const inflight: Array<Promise<MatchResult>> = [];
        let start = 0;
        const fill = (): void => {
          while (inflight.length < width && start < f.size) {
            const end = Math.min(f.size, start + step);
            const p = ioPool().run({ root, path: f.path, size: f.size, start, end, sig: f.sig, sigId, rangeHash: byRange }, { name: 'deltaMatch' }) as Promise<MatchResult>;
            p.catch(() => undefined);
            inflight.push(p);
            start = end;
          }
        };
        try {
          while (start < f.size || inflight.length > 0) {
            fill();
            const r = await inflight.shift()!;
            if (r.literal * LITERAL_HEAVY > step) width = poolThreads();
            // the next range is matched while this one goes out
            fill();
            if (r.digest) digests.push(Buffer.from(r.digest));
            if (r.length > 0) yield Buffer.from(r.buf, 0, r.length);
          }
          yield encodeEnd(byRange ? hashOfRanges(digests) : Buffer.from(await hashed, 'hex'));
        } catch (err) {
          log.warn({ path: f.path, err: (err as Error).message }, 'delta not sent');
          yield encodeSkip((err as Error).message);
        }
      }
    }
    return Readable.from(records(), { objectMode: false, highWaterMark: 1 << 20 });
  }

  async unpack(stream: Readable, expect: Expected[]): Promise<DeltaUnpackResult> {
    let early: Error | undefined;
    const onEarly = (err: Error): void => {
      early ??= err;
    };
    stream.on('error', onEarly);
    this.assertWritable('unpack');
    await this.ready();
    for (const e of expect) assertSafeRelPath(e.path);
    await applyWarm;
    const { port1, port2 } = new MessageChannel();
    const task = extractPool().run({ root: this.root, ...(this.basisRoot ? { basisRoot: this.basisRoot } : {}), expect, port: port2, chown: process.getuid?.() === 0 }, { name: 'deltaApply', transferList: [port2] }) as Promise<ApplyResult>;
    let inflight = 0;
    let closed = false;
    const post = (m: ToApply, transfer?: ArrayBuffer[]): void => {
      if (!closed) port1.postMessage(m, transfer);
    };
    port1.on('message', (m: FromApply) => {
      inflight -= m.ack;
      if (inflight < APPLY_CREDIT && stream.isPaused() && !closed) stream.resume();
    });
    stream.on('data', (chunk: Buffer) => {
      // a chunk that owns its whole ArrayBuffer is handed over; others are copied
      const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer && chunk.byteLength >= 65536;
      const ab = own ? (chunk.buffer as ArrayBuffer) : (Uint8Array.prototype.slice.call(chunk).buffer as ArrayBuffer);
      post({ chunk: ab, length: chunk.length }, [ab]);
      inflight += chunk.length;
      if (inflight >= APPLY_CREDIT) stream.pause();
    });
    stream.on('end', () => post({ end: true }));
    stream.on('error', (err: Error) => post({ abort: err.message }));
    stream.on('close', () => {
      if (!stream.readableEnded) post({ abort: 'stream closed before its end' });
    });
    stream.off('error', onEarly);
    if (stream.destroyed && !stream.readableEnded) post({ abort: early?.message ?? 'stream closed before its end' });
    try {
      const r = await task;
      if (r.fatal) {
        stream.destroy();
        throw new Error(`${this.root}: delta stream refused: ${r.fatal}`);
      }
      return { written: r.written, failed: r.failed, bytes: r.bytes, literal: r.literal, copied: r.copied };
    } finally {
      closed = true;
      port1.close();
      if (!stream.readableEnded && !stream.destroyed) stream.destroy();
    }
  }
}
