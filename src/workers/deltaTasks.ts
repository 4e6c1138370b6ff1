// The worker side of delta transfers (src/core/delta.ts has the algorithm):
// - deltaSign (io pool): the signature of a range of blocks of a basis file (receiver);
// - deltaMatch (io pool): a range of the new file matched against a signature, as encoded
//   copy/literal records (sender);
// - deltaApply (extract pool, fed through a MessagePort like `extract`): rebuilds each file
//   from its basis and the records into a temporary file, verifies the whole file's hash
//   (sha256, or BLAKE3 when the stream says so), then finishes it with the same safe-write steps as every other receiver (safeWrite.ts).
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync, type Stats } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { Expected } from '../core/tree.js';
import {
  BlockIndex,
  DeltaParser,
  encodeOps,
  matchRange,
  MAX_HASH_RANGE,
  MIN_HASH_RANGE,
  signBlocks,
  STRONG_BYTES,
  weakSumsScratch,
  type DeltaHash,
  type Signature,
  type StrongAlg,
} from '../core/delta.js';
import { blake3Available, newHasher, type ContentHasher } from './contentHash.js';
import { assertRealDirChain, assertSafeRelPath, fsPath, parentOf } from './paths.js';
import { tempPathFor } from '../core/tempPath.js';
import { finishFile, freshMode, freshModeIsFinal, openFresh, writeAll } from './safeWrite.js';

// O_NONBLOCK: a file swapped for a FIFO since it was listed must not hang the worker.
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function openRegular(abs: string): { fd: number; st: Stats } {
  const fd = openSync(fsPath(abs), READ_FLAGS);
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new Error('not a regular file');
  }
  return { fd, st };
}

function readFully(fd: number, buf: Buffer, pos: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = readSync(fd, buf, off, buf.length - off, pos + off);
    if (n === 0) throw new Error('size changed: file shrank while being read');
    off += n;
  }
}

/**
 * Bytes per read while signing and matching: each piece is summed or hashed right after it
 * is read, while it is still in the CPU's cache (in 16 MiB reads every pass after the read
 * came from memory: 15-20 % more CPU per pass over the file, measured).
 */
const PIECE = 1 << 20;

/**
 * Loads what the delta tasks use (this module, the WebAssembly sums, the BLAKE3 binding) in
 * this thread, so that the first real task does not: run ahead (LocalDelta) while the other
 * end signs or matches.
 */
export function deltaWarm(): null {
  weakSumsScratch(1, 512);
  if (blake3Available()) newHasher('blake3').update(Buffer.alloc(1));
  return null;
}

export interface StatTask {
  root: string;
  paths: string[];
}

/** Sizes of the basis files that can be used: regular files reached through real directories; null otherwise. */
export function deltaStat(t: StatTask): Array<number | null> {
  const verified = new Set<string>();
  return t.paths.map((p) => {
    try {
      assertSafeRelPath(p);
      assertRealDirChain(t.root, parentOf(p), verified, false);
      const { fd, st } = openRegular(`${t.root}/${p}`);
      closeSync(fd);
      return st.size;
    } catch {
      return null;
    }
  });
}

export interface SignTask {
  root: string;
  path: string;
  /** The basis size deltaStat saw: a different size now fails the task. */
  size: number;
  blockSize: number;
  firstBlock: number;
  blocks: number;
  /** The strong block hash; absent: 'crc32'. */
  strongAlg?: StrongAlg;
}

