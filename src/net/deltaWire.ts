// Delta transfers on the wire (capability `delta`, docs/protocol.md "Delta transfer"): the
// JSON form of a block signature, its shape checks, the upload bound of an instruction
// stream, and the client side of the three requests (RemoteDelta).
import type { Readable } from 'node:stream';
import { blockCount, MAX_BLOCKS, STRONG_BYTES, type Signature, type StrongAlg } from '../core/delta.js';
import type { DeltaHash } from '../core/delta.js';
import type { DeltaEndpoint, DeltaPackOptions, DeltaRequest, DeltaUnpackResult, Expected } from '../core/tree.js';
import { HASH_BLAKE3_CAP, HASH_BLAKE3_RANGES_CAP, localDeltaHashes, oldDelta } from '../workers/contentHash.js';
import type { Connection } from './connection.js';
import { ProtocolError } from './frames.js';
import { wireStrongAlg } from './strongAlgWire.js';
import { downloadOf, wireUnpackResult } from './callResults.js';
import { MAX_FILE_SIZE, wireHash, wirePath } from './validate.js';

export const DELTA_CAP = 'delta';
/** Signatures may carry lanes32 strong block hashes (a signature's `strongAlg`) instead of CRC-32. */
export const DELTA_LANES32_CAP = 'delta-lanes32';

/** The strong block hashes a session with these capabilities can use, the preferred first. */
export function sessionStrongAlgs(caps: readonly string[]): StrongAlg[] {
  return caps.includes(DELTA_LANES32_CAP) ? ['lanes32', 'crc32'] : ['crc32'];
}

export interface WireSignature {
  size: number;
  blockSize: number;
  /** Base64 of the weak checksums, 4 bytes each, big-endian. */
  weak: string;
  /** Base64 of the strong hashes, STRONG_BYTES each. */
  strong: string;
  /** Absent: CRC-32 (capability `delta-lanes32`: 'lanes32'). */
  strongAlg?: 'lanes32';
}

export function signatureToWire(s: Signature): WireSignature {
  const weak = Buffer.allocUnsafe(s.weak.length * 4);
  for (let i = 0; i < s.weak.length; i++) weak.writeUInt32BE(s.weak[i]!, i * 4);
  return {
    size: s.size,
    blockSize: s.blockSize,
    weak: weak.toString('base64'),
    strong: Buffer.from(s.strong.buffer, s.strong.byteOffset, s.strong.byteLength).toString('base64'),
    ...(s.strongAlg === 'lanes32' ? { strongAlg: 'lanes32' as const } : {}),
  };
}

export { wireStrongAlg } from './strongAlgWire.js';

function num(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new ProtocolError(`${what}: expected a whole number in ${min}..${max}`);
  return v;
}

export function wireSignature(v: unknown): Signature {
  if (typeof v !== 'object' || v === null) throw new ProtocolError('signature: expected an object');
  const o = v as Record<string, unknown>;
  const size = num(o.size, 'signature size', 1, MAX_FILE_SIZE);
  const blockSize = num(o.blockSize, 'block size', 512, 2 ** 30);
  const n = blockCount(size, blockSize);
  if (n > MAX_BLOCKS) throw new ProtocolError(`signature: ${n} blocks, at most ${MAX_BLOCKS}`);
  if (typeof o.weak !== 'string' || typeof o.strong !== 'string') throw new ProtocolError('signature: weak and strong must be base64 strings');
  const weakBytes = Buffer.from(o.weak, 'base64');
  const strong = Buffer.from(o.strong, 'base64');
  if (weakBytes.length !== n * 4 || strong.length !== n * STRONG_BYTES) throw new ProtocolError('signature: wrong number of block sums');
  const weak = new Uint32Array(n);
  for (let i = 0; i < n; i++) weak[i] = weakBytes.readUInt32BE(i * 4);
  const strongAlg = wireStrongAlg(o.strongAlg);
  return { size, blockSize, weak, strong: new Uint8Array(strong), ...(strongAlg !== 'crc32' ? { strongAlg } : {}) };
}

/** A delta request as it travels (read back by wireDeltaRequest). */
export function deltaRequestToWire(f: DeltaRequest): { path: string; size: number; sig: WireSignature; hash?: string } {
  return { path: f.path, size: f.size, sig: signatureToWire(f.sig), ...(f.hash ? { hash: f.hash } : {}) };
}

