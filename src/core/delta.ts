// Delta transfer of a changed file, after rsync's algorithm (pure parts, no I/O):
//   1. the receiver cuts its old file (the basis) into blocks and sends, per block, a weak
//      checksum that can be rolled one byte at a time and a strong hash (the signature):
//      lanes32 where both ends offer `delta-lanes32`, else a CRC-32;
//   2. the sender slides a window over its new file: where the window's weak checksum and
//      then its strong hash match a basis block, it says "copy block j", otherwise the byte
//      goes out as a literal;
//   3. the receiver rebuilds the new file from its basis and the literals, and verifies
//      the whole file's hash (sha256, BLAKE3, or the BLAKE3 of its ranges' BLAKE3s, by what
//      both ends have) before it takes its real name.
// The worker tasks (src/workers/deltaTasks.ts) do the reading and writing; the format of
// the instruction stream is in docs/protocol.md ("Delta transfer").
import { crc32 } from 'node:zlib';
import { blockSumsWasm, strongInPlace, weakSumsWasm } from './weakSums.js';
import { fmix32 } from './fmix32.js';
export { weakSumsScratch } from './weakSums.js';

/**
 * Bytes of the second checksum kept per block: 32 bits (lanes32, or a CRC-32 with peers
 * that do not offer `delta-lanes32`). With the 32-bit weak checksum that is a 64-bit block
 * identity, as rsync's own (its block checksum is a few bytes of xxh128 or md5): a false
 * match is improbable, and harmless, because the rebuilt file must still match the sender's
 * whole-file hash, else it is sent whole.
 */
export const STRONG_BYTES = 4;

/**
 * The strong block hash of a signature. 'crc32': node's zlib CRC-32 (3.7 ms of CPU per
 * 16 MiB in 32 KiB blocks here, a pass of its own); 'lanes32': murmur3's mixing on 8 lanes
 * of 32-bit words in WebAssembly SIMD (2.0-2.5 ms, or 1.7 ms on top of the weak checksum in
 * the same pass; lanes32() below is the reference).
 */
export type StrongAlg = 'crc32' | 'lanes32';

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** One step of murmur3's body: mixes the 32-bit word k into h. */
function murmurStep(h: number, k: number): number {
  k = rotl(Math.imul(k, 0xcc9e2d51), 15);
  h = rotl(h ^ Math.imul(k, 0x1b873593), 13);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

const LANE_SEEDS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f, 0x165667b1, 0xd3a2646c, 0xfd7046c5, 0xb55a4f09];

/**
 * lanes32 of buf[start, end): the 16-byte pieces go alternately to two sets of four lanes
 * (one little-endian 32-bit word per lane, murmur3's body); then r = length, murmur3's step
 * of r with each of the 8 lanes, each byte after the last whole 16 r = (r ^ byte) * FNV
 * prime, and murmur3's finaliser of r ^ length. The same as the WebAssembly strong() and
 * sums() (src/core/weakSums.ts), which are the fast path; this is the reference and the
 * fallback.
 */
export function lanes32(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const h = LANE_SEEDS.map((x) => x | 0);
  let p = start;
  for (let i = 0; p + 16 <= end; p += 16, i++) {
    const set = (i & 1) * 4;
    for (let l = 0; l < 4; l++) {
      const q = p + 4 * l;
      h[set + l] = murmurStep(h[set + l]!, buf[q]! | (buf[q + 1]! << 8) | (buf[q + 2]! << 16) | (buf[q + 3]! << 24));
    }
  }
  let r = len | 0;
  for (const x of h) r = murmurStep(r, x);
  for (; p < end; p++) r = Math.imul(r ^ buf[p]!, 0x01000193);
  return fmix32(r ^ len);
}

/** The strong hash of buf[start, end) (unsigned). */
export function strongHash(alg: StrongAlg, buf: Uint8Array, start: number, end: number): number {
  if (alg === 'lanes32') return strongInPlace(buf, start, end) ?? lanes32(buf, start, end);
  return crc32(buf.subarray(start, end));
}
export const MIN_BLOCK = 2048;
export const MAX_BLOCK = 1 << 17;
/** At most this many blocks per signature: a huge file gets larger blocks (bounded message size). */
export const MAX_BLOCKS = 1 << 16;
/** A literal record carries at most this many bytes (the receiver buffers one record). */
export const MAX_LITERAL = 256 * 1024;

