// The tar format omirr sends: POSIX ustar headers, with a pax extended header only when
// needed (long or non-ASCII paths, `omirr.offset` for a resumed file, `omirr.sha256` when
// the sender verifies). This is the format
// tar-stream and GNU tar read and write; the tests feed tar-stream's output to our parser
// and ours to tar-stream's. We encode and parse here, not through tar-stream's streams,
// because they cost an event-loop turn and several objects per entry, and per-file
// overhead is what decides the small-file race (docs/performance.md). The parser is
// incremental and strict: it is fed bytes from the network.

import { decodeName, encodeName } from '../core/names.js';

export const BLOCK = 512;

export interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** '0' regular file, 'x' pax, ... (the raw typeflag character). */
  type: string;
  pax: Record<string, string>;
}

/** 8 ** (len - 1): the first value an octal field of `len` bytes cannot hold (no pow per field). */
const OCTAL_LIMIT = Array.from({ length: 13 }, (_, len) => 8 ** Math.max(0, len - 1));

function writeOctal(buf: Buffer, off: number, len: number, value: number): void {
  // len-1 octal digits then NUL, as GNU tar writes them; digit by digit from the end (no
  // strings: this runs for every file packed)
  let n = Math.max(0, Math.floor(value));
  if (n >= OCTAL_LIMIT[len]!) throw new Error(`tar header field overflow: ${value}`);
  buf[off + len - 1] = 0;
  let i = off + len - 2;
  for (; n > 0x7fffffff; i--) {
    buf[i] = 0x30 + (n % 8);
    n = Math.floor(n / 8);
  }
  for (; i >= off; i--) {
    buf[i] = 0x30 + (n & 7);
    n >>>= 3;
  }
}

function writeSize(buf: Buffer, off: number, size: number): void {
  if (size < 8 ** 11) return writeOctal(buf, off, 12, size);
  // base-256 for files of 8 GiB and more (GNU extension, read by tar-stream too)
  buf[off] = 0x80;
  let n = size;
  for (let i = 11; i > 0; i--) {
    buf[off + i] = n % 256;
    n = Math.floor(n / 256);
  }
}

/**
 * The sum of a header block's bytes, its checksum field counted as spaces. `words`: the
 * same 512 bytes as 32-bit words, when the block is 4-byte aligned (a parser keeps one).
 */
function checksum(block: Buffer, words?: Uint32Array): number {
  let sum = 8 * 32; // the checksum field itself counts as spaces
  const w = words ?? ((block.byteOffset & 3) === 0 ? new Uint32Array(block.buffer, block.byteOffset, BLOCK / 4) : undefined);
  if (w) {
    // Four bytes at a time: two 16-bit lanes of byte sums per word (at most 2 * 255 * 128
    // per lane, no carry between lanes). Byte order does not matter for a sum.
    let lanes = 0;
    for (let i = 0; i < 37; i++) {
      const x = w[i]!; // bytes 0..147
      lanes += (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff);
    }
    for (let i = 39; i < BLOCK / 4; i++) {
      const x = w[i]!; // bytes 156..511
      lanes += (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff);
    }
    return sum + (lanes & 0xffff) + (lanes >>> 16);
  }
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

/**
 * A ustar header block written at out[at..at+512) (which it zeroes first). `linkname`: printable
 * ASCII for the linkname field (writeUstarHashedFileHeader's hash record), else left empty.
 */
function writeUstarBlock(out: Buffer, at: number, name: string, size: number, mode: number, mtimeMs: number, type: string, linkname?: string): void {
  out.fill(0, at, at + BLOCK);
  const b = at === 0 ? out : out.subarray(at, at + BLOCK);
  // every name written here is printable ASCII (plain names, and the pax case's stand-in)
  b.write(name, 0, 100, 'latin1');
  if (linkname !== undefined) b.write(linkname, 157, 100, 'latin1');
  writeOctal(b, 100, 8, mode & 0o7777);
  writeOctal(b, 108, 8, 0);
  writeOctal(b, 116, 8, 0);
  writeSize(b, 124, size);
  writeOctal(b, 136, 12, Math.floor(mtimeMs / 1000));
  b[156] = type.charCodeAt(0);
  USTAR_MAGIC.copy(b, 257);
  writeOctal(b, 148, 7, checksum(b)); // six digits and NUL
  b[155] = 0x20;
}

/** 'ustar\0' and version '00'. */
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');

function ustarBlock(name: string, size: number, mode: number, mtimeMs: number, type: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeUstarBlock(b, 0, name, size, mode, mtimeMs, type);
  return b;
}

/**
 * A pax record as bytes, its value the exact bytes of a name (src/core/names.ts): a path
 * that is not UTF-8 is written as its raw bytes, as GNU tar does (hdrcharset=BINARY), and
 * decodePax gives the same escaped string back.
 */
function paxRecordBytes(key: string, value: string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), encodeName(value), NEWLINE]);
  let len = body.length + String(body.length).length;
  if (String(len).length !== String(body.length).length) len = body.length + String(len).length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}