export function deltaSign(t: SignTask): { weak: Uint32Array; strong: Uint8Array } {
  const { fd, st } = openRegular(`${t.root}/${t.path}`);
  try {
    if (st.size !== t.size) throw new Error(`size changed: expected ${t.size}, got ${st.size}`);
    const start = t.firstBlock * t.blockSize;
    const end = Math.min(t.size, start + t.blocks * t.blockSize);
    const weak = new Uint32Array(t.blocks);
    const strong = new Uint8Array(t.blocks * STRONG_BYTES);
    // a whole number of blocks per read, each read straight into the WebAssembly memory the sums are computed in
    const per = Math.max(1, Math.floor(PIECE / t.blockSize)) * t.blockSize;
    const scratch = weakSumsScratch(Math.min(per, end - start), t.blockSize) ?? Buffer.allocUnsafe(Math.min(per, end - start));
    for (let at = start; at < end; at += per) {
      const data = scratch.subarray(0, Math.min(per, end - at));
      readFully(fd, data, at);
      signBlocks(data, (at - start) / t.blockSize, t.blockSize, weak, strong, t.strongAlg);
    }
    return { weak, strong };
  } finally {
    closeSync(fd);
  }
}

export interface HashTask {
  root: string;
  path: string;
  /** The size the requester expects (a different one fails the task); absent: the size it has. */
  size?: number;
  alg: DeltaHash;
}

/** Reads per whole-file hash: large, so the hash (3.5 GB/s for BLAKE3) is not held up by read calls. */
const HASH_READ = 4 << 20;

/** The whole-file hash the sender puts in a file's END record (hex). */
export function deltaHash(t: HashTask): string {
  if (t.alg === 'blake3-ranges') throw new Error('blake3-ranges is hashed range by range (deltaMatch)');
  const { fd, st } = openRegular(`${t.root}/${t.path}`);
  try {
    const size = t.size ?? st.size;
    if (st.size !== size) throw new Error(`size changed: expected ${size}, got ${st.size}`);
    const h = newHasher(t.alg);
    const buf = Buffer.allocUnsafe(Math.min(HASH_READ, Math.max(1, size)));
    for (let pos = 0; pos < size; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) throw new Error('size changed: file shrank while being hashed');
      h.update(buf.subarray(0, n));
      pos += n;
    }
    return h.digest().toString('hex');
  } finally {
    closeSync(fd);
  }
}

export interface MatchTask {
  root: string;
  path: string;
  /** The size the requester expects: the file must still have it. */
  size: number;
  start: number;
  end: number;
  sig: Signature;
  /** Also the BLAKE3 of the range's bytes (a blake3-ranges stream), from the same read. */
  rangeHash?: boolean;
  /** Names `sig` among the tasks of this process (one per file packed): its BlockIndex is built once per thread, not per range. */
  sigId?: number;
}

export interface MatchResult {
  buf: ArrayBuffer;
  length: number;
  /** Bytes of the range sent as literals (the rest is copied from the basis). */
  literal: number;
  /** The range's BLAKE3, when asked (rangeHash). */
  digest?: Uint8Array;
}

/**
 * This thread's read buffer for match ranges, kept between tasks: a fresh 16 MiB buffer per
 * range cost more in page faults and garbage collection than the matching itself.
 */
let matchBuf: Buffer | undefined;

/** This thread's index of the signature of its last match task. */
let lastIndex: { id: number; index: BlockIndex } | undefined;

function blockIndexOf(t: MatchTask): BlockIndex {
  if (t.sigId === undefined) return new BlockIndex(t.sig);
  if (lastIndex?.id !== t.sigId) lastIndex = { id: t.sigId, index: new BlockIndex(t.sig) };
  return lastIndex.index;
}