/**
 * About twice the square root of the file size (rsync takes the square root), a multiple of
 * 8, within bounds: each block costs a hash call and a table entry on top of its bytes, and
 * in JavaScript that per-block cost is higher than in rsync's C, so blocks are larger; a
 * change still costs at most two blocks of literal bytes more than its own size.
 */
export function blockSizeFor(size: number): number {
  let bs = Math.ceil((2 * Math.sqrt(size)) / 8) * 8;
  bs = Math.max(MIN_BLOCK, Math.min(MAX_BLOCK, bs));
  while (Math.ceil(size / bs) > MAX_BLOCKS) bs *= 2;
  return bs;
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** A basis file's signature: per block (the last may be short) a weak checksum and a strong hash. */
export interface Signature {
  /** Size of the basis file. */
  size: number;
  blockSize: number;
  /** One weak checksum per block. */
  weak: Uint32Array;
  /** STRONG_BYTES per block, in block order, big-endian. */
  strong: Uint8Array;
  /** The strong hash's algorithm; absent: 'crc32' (as before `delta-lanes32`). */
  strongAlg?: StrongAlg;
}

/**
 * rsync's weak checksum of buf[start, end): a = sum of bytes, b = sum of running a's, both
 * mod 2^16; the value is a | b << 16 (unsigned).
 */
export function weakSum(buf: Uint8Array, start: number, end: number): number {
  let a = 0;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + buf[i]!) & 0xffff;
    b = (b + a) & 0xffff;
  }
  return (a | (b << 16)) >>> 0;
}

/** The weak checksum of the window moved one byte: `out` leaves, `inb` enters, window `len` bytes. */
export function rollSum(sum: number, out: number, inb: number, len: number): number {
  const a = ((sum & 0xffff) - out + inb) & 0xffff;
  const b = ((sum >>> 16) - len * out + a) & 0xffff;
  return (a | (b << 16)) >>> 0;
}

/** Block j's strong hash (stored big-endian) as a number: compared without an allocation per block. */
function strongAt(all: Uint8Array, j: number): number {
  const at = j * STRONG_BYTES;
  return ((all[at]! << 24) | (all[at + 1]! << 16) | (all[at + 2]! << 8) | all[at + 3]!) >>> 0;
}

/** Whether block j's strong hash is that of buf[start, end). */
function strongMatches(sig: Signature, j: number, buf: Uint8Array, start: number, end: number): boolean {
  return strongAt(sig.strong, j) === strongHash(sig.strongAlg ?? 'crc32', buf, start, end);
}

/**
 * The signature of blocks of a basis: `data` holds the bytes of blocks `firstBlock`...
 * (a whole number of blocks, the last one short only at the end of the file); the results go
 * into `weak` and `strong` at their block indexes.
 */
export function signBlocks(data: Uint8Array, firstBlock: number, blockSize: number, weak: Uint32Array, strong: Uint8Array, alg: StrongAlg = 'crc32'): void {
  // lanes32: both sums in one pass of the WebAssembly module
  if (alg === 'lanes32' && blockSumsWasm(data, blockSize, weak, strong, firstBlock)) return;
  const viaWasm = weakSumsWasm(data, blockSize, weak, firstBlock);
  for (let off = 0, j = firstBlock; off < data.length; off += blockSize, j++) {
    const end = Math.min(data.length, off + blockSize);
    if (!viaWasm) weak[j] = weakSum(data, off, end);
    const c = strongHash(alg, data, off, end);
    const at = j * STRONG_BYTES;
    strong[at] = c >>> 24;
    strong[at + 1] = (c >>> 16) & 0xff;
    strong[at + 2] = (c >>> 8) & 0xff;
    strong[at + 3] = c & 0xff;
  }
}

export function signature(data: Uint8Array, blockSize = blockSizeFor(data.length), alg: StrongAlg = 'crc32'): Signature {
  const n = blockCount(data.length, blockSize);
  const sig: Signature = { size: data.length, blockSize, weak: new Uint32Array(n), strong: new Uint8Array(n * STRONG_BYTES), ...(alg !== 'crc32' ? { strongAlg: alg } : {}) };
  signBlocks(data, 0, blockSize, sig.weak, sig.strong, alg);
  return sig;
}