const NEWLINE = Buffer.from('\n');

export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** A name that fits a ustar header as it is: printable ASCII, at most 100 bytes (no pax). */
export function isPlainUstarName(name: string): boolean {
  return name.length <= 100 && /^[\x20-\x7e]*$/.test(name);
}

/**
 * The header of a regular file whose name isPlainUstarName, written straight into the
 * tar stream at out[at..at+512): no pax, no header buffer, no strings (the packer's
 * common case).
 */
export function writePlainFileHeader(out: Buffer, at: number, name: string, size: number, mode: number, mtimeMs: number): void {
  writeUstarBlock(out, at, name, size, mode, mtimeMs, '0');
}

/** Header block(s) of a regular file entry; `extra` pax keys such as omirr.offset. */
export function encodeFileHeader(name: string, size: number, mode: number, mtimeMs: number, extra?: Record<string, string>): Buffer {
  const needsPaxPath = !isPlainUstarName(name);
  const keys = { ...(needsPaxPath ? { path: name } : {}), ...(extra ?? {}) };
  const main = ustarBlock(needsPaxPath ? name.slice(-90).replace(/[^\x20-\x7e]/g, '_') : name, size, mode, mtimeMs, '0');
  if (Object.keys(keys).length === 0) return main;
  const data = Buffer.concat(Object.entries(keys).map(([k, v]) => paxRecordBytes(k, v)));
  const pax = ustarBlock('PaxHeader', data.length, 0o644, mtimeMs, 'x');
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), main]);
}

/** The pax key of a file's whole-content sha256 (lowercase hex), docs/protocol.md. */
export const SHA256_KEY = 'omirr.sha256';
/**
 * The pax key of a file's whole-content BLAKE3 (lowercase hex), sent instead of SHA256_KEY
 * for large files to a peer with the capability `tar-blake3`. As long as SHA256_KEY (12
 * characters), so both make headers of the same length.
 */
export const BLAKE3_KEY = 'omirr.blake3';
export type TarHashKey = typeof SHA256_KEY | typeof BLAKE3_KEY;
const HASH_PLACEHOLDER = '0'.repeat(64);

/**
 * A file's header whose `omirr.sha256` is not known yet (the packer hashes the bytes it
 * reads after reserving the header's room): a placeholder the caller overwrites at
 * `hashAt` with the 64 hex digits. The pax data block is not covered by a checksum, so
 * patching it leaves the header valid.
 */
export function encodeFileHeaderWithHashSlot(
  name: string,
  size: number,
  mode: number,
  mtimeMs: number,
  extra?: Record<string, string>,
  key: TarHashKey = SHA256_KEY,
): { header: Buffer; hashAt: number } {
  // the hash record goes last: its value ends just before the pax data's final '\n'
  const header = encodeFileHeader(name, size, mode, mtimeMs, { ...(extra ?? {}), [key]: HASH_PLACEHOLDER });
  const paxLen = readOctal(header, 124, 12); // the pax block's size field
  return { header, hashAt: BLOCK + paxLen - 1 - 64 };
}

/** The hash records with placeholder digits (81 bytes each: their length never varies). */
const HASH_RECORDS: Record<TarHashKey, Buffer> = {
  [SHA256_KEY]: paxRecordBytes(SHA256_KEY, HASH_PLACEHOLDER),
  [BLAKE3_KEY]: paxRecordBytes(BLAKE3_KEY, HASH_PLACEHOLDER),
};
const HASH_RECORD_LENGTH = HASH_RECORDS[SHA256_KEY].length;

/** Bytes of writeHashedFileHeader's header: pax block, its one data block, the ustar block. */
export const HASHED_HEADER_LENGTH = 3 * BLOCK;

/**
 * The verifying packer's common header (a whole file whose name isPlainUstarName, only
 * `omirr.sha256` in its pax header) written in place at out[at..at+HASHED_HEADER_LENGTH),
 * byte for byte what encodeFileHeaderWithHashSlot makes, without its buffers and strings.
 * Returns where in `out` the caller writes the 64 hex digits.
 */
export function writeHashedFileHeader(out: Buffer, at: number, name: string, size: number, mode: number, mtimeMs: number, key: TarHashKey = SHA256_KEY): number {
  writeUstarBlock(out, at, 'PaxHeader', HASH_RECORD_LENGTH, 0o644, mtimeMs, 'x');
  HASH_RECORDS[key].copy(out, at + BLOCK);
  out.fill(0, at + BLOCK + HASH_RECORD_LENGTH, at + 2 * BLOCK);
  writeUstarBlock(out, at + 2 * BLOCK, name, size, mode, mtimeMs, '0');
  return at + BLOCK + HASH_RECORD_LENGTH - 1 - 64;
}