export function deltaMatch(t: MatchTask): MatchResult {
  const { fd, st } = openRegular(`${t.root}/${t.path}`);
  let data: Buffer;
  let digest: Uint8Array | undefined;
  try {
    if (st.size !== t.size) throw new Error(`size changed: expected ${t.size}, got ${st.size}`);
    const len = t.end - t.start;
    // lanes32: read into the WebAssembly memory, where each block is hashed in place
    const scratch = t.sig.strongAlg === 'lanes32' ? weakSumsScratch(len, t.sig.blockSize) : null;
    if (!scratch && (!matchBuf || matchBuf.length < len)) matchBuf = Buffer.allocUnsafeSlow(len);
    // the literal ops are views into it: encodeOps copies them out before the next task
    data = scratch ?? matchBuf!.subarray(0, len);
    // blake3-ranges: each piece hashed as soon as it is read (PIECE)
    const h = t.rangeHash ? newHasher('blake3') : undefined;
    for (let at = 0; at < len; at += PIECE) {
      const piece = data.subarray(at, Math.min(len, at + PIECE));
      readFully(fd, piece, t.start + at);
      h?.update(piece);
    }
    if (h) digest = new Uint8Array(h.digest());
  } finally {
    closeSync(fd);
  }
  const ops = matchRange(data, t.start, t.size, blockIndexOf(t));
  const { buf, literal } = encodeOps(ops);
  // its own ArrayBuffer, so it can be transferred, not copied
  const out = new Uint8Array(new ArrayBuffer(buf.length));
  out.set(buf);
  return { buf: out.buffer, length: buf.length, literal, ...(digest ? { digest } : {}) };
}

export interface ApplyTask {
  /** Where the rebuilt files are written. */
  root: string;
  /**
   * Where the basis (old) versions are read, when not `root`: the daemon rebuilds into its
   * staging directory from the file in the tree (src/daemon/deltaFetch.ts). Then missing
   * directories under `root` are created, as any receiver does.
   */
  basisRoot?: string;
  /** The files of the stream, in request order (the FILE records' indexes). */
  expect: Expected[];
  port: MessagePort;
  chown: boolean;
}

export type ToApply = { chunk: ArrayBuffer; length: number } | { end: true } | { abort: string };
export type FromApply = { ack: number };

export interface ApplyResult {
  written: string[];
  /** `delta: true` when a whole-file transfer could still succeed (basis changed, hash mismatch). */
  failed: Array<{ path: string; error: string }>;
  /** Bytes of files written. */
  bytes: number;
  /** Bytes that came as literals, and bytes copied from the basis. */
  literal: number;
  copied: number;
  /** The stream was malformed (hostile or broken): refused. */
  fatal?: string;
}

interface Current {
  exp: Expected;
  blockSize: number;
  basisFd: number;
  basisSize: number;
  tmpAbs: string;
  fd: number;
  pos: number;
  alg: DeltaHash;
  /** The whole file's hasher; blake3-ranges: the current range's. */
  hasher: ContentHasher;
  /**
   * blake3-ranges: the range size, bytes of the current range still to come, and the hash
   * the finished ranges' hashes go into as they come (not kept: a hostile sender's tiny
   * ranges of a huge file would otherwise pile up).
   */
  rangeSize: number;
  rangeLeft: number;
  ofRanges: ContentHasher;
  /** Set once the file failed: its remaining records are drained. */
  error?: string;
}

const COPY_BUF = 1 << 20;

/** Refusal of the whole stream. */
class Fatal extends Error {}