/** Bits in the weak checksum filter: a miss (nearly every byte of a changed stretch) costs one array read. */
const FILTER_BITS = 22;

function filterBit(weak: number): number {
  return Math.imul(weak, 0x9e3779b1) >>> (32 - FILTER_BITS);
}

/** Weak checksum -> block indexes: a bit filter in front of a chained hash table over typed arrays. */
export class BlockIndex {
  private readonly heads = new Map<number, number>();
  private readonly next: Int32Array;
  /** Bit filterBit(w) is set for each block's weak checksum w (rollToCandidate reads it). */
  readonly filter = new Uint32Array(1 << (FILTER_BITS - 5));

  constructor(readonly sig: Signature) {
    const n = sig.weak.length;
    this.next = new Int32Array(n).fill(-1);
    // the full blocks only: the short last block is matched at the end of the file
    const full = sig.size % sig.blockSize === 0 ? n : n - 1;
    for (let j = full - 1; j >= 0; j--) {
      // as int32: small integers, never heap numbers, in the hot loop and as Map keys
      const w = sig.weak[j]! | 0;
      const h = this.heads.get(w);
      if (h !== undefined) this.next[j] = h;
      this.heads.set(w, j);
      const bit = filterBit(w);
      this.filter[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  /** The first block whose weak checksum (as int32) and strong hash match data[start, end), or -1. */
  find(weak: number, data: Uint8Array, start: number, end: number): number {
    let j = this.heads.get(weak);
    if (j === undefined) return -1;
    const c = strongHash(this.sig.strongAlg ?? 'crc32', data, start, end);
    for (; j !== -1; j = this.next[j]!) if (strongAt(this.sig.strong, j) === c) return j;
    return -1;
  }
}


/** The weak checksum's halves (a, b) handed between matchRange and rollToCandidate without an allocation. */
const rolling = new Int32Array(2);

/**
 * From window position p (its weak checksum's halves in `rolling`), the first position up to
 * `last` whose weak checksum the filter may know, rolling the checksum along; last + 1 when
 * there is none. A tight loop of its own: in matchRange's main loop a changed stretch cost
 * ~5x as much per byte (55-65 ns here; this loop ~13 at the same load).
 */
function rollToCandidate(data: Uint8Array, p: number, last: number, bs: number, filter: Uint32Array): number {
  let a = rolling[0]!;
  let b = rolling[1]!;
  for (;;) {
    const bit = Math.imul(a | (b << 16), 0x9e3779b1) >>> (32 - FILTER_BITS);
    if ((filter[bit >>> 5]! & (1 << (bit & 31))) !== 0) break;
    if (p >= last) {
      p = last + 1;
      break;
    }
    const out = data[p]!;
    a = (a - out + data[p + bs]!) & 0xffff;
    b = (b - bs * out + a) & 0xffff;
    p++;
  }
  rolling[0] = a;
  rolling[1] = b;
  return p;
}

/** What the matcher says: copy `count` basis blocks from `block`, or send bytes. */
export type DeltaOp = { copy: number; count: number } | { literal: Uint8Array };

/**
 * Match `data` (bytes [rangeStart, rangeStart + data.length) of the new file, whose whole
 * size is `fileSize`) against a basis signature. Matches never cross the end of `data`, so
 * ranges of one file can be matched independently (in parallel) and their ops concatenated.
 * Literal ops are views into `data`, at most MAX_LITERAL bytes each.
 */
export function matchRange(data: Uint8Array, rangeStart: number, fileSize: number, index: BlockIndex): DeltaOp[] {
  const sig = index.sig;
  const bs = sig.blockSize;
  const n = data.length;
  const ops: DeltaOp[] = [];
  const lastBlock = sig.weak.length - 1;
  const shortLast = sig.size % bs; // 0: the last block is full
  let lit = 0; // start of the pending literal
  const flushLiteral = (to: number): void => {
    for (let s = lit; s < to; s += MAX_LITERAL) ops.push({ literal: data.subarray(s, Math.min(to, s + MAX_LITERAL)) });
    lit = to;
  };
  const copy = (j: number): void => {
    const prev = ops[ops.length - 1];
    if (prev && 'copy' in prev && prev.copy + prev.count === j) prev.count++;
    else ops.push({ copy: j, count: 1 });
  };
  let p = 0;
  let prevMatch = -2;
  // the weak checksum of the window at p, as its two halves; fresh = must be computed
  let a = 0;
  let b = 0;
  let fresh = true;
  while (p + bs <= n) {
    // in a run of matches, try the next block first (no weak checksum needed: one strong hash)
    if (prevMatch >= 0 && prevMatch + 1 < sig.weak.length && (prevMatch + 1 < lastBlock || shortLast === 0)) {
      if (strongMatches(sig, prevMatch + 1, data, p, p + bs)) {
        prevMatch++;
        copy(prevMatch);
        p += bs;
        lit = p;
        continue;
      }
    }
    if (fresh) {
      const w = weakSum(data, p, p + bs);
      a = w & 0xffff;
      b = w >>> 16;
      fresh = false;
    }
    prevMatch = -2;
    // on to the next window the filter may know (a changed stretch: most of its bytes)
    rolling[0] = a;
    rolling[1] = b;
    p = rollToCandidate(data, p, n - bs, bs, index.filter);
    a = rolling[0]!;
    b = rolling[1]!;
    if (p + bs > n) break;
    const j = index.find(a | (b << 16), data, p, p + bs);
    if (j >= 0) {
      flushLiteral(p);
      copy(j);
      prevMatch = j;
      p += bs;
      lit = p;
      fresh = true;
      continue;
    }
    if (p + bs < n) {
      const out = data[p]!;
      a = (a - out + data[p + bs]!) & 0xffff;
      b = (b - bs * out + a) & 0xffff;
    }
    p++;
  }
  // the tail: at the end of the file it may be the basis's short last block
  if (shortLast > 0 && rangeStart + n === fileSize && n - lit >= shortLast) {
    const t0 = n - shortLast;
    if (weakSum(data, t0, n) === sig.weak[lastBlock] && strongMatches(sig, lastBlock, data, t0, n)) {
      flushLiteral(t0);
      copy(lastBlock);
      return ops;
    }
  }
  flushLiteral(n);
  return ops;
}

/** Rebuild a file from its basis and ops (the receiver's job, here for tests and as the reference). */
export function applyOps(basis: Uint8Array, blockSize: number, ops: DeltaOp[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const op of ops) {
    if ('literal' in op) parts.push(op.literal);
    else parts.push(basis.subarray(op.copy * blockSize, Math.min(basis.length, (op.copy + op.count) * blockSize)));
  }
  return Buffer.concat(parts);
}

// ---- The instruction stream (docs/protocol.md, "Delta transfer") ----

export const REC_FILE = 1; // u32 index in the request, u32 block size
export const REC_COPY = 2; // u32 first block, u32 count
export const REC_LITERAL = 3; // u32 length, bytes
export const REC_END = 4; // 32 bytes: the whole new file's hash (sha256, or BLAKE3 after REC_FILE_B3) as the sender read it
export const REC_SKIP = 5; // u32 length, UTF-8 reason: the sender could not send this file
export const REC_FILE_B3 = 6; // as REC_FILE; this file's END hash is BLAKE3 (capability hash-blake3)
export const REC_FILE_B3R = 7; // as REC_FILE, then u32 range size; END is BLAKE3 of the ranges' BLAKE3s (capability hash-blake3-ranges)

/**
 * The whole-file hash that verifies a rebuilt file. 'blake3-ranges': the BLAKE3 of the
 * concatenated 32-byte BLAKE3s of the file's ranges of `rangeSize` bytes (the last may be
 * short; no ranges for an empty file): each range's hash is computed where that range is
 * matched, in parallel and in the same read, so the sender reads its file once.
 */
export type DeltaHash = 'sha256' | 'blake3' | 'blake3-ranges';

/** Bounds of a FILE_B3R record's range size (the sender's are about 16 MiB, a whole number of blocks). */
export const MIN_HASH_RANGE = 1 << 12;
export const MAX_HASH_RANGE = 1 << 30;

export function encodeFile(index: number, blockSize: number, hash: DeltaHash = 'sha256', rangeSize = 0): Buffer {
  const b = Buffer.allocUnsafe(hash === 'blake3-ranges' ? 13 : 9);
  b[0] = hash === 'blake3-ranges' ? REC_FILE_B3R : hash === 'blake3' ? REC_FILE_B3 : REC_FILE;
  b.writeUInt32BE(index, 1);
  b.writeUInt32BE(blockSize, 5);
  if (hash === 'blake3-ranges') b.writeUInt32BE(rangeSize, 9);
  return b;
}

export function encodeEnd(hash: Buffer): Buffer {
  return Buffer.concat([Buffer.of(REC_END), hash]);
}

export function encodeSkip(reason: string): Buffer {
  const msg = Buffer.from(reason.slice(0, 1000));
  const b = Buffer.allocUnsafe(5);
  b[0] = REC_SKIP;
  b.writeUInt32BE(msg.length, 1);
  return Buffer.concat([b, msg]);
}

/** The ops as records; returns the encoded bytes and how many of them are literal data. */
export function encodeOps(ops: DeltaOp[]): { buf: Buffer; literal: number } {
  let len = 0;
  for (const op of ops) len += 'literal' in op ? 5 + op.literal.length : 9;
  const buf = Buffer.allocUnsafe(len);
  let at = 0;
  let literal = 0;
  for (const op of ops) {
    if ('literal' in op) {
      buf[at] = REC_LITERAL;
      buf.writeUInt32BE(op.literal.length, at + 1);
      buf.set(op.literal, at + 5);
      at += 5 + op.literal.length;
      literal += op.literal.length;
    } else {
      buf[at] = REC_COPY;
      buf.writeUInt32BE(op.copy, at + 1);
      buf.writeUInt32BE(op.count, at + 5);
      at += 9;
    }
  }
  return { buf, literal };
}

export type DeltaRecord =
  | { t: 'file'; index: number; blockSize: number; hash: DeltaHash; rangeSize?: number }
  | { t: 'copy'; block: number; count: number }
  | { t: 'literal'; data: Buffer }
  | { t: 'end'; hash: Buffer }
  | { t: 'skip'; reason: string };

/** A malformed instruction stream: the whole stream is refused. */
export class DeltaFormatError extends Error {
  override name = 'DeltaFormatError';
}

/**
 * Incremental parser: feed chunks, take whole records. Never buffers more than one record
 * (a literal: at most MAX_LITERAL bytes) past what it has handed out.
 */
export class DeltaParser {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;

  push(chunk: Buffer): void {
    this.buf = this.at < this.buf.length ? Buffer.concat([this.buf.subarray(this.at), chunk]) : chunk;
    this.at = 0;
  }

  /** Bytes received but not yet returned as records. */
  get pending(): number {
    return this.buf.length - this.at;
  }

  next(): DeltaRecord | null {
    const b = this.buf;
    const left = b.length - this.at;
    if (left < 1) return null;
    const at = this.at;
    switch (b[at]) {
      case REC_FILE:
      case REC_FILE_B3:
        if (left < 9) return null;
        this.at += 9;
        return { t: 'file', index: b.readUInt32BE(at + 1), blockSize: b.readUInt32BE(at + 5), hash: b[at] === REC_FILE_B3 ? 'blake3' : 'sha256' };
      case REC_FILE_B3R:
        if (left < 13) return null;
        this.at += 13;
        return { t: 'file', index: b.readUInt32BE(at + 1), blockSize: b.readUInt32BE(at + 5), hash: 'blake3-ranges', rangeSize: b.readUInt32BE(at + 9) };
      case REC_COPY:
        if (left < 9) return null;
        this.at += 9;
        return { t: 'copy', block: b.readUInt32BE(at + 1), count: b.readUInt32BE(at + 5) };
      case REC_LITERAL:
      case REC_SKIP: {
        if (left < 5) return null;
        const len = b.readUInt32BE(at + 1);
        const max = b[at] === REC_LITERAL ? MAX_LITERAL : 1000 * 4;
        if (len > max || (b[at] === REC_LITERAL && len === 0)) throw new DeltaFormatError(`record of ${len} bytes`);
        if (left < 5 + len) return null;
        this.at += 5 + len;
        const data = b.subarray(at + 5, at + 5 + len);
        return b[at] === REC_LITERAL ? { t: 'literal', data } : { t: 'skip', reason: data.toString() };
      }
      case REC_END:
        if (left < 33) return null;
        this.at += 33;
        return { t: 'end', hash: b.subarray(at + 1, at + 33) };
      default:
        throw new DeltaFormatError(`unknown record type ${b[at]}`);
    }
  }
}