/**
 * The verifying packer's common header for a receiver that reads it (capability
 * `tar-hash-ustar`, src/net/remoteTree.ts): one ustar block at
 * out[at..at+BLOCK) with the file's hash (`hex`, 64 lowercase hex digits, known by then) in
 * its linkname field, checksum included.
 */
export function writeUstarHashedFileHeader(out: Buffer, at: number, name: string, size: number, mode: number, mtimeMs: number, key: TarHashKey, hex: string): void {
  writeUstarBlock(out, at, name, size, mode, mtimeMs, '0', `${key}=${hex}`);
}

/** The hash record of a regular file's linkname field (`tar-hash-ustar`); anything else in that field is an error. */
function linknameHash(b: Buffer): { key: TarHashKey; hex: string } {
  const valueAt = 157 + SHA256_KEY.length + 1;
  if (b[valueAt + 64] !== 0 || b[valueAt - 1] !== 0x3d || !isLowerHex(b, valueAt, valueAt + 64)) throw new TarFormatError('unexpected linkname on a regular file');
  const key = b.toString('latin1', 157, valueAt - 1);
  if (key !== SHA256_KEY && key !== BLAKE3_KEY) throw new TarFormatError('unexpected linkname on a regular file');
  return { key, hex: b.toString('latin1', valueAt, valueAt + 64) };
}

/**
 * The hash record alone, as writeHashedFileHeader makes it (`81 omirr.sha256=<64 hex>\n`), read
 * without decodePax: its pieces, the copy into one buffer, the UTF-8 decode and the slices cost
 * a few microseconds per received file. Returns null for anything else (uppercase digits
 * included), which then takes decodePax; what it accepts decodePax decodes alike.
 */
function hashRecordOnly(data: Buffer): Record<string, string> | null {
  if (data.length !== HASH_RECORD_LENGTH || data[HASH_RECORD_LENGTH - 1] !== 0x0a) return null;
  const valueAt = HASH_RECORD_LENGTH - 1 - 64;
  for (const key of [SHA256_KEY, BLAKE3_KEY] as const) {
    if (HASH_RECORDS[key].compare(data, 0, valueAt, 0, valueAt) !== 0) continue;
    if (!isLowerHex(data, valueAt, valueAt + 64)) return null;
    return { [key]: data.toString('latin1', valueAt, valueAt + 64) };
  }
  return null;
}

/** b[from, to) are all lowercase hex digits. */
function isLowerHex(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if ((c < 0x30 || c > 0x39) && (c < 0x61 || c > 0x66)) return false;
  }
  return true;
}

/** `s` is 64 lowercase hex digits (a sha256 or BLAKE3 in hex): the check a received hash gets. */
export function isHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x30 || c > 0x39) && (c < 0x61 || c > 0x66)) return false;
  }
  return true;
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** The entries without a pax header share this (read-only) empty record. */
const NO_PAX: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The magic 'ustar' at 257 (either the POSIX 'ustar\0' or GNU's 'ustar '). */
function isUstar(b: Buffer): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72;
}

function readString(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return decodeName(b.subarray(off, end));
}

function readOctal(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256; refuse negative numbers and anything beyond 2^53
    if (b[off] !== 0x80) throw new TarFormatError('negative number in tar header');
    let n = 0;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    if (!Number.isSafeInteger(n)) throw new TarFormatError('number too large in tar header');
    return n;
  }
  // Fast path, the common shape (ours and GNU tar's): optional leading spaces, octal digits,
  // then NUL/space padding to the end of the field. Anything else takes the strict path below.
  let i = off;
  const end = off + len;
  while (i < end && b[i] === 0x20) i++;
  let n = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) break;
    n = n * 8 + (c - 0x30);
    digits++;
  }
  let tail = i;
  while (tail < end && (b[tail] === 0 || b[tail] === 0x20)) tail++;
  if (tail === end && digits <= 17) return n;
  const s = b.toString('ascii', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ 0]*/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError('bad octal field in tar header');
  return parseInt(s, 8);
}