/** packDelta's `hash` argument: the stream's whole-file hash (absent: sha256); BLAKE3 only if this end has it. */
export function wireDeltaHash(v: unknown): DeltaHash {
  if (v === undefined || v === 'sha256') return 'sha256';
  if ((v === 'blake3' || v === 'blake3-ranges') && localDeltaHashes().includes(v)) return v;
  throw new ProtocolError(`packDelta: hash ${JSON.stringify(v).slice(0, 40)} not offered`);
}

export function wireDeltaRequest(v: unknown): DeltaRequest {
  if (typeof v !== 'object' || v === null) throw new ProtocolError('delta request: expected an object');
  const o = v as Record<string, unknown>;
  const r: DeltaRequest = { path: wirePath(o.path), size: num(o.size, 'size', 0, MAX_FILE_SIZE), sig: wireSignature(o.sig) };
  if (o.hash !== undefined) r.hash = wireHash(o.hash);
  return r;
}

/**
 * The most bytes an honest instruction stream for `expect` has: every byte a literal, or
 * copies of blocks of at least 512 bytes with a literal between each two (a record header
 * each), plus the file records. More is a protocol violation.
 */
export function deltaBound(expect: Expected[]): number {
  let n = 64 * 1024;
  for (const e of expect) n += e.size + Math.ceil(e.size / 512) * 16 + 4096;
  return n;
}

/** The client side: a remote tree's delta requests. */
export class RemoteDelta implements DeltaEndpoint {
  readonly hashAlgs: readonly DeltaHash[];
  readonly strongAlgs: readonly StrongAlg[];

  /** `caps`: the session's; BLAKE3 when both ends offered hash-blake3. */
  constructor(
    private readonly conn: Connection,
    private readonly handle: number,
    caps: readonly string[],
  ) {
    const local = localDeltaHashes();
    this.hashAlgs = local.filter((a) => a === 'sha256' || (a === 'blake3' && caps.includes(HASH_BLAKE3_CAP)) || (a === 'blake3-ranges' && caps.includes(HASH_BLAKE3_RANGES_CAP)));
    this.strongAlgs = sessionStrongAlgs(caps);
  }

  async wholeHashes(paths: string[], alg: DeltaHash): Promise<Map<string, string>> {
    if (!this.hashAlgs.includes(alg)) throw new Error(`the peer cannot hash with ${alg}`);
    const { items } = await this.conn.request('deltaHashes', { h: this.handle, hash: alg }, paths);
    const out = new Map<string, string>();
    for (const it of items) {
      if (!Array.isArray(it) || it.length !== 2) throw new ProtocolError('deltaHashes: expected [path, hash] pairs');
      out.set(wirePath(it[0]), wireHash(it[1]));
    }
    return out;
  }

  async signatures(paths: string[], strong: StrongAlg = 'crc32'): Promise<Map<string, Signature>> {
    if (!this.strongAlgs.includes(strong)) throw new Error(`the peer cannot sign with ${strong}`);
    const { items } = await this.conn.request('signatures', { h: this.handle, ...(strong !== 'crc32' ? { strong } : {}) }, paths);
    const out = new Map<string, Signature>();
    for (const it of items) {
      if (!Array.isArray(it) || it.length !== 2) throw new ProtocolError('signatures: expected [path, signature] pairs');
      out.set(wirePath(it[0]), wireSignature(it[1]));
    }
    return out;
  }

  pack(files: DeltaRequest[], opts: DeltaPackOptions = {}): Readable {
    const hash = opts.hash ?? 'sha256';
    if (!this.hashAlgs.includes(hash)) throw new Error(`the peer cannot send ${hash}-verified deltas`);
    return downloadOf(this.conn.call('packDelta', { h: this.handle, ...(hash !== 'sha256' ? { hash } : {}) }, files.map(deltaRequestToWire), { download: true }));
  }

  async unpack(stream: Readable, expect: Expected[]): Promise<DeltaUnpackResult> {
    const { result } = await this.conn.call('unpackDelta', { h: this.handle }, expect, { upload: stream }).done;
    const r = wireUnpackResult(result, 'unpackDelta');
    const o = result as { literal?: unknown; copied?: unknown };
    return { ...r, literal: num(o.literal, 'literal', 0, Number.MAX_SAFE_INTEGER), copied: num(o.copied, 'copied', 0, Number.MAX_SAFE_INTEGER) };
  }
}