export function deltaApply(t: ApplyTask): Promise<ApplyResult> {
  const res: ApplyResult = { written: [], failed: [], bytes: 0, literal: 0, copied: 0 };
  const parser = new DeltaParser();
  const verified = new Set<string>();
  const basisRoot = t.basisRoot ?? t.root;
  const basisVerified = basisRoot === t.root ? verified : new Set<string>();
  const copyBuf = Buffer.allocUnsafe(COPY_BUF);
  let next = 0;
  let cur: Current | null = null;
  /**
   * The old version of the last file finished: closed when the next file finishes (on this
   * thread, as before) or, for the stream's last, after the result has gone back (finish),
   * so freeing the replaced file is no longer between the last write and the reply.
   */
  let held = -1;
  const closeLater = (fd: number): void => {
    if (held >= 0) closeSync(held);
    held = fd;
  };

  const closeCur = (error?: string): void => {
    const c = cur!;
    cur = null;
    if (c.basisFd >= 0) closeSync(c.basisFd);
    if (c.fd >= 0) closeSync(c.fd);
    if (c.tmpAbs) {
      try {
        unlinkSync(fsPath(c.tmpAbs));
      } catch {
        /* gone */
      }
    }
    res.failed.push({ path: c.exp.path, error: error ?? c.error ?? 'failed' });
  };

  const startFile = (index: number, blockSize: number, alg: DeltaHash, rangeSize = 0): void => {
    if (index !== next || index >= t.expect.length) throw new Fatal(`file record ${index} out of order`);
    if (blockSize < 512 || blockSize > 1 << 30) throw new Fatal(`block size ${blockSize}`);
    // only sent to a receiver that offered hash-blake3 (hash-blake3-ranges)
    if (alg !== 'sha256' && !blake3Available()) throw new Fatal('a BLAKE3-verified file, but this end does not do BLAKE3');
    if (alg === 'blake3-ranges' && (rangeSize < MIN_HASH_RANGE || rangeSize > MAX_HASH_RANGE)) throw new Fatal(`hash range size ${rangeSize}`);
    next++;
    const exp = t.expect[index]!;
    const hasher = newHasher(alg === 'blake3-ranges' ? 'blake3' : alg);
    const ofRanges = newHasher(alg === 'sha256' ? 'sha256' : 'blake3');
    const c: Current = { exp, blockSize, basisFd: -1, basisSize: 0, tmpAbs: '', fd: -1, pos: 0, alg, hasher, rangeSize, rangeLeft: rangeSize, ofRanges };
    cur = c;
    try {
      assertSafeRelPath(exp.path);
      assertRealDirChain(basisRoot, parentOf(exp.path), basisVerified, false);
      const b = openRegular(`${basisRoot}/${exp.path}`);
      if (basisRoot !== t.root) assertRealDirChain(t.root, parentOf(exp.path), verified, true);
      c.basisFd = b.fd;
      c.basisSize = b.st.size;
      const tmpAbs = `${t.root}/${tempPathFor(exp)}`;
      c.fd = openFresh(tmpAbs, freshMode(exp));
      c.tmpAbs = tmpAbs;
    } catch (err) {
      c.error = `delta: ${(err as Error).message}`;
    }
  };

  const write = (c: Current, data: Buffer): void => {
    if (c.pos + data.length > c.exp.size) {
      c.error = 'delta: more data than the expected size';
      return;
    }
    writeAll(c.fd, data, c.pos);
    c.pos += data.length;
    if (c.alg !== 'blake3-ranges') return c.hasher.update(data);
    // a range's hash is taken when its last byte is written
    for (let at = 0; at < data.length; ) {
      const n = Math.min(c.rangeLeft, data.length - at);
      c.hasher.update(data.subarray(at, at + n));
      at += n;
      c.rangeLeft -= n;
      if (c.rangeLeft === 0) {
        c.ofRanges.update(c.hasher.digest());
        c.hasher = newHasher('blake3');
        c.rangeLeft = c.rangeSize;
      }
    }
  };

  /** The hash of the rebuilt file, in the stream's algorithm. */
  const digestOf = (c: Current): Buffer => {
    if (c.alg !== 'blake3-ranges') return c.hasher.digest();
    if (c.rangeLeft < c.rangeSize) c.ofRanges.update(c.hasher.digest()); // the short last range
    return c.ofRanges.digest();
  };

  const copy = (c: Current, block: number, count: number): void => {
    const from = block * c.blockSize;
    const to = Math.min(c.basisSize, (block + count) * c.blockSize);
    if (count < 1 || from >= c.basisSize || (block + count - 1) * c.blockSize >= c.basisSize) {
      // a basis that shrank since its signature, or a sender that lies: try the whole file
      c.error = 'delta: copy beyond the basis (changed since its signature?)';
      return;
    }
    for (let at = from; at < to && !c.error; ) {
      const n = Math.min(COPY_BUF, to - at);
      const got = readSync(c.basisFd, copyBuf, 0, n, at);
      if (got === 0) {
        c.error = 'delta: the basis shrank while being read';
        return;
      }
      write(c, copyBuf.subarray(0, got));
      at += got;
    }
    res.copied += to - from;
  };

  const endFile = (hash: Buffer): void => {
    const c = cur!;
    if (c.error) return closeCur();
    if (c.pos !== c.exp.size) return closeCur(`delta: rebuilt ${c.pos} bytes, expected ${c.exp.size}`);
    const got = digestOf(c).toString('hex');
    const sent = hash.toString('hex');
    // the listed hash is a sha256: comparable only with a sha256 stream (the rebuild is verified against `sent` either way)
    if (c.alg === 'sha256' && c.exp.hash !== undefined && c.exp.hash !== sent) return closeCur('source changed since it was listed');
    if (got !== sent) return closeCur(`delta: hash mismatch after rebuild`);
    const fd = c.fd;
    const tmpAbs = c.tmpAbs;
    cur = null;
    // The old version's descriptor stays open through the rename and is closed later
    // (closeLater): the rename drops the old file's last name, and while a descriptor holds
    // it the kernel does not free its pages then (15-30 ms for 256 MiB on tmpfs, the last
    // step of the stream's critical path) but at the close.
    closeLater(c.basisFd);
    try {
      finishFile(t.root, c.exp, fd, tmpAbs, freshModeIsFinal(c.exp), t.chown);
      res.written.push(c.exp.path);
      res.bytes += c.exp.size;
    } catch (err) {
      res.failed.push({ path: c.exp.path, error: (err as Error).message });
    }
  };

  const records = (): void => {
    for (let r = parser.next(); r; r = parser.next()) {
      if (r.t === 'file') {
        if (cur) throw new Fatal('file record inside a file');
        startFile(r.index, r.blockSize, r.hash, r.rangeSize);
        continue;
      }
      const c: Current | null = cur;
      if (!c) throw new Fatal(`${r.t} record outside a file`);
      if (r.t === 'copy' || r.t === 'literal') {
        if (c.error) continue;
        try {
          if (r.t === 'copy') copy(c, r.block, r.count);
          else {
            write(c, r.data);
            res.literal += r.data.length;
          }
        } catch (err) {
          // a failed read or write (no space, I/O error) fails this file, not the stream
          c.error = (err as Error).message;
        }
      } else if (r.t === 'end') endFile(r.hash);
      else closeCur(`not sent: ${r.reason}`);
    }
  };

  const finish = (reason: string | undefined): ApplyResult => {
    if (cur) closeCur(reason ?? 'stream ended inside a file');
    for (; next < t.expect.length; next++) res.failed.push({ path: t.expect[next]!.path, error: reason ?? 'not in the stream' });
    t.port.close();
    if (held >= 0) {
      const fd = held;
      held = -1;
      // An immediate runs after the promise's continuations, which post the result; the
      // extract pool waits for its next task with async atomics, so this thread's loop runs
      // it at once (a pool that blocked in Atomics.wait would hold the file until its next task).
      setImmediate(() => {
        try {
          closeSync(fd);
        } catch {
          /* closed */
        }
      });
    }
    return res;
  };

  return new Promise((resolve) => {
    t.port.on('message', (m: ToApply) => {
      if ('chunk' in m) {
        try {
          parser.push(Buffer.from(m.chunk, 0, m.length));
          records();
        } catch (err) {
          res.fatal = (err as Error).message;
          resolve(finish(res.fatal));
          return;
        }
        t.port.postMessage({ ack: m.length } satisfies FromApply);
      } else if ('end' in m) {
        resolve(finish(parser.pending > 0 ? 'truncated record at the end of the stream' : undefined));
      } else {
        resolve(finish(m.abort));
      }
    });
  });
}