/** Parse pax records strictly; any malformed record is an error (not ignored). */
export function decodePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0 || sp - pos > 20) throw new TarFormatError('malformed pax record');
    const len = Number(data.toString('ascii', pos, sp));
    if (!Number.isSafeInteger(len) || len <= sp - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed pax record');
    }
    // bytes that are not UTF-8 (a raw path) come back escaped, exactly as they were sent
    const rec = decodeName(data.subarray(sp + 1, pos + len - 1));
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new TarFormatError('malformed pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

export interface TarSink {
  /** A regular file entry begins (pax keys merged into the header). */
  entry(h: TarHeader): void;
  data(chunk: Buffer): void;
  entryEnd(): void;
}

/** Largest pax extended header accepted (real ones are a few hundred bytes). */
const MAX_PAX = 64 * 1024;

/**
 * Incremental tar parser: feed() any slicing of the byte stream; it calls the sink for
 * regular files. Pax global headers, links, devices, directories, GNU long names, bad
 * checksums and oversized pax headers are errors: omirr's streams carry regular files only.
 */
export class TarParser {
  private hdr = Buffer.alloc(BLOCK); // its own ArrayBuffer: 4-byte aligned
  private hdrWords = new Uint32Array(this.hdr.buffer, this.hdr.byteOffset, BLOCK / 4);
  private hdrFill = 0;
  private remaining = 0; // data bytes left in the current entry
  private pad = 0; // padding bytes left after it
  private paxBuf: Buffer[] | null = null; // collecting a pax header's data
  private paxLen = 0;
  private pendingPax: Record<string, string> = NO_PAX;
  private inFile = false;
  ended = false;

  constructor(private readonly sink: TarSink) {}

  feed(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length && !this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - pos);
        const piece = buf.subarray(pos, pos + n);
        // a copy: the fed buffer is reused once feed() returns (extract gives it back)
        if (this.paxBuf) {
          // a pax header whole in one fed buffer (the usual case) is decoded from it directly
          const fast = n === this.paxLen && this.paxBuf.length === 0 ? hashRecordOnly(piece) : null;
          if (fast) {
            this.paxBuf = null;
            this.pendingPax = fast;
            this.remaining = 0;
            pos += n;
            continue;
          }
          this.paxBuf.push(Buffer.from(piece));
        } else this.sink.data(piece);
        this.remaining -= n;
        pos += n;
        if (this.remaining === 0) this.finishEntry();
        continue;
      }
      if (this.pad > 0) {
        const n = Math.min(this.pad, buf.length - pos);
        this.pad -= n;
        pos += n;
        continue;
      }
      const n = Math.min(BLOCK - this.hdrFill, buf.length - pos);
      buf.copy(this.hdr, this.hdrFill, pos, pos + n);
      this.hdrFill += n;
      pos += n;
      if (this.hdrFill === BLOCK) {
        this.hdrFill = 0;
        this.header(this.hdr);
      }
    }
  }

  /** The stream ended: it must have ended cleanly between entries. */
  end(): void {
    if (this.remaining > 0 || this.pad > 0 || this.hdrFill > 0 || this.paxBuf) {
      throw new TarFormatError('tar stream truncated');
    }
  }

  private header(b: Buffer): void {
    if (isZeroBlock(b)) {
      this.ended = true;
      return;
    }
    const stored = readOctal(b, 148, 8);
    if (stored !== checksum(b, this.hdrWords)) throw new TarFormatError('bad tar header checksum');
    const type = b[156] === 0 ? '0' : String.fromCharCode(b[156]!);
    let name = readString(b, 0, 100);
    if (b[345] !== 0 && isUstar(b)) name = readString(b, 345, 155) + '/' + name;
    const size = readOctal(b, 124, 12);
    if (type === 'x') {
      if (size > MAX_PAX) throw new TarFormatError('pax header too large');
      this.paxBuf = [];
      this.paxLen = size;
      this.remaining = size;
      this.pad = padding(size);
      if (size === 0) this.finishEntry();
      return;
    }
    if (type !== '0' && type !== '7') throw new TarFormatError(`unexpected tar entry type '${type}'`);
    let pax = this.pendingPax;
    this.pendingPax = NO_PAX;
    if (b[157] !== 0) {
      // the file's hash in its linkname (`tar-hash-ustar`); never beside one in a pax header
      const { key, hex } = linknameHash(b);
      if (pax[SHA256_KEY] !== undefined || pax[BLAKE3_KEY] !== undefined) throw new TarFormatError('file hash both in pax and in linkname');
      pax = pax === NO_PAX ? { [key]: hex } : { ...pax, [key]: hex };
    }
    const h: TarHeader = {
      name: pax.path ?? name,
      size: pax.size !== undefined ? Number(pax.size) : size,
      mode: readOctal(b, 100, 8),
      mtimeMs: readOctal(b, 136, 12) * 1000,
      type: '0',
      pax,
    };
    if (!Number.isSafeInteger(h.size) || h.size < 0) throw new TarFormatError('bad size in tar header');
    this.inFile = true;
    this.sink.entry(h);
    this.remaining = h.size;
    this.pad = padding(h.size);
    if (h.size === 0) this.finishEntry();
  }

  private finishEntry(): void {
    if (this.paxBuf) {
      const data = Buffer.concat(this.paxBuf, this.paxLen);
      this.paxBuf = null;
      this.pendingPax = decodePax(data);
      return;
    }
    if (this.inFile) {
      this.inFile = false;
      this.sink.entryEnd();
    }
  }
}
