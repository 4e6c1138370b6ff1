// A scan's listing in a compact binary form (capability `listing-bin`, docs/protocol.md):
// what `scan` answers on a download stream instead of one JSON object per entry. Each path
// is sent as the part that differs from the path before it (a listing is depth-first, so
// neighbours share their directory), numbers as varints, the mtime as the difference from
// the entry before. A 20,000-file listing is ~5x smaller than its JSON and is encoded and
// decoded without JSON text or intermediate objects (docs/performance.md, "Tenth version").
//
// The decoder is fed network input: every record is bounds-checked, and every entry passes
// the same checks as a JSON entry (wireEntry's rules: canonical relative path, sizes, modes,
// times in range); anything else is a ProtocolError, which closes the connection.
import { ENTRY_KINDS, MTIME_NS_MAX, MTIME_NS_MIN, sameMtime, type Entry } from '../core/entry.js';
import type { FirstDifference, LikeListing } from '../core/tree.js';
import { decodeName } from '../core/names.js';
import { F_GID, F_HASH, F_INO, F_NS, F_UID, HASH_BYTES, MAX_BLOCK, MAX_LISTING_ENTRIES } from '../core/listingEncode.js';
import { ProtocolError } from './frames.js';
import { MAX_FILE_SIZE, MAX_MTIME_MS, MAX_TARGET_BYTES, wirePath, wireTarget } from './validate.js';

export const LISTING_CAP = 'listing-bin';
/** A binary scan may carry `like` (the requester's listing's digest) and be answered `same` (src/core/likeForm.ts). */
export const LISTING_SAME_CAP = 'listing-same';
/**
 * With listing-same: the peer answers "the same" whatever walks its tree (`omirr serve`'s io
 * thread takes the like form's digest too), not only `serve --stdio`'s main-thread walk; a
 * client then walks its own end and takes its digest before it asks for the scan.
 */
export const LISTING_SAME_ANY_CAP = 'listing-same-any';
// the encoder is in the core layer (a scan thread encodes where it scanned)
export { encodeListing, MAX_LISTING_ENTRIES } from '../core/listingEncode.js';

/** Thrown inside compareBlock: this record is not the local one (or is not valid); decode in full. */
const DIFFERS = Symbol('differs');

/** Whether `a` and `b` have the same first `n` code units (both are at least that long). */
function samePrefix(a: string, b: string, n: number): boolean {
  for (let k = n - 1; k >= 0; k--) if (a.charCodeAt(k) !== b.charCodeAt(k)) return false;
  return true;
}

/**
 * Decodes a listing from the stream's bytes in whatever pieces they arrive.
 *
 * Given `like` (the other end's entries, in scan order), it first only compares: each record
 * against the entry of the same index, by planSync's quick check (core/packedEntries.ts
 * matchesPacked: path, kind, a symlink's target, mode, a file's size, the mtime), building no
 * entry and no path string, and keeps the blocks. A re-run that changed nothing then costs
 * one pass over the bytes (`equalCount()`). A record with the path and kind of its `like`
 * entry but other attributes (a changed file) is decoded on its own and the comparison goes
 * on (`changes()`: a re-run that changed a few files builds only theirs). At the first record
 * whose path or kind differs, or that is not valid, the kept blocks are decoded in full from
 * the start, so the entries, and the errors, are those of a decoder without `like`.
 */
export class ListingDecoder {
  readonly entries: Entry[] = [];
  private like: readonly Entry[] | undefined;
  /** The blocks compared so far (copies: the stream may reuse its buffers). */
  private kept: Buffer[] = [];
  /** Records compared so far: each with the path and kind of `like`'s entry of its index. */
  private equal = 0;
  /** Of those, the ones whose other attributes differ: their index, and the record decoded. */
  private changed: Array<[number, Entry]> = [];
  private comparing = false;
  /** The scratch for sameMtime: no object per record. */
  private readonly mt: { mtimeMs: number; mtimeNs?: number } = { mtimeMs: 0 };
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private prevPath = '';
  private prevMtime = 0;
  // the block being read
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  private end = 0;

  /**
   * `onDiffers`: told once, as soon as the listing is known not to be equal to `like` (the
   * first record that differs): the caller can start what a transfer needs meanwhile; with
   * both entries when that record has the path and kind of `like`'s.
   */
  constructor(
    like?: readonly Entry[],
    private onDiffers?: (first?: FirstDifference) => void,
  ) {
    this.like = like;
  }

  private differs(first?: FirstDifference): void {
    const f = this.onDiffers;
    this.onDiffers = undefined;
    f?.(first);
  }

  push(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 4) {
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len === 0 || len > MAX_BLOCK) throw new ProtocolError(`listing: block of ${len} bytes`);
      if (this.pendingBytes < 4 + len) return;
      const block = this.peek(4 + len);
      this.consume(4 + len);
      if (this.like) {
        const copy = Buffer.from(block.subarray(4, 4 + len));
        this.kept.push(copy);
        if (this.compareBlock(copy)) continue;
        this.decodeKept();
      } else {
        this.decodeBlock(block, 4, 4 + len);
      }
    }
  }

  /**
   * Once the stream ended: the number of entries when every record was equal to `like`'s
   * entry of the same index and the counts match (planSync would plan nothing), with no
   * entry built; undefined otherwise (then finish() has them).
   */
  equalCount(): number | undefined {
    if (this.pendingBytes > 0) throw new ProtocolError('listing: ends inside a block');
    return this.like && this.equal === this.like.length && this.changed.length === 0 ? this.equal : undefined;
  }

  /**
   * Once the stream ended: when every record had the path and kind of `like`'s entry of the
   * same index and the counts match, the count and the records whose other attributes differ
   * (index, entry; in listing order; none: equal); the listing is then `like` with these
   * entries in their places. Undefined otherwise (then finish() has the entries).
   */
  likeListing(): LikeListing | undefined {
    if (this.pendingBytes > 0) throw new ProtocolError('listing: ends inside a block');
    if (!this.like || this.equal !== this.like.length) return undefined;
    return this.changed.length === 0 ? { equalCount: this.equal } : { equalCount: this.equal, changed: this.changed };
  }

  /** All entries, once the stream ended; a listing cut in the middle of a block is refused. */
  finish(): Entry[] {
    if (this.pendingBytes > 0) throw new ProtocolError('listing: ends inside a block');
    if (this.like) this.decodeKept();
    return this.entries;
  }

  /** Leaves the comparison: every kept block decoded in full, from the listing's start. */
  private decodeKept(): void {
    this.differs();
    const kept = this.kept;
    this.like = undefined;
    this.kept = [];
    this.changed = [];
    this.prevPath = '';
    this.prevMtime = 0;
    for (const b of kept) this.decodeBlock(b, 0, b.length);
  }

  /** Whether every record of the block equals `like`'s entry of its index; false at the first that differs (or is not valid). */
  private compareBlock(b: Buffer): boolean {
    const like = this.like!;
    this.b = b;
    this.p = 0;
    this.end = b.length;
    // a range or bounds check that fails leaves the comparison: the full decode reports it
    this.comparing = true;
    try {
      while (this.p < this.end) {
        const i = this.equal;
        const l = like[i];
        if (l === undefined || i >= MAX_LISTING_ENTRIES) return false;
        const start = this.p;
        const flags = b[this.p++]!;
        const kind = ENTRY_KINDS[flags & 3];
        if (kind === undefined || kind !== l.kind) return false;
        // the path: the part shared with the path before (equal to like[i - 1].path), then the
        // name, compared unit by unit with no string made per record: the slices and decoded
        // names it made were most of the comparison's garbage (a cold comparison of 20,200
        // records 57 -> 45 ms, docs/performance.md "Re-runs over omirr:// and ssh://"). A
        // one-byte number is read inline: this runs cold, once per entry
        const prev = i > 0 ? like[i - 1]!.path : '';
        const shared = b[this.p]! < 0x80 ? b[this.p++]! : this.varint();
        if (shared > prev.length) return false;
        const lp = l.path;
        if (lp.length < shared) return false;
        if (shared === prev.length ? !lp.startsWith(prev) : !samePrefix(lp, prev, shared)) return false;
        const n = b[this.p]! < 0x80 ? b[this.p++]! : this.varint();
        if (n > 4 * 4096 || this.p + n > this.end) return false;
        if (!this.nameIs(b, n, lp, shared)) return false;
        this.p += n;
        const size = kind === 'file' ? this.ranged(this.varint(), 0, MAX_FILE_SIZE, 'size') : 0;
        const mt = this.mt;
        mt.mtimeMs = this.ranged(this.prevMtime + this.signed(), -MAX_MTIME_MS, MAX_MTIME_MS, 'mtimeMs');
        mt.mtimeNs = flags & F_NS ? this.ranged(this.signed(), MTIME_NS_MIN, MTIME_NS_MAX, 'mtimeNs') : undefined;
        const mode = this.ranged(this.varint(), 0, 0o7777, 'mode');
        if (kind === 'symlink' ? wireTarget(this.name(4 * MAX_TARGET_BYTES)) !== l.target : mode !== l.mode || (kind === 'file' && size !== l.size) || !sameMtime(mt, l)) {
          // the same path and kind, other attributes: this record decoded whole, from its start
          this.p = start;
          this.prevPath = prev;
          const e = this.decodeRecord();
          this.changed.push([i, e]);
          if (this.onDiffers) this.differs({ like: l, entry: e });
          this.prevMtime = e.mtimeMs;
          this.equal = i + 1;
          continue;
        }
        if (flags & F_UID) this.ranged(this.varint(), 0, 2 ** 32 - 1, 'uid');
        if (flags & F_GID) this.ranged(this.varint(), 0, 2 ** 32 - 1, 'gid');
        if (flags & F_INO) this.varint();
        if (flags & F_HASH) {
          if (kind !== 'file' || this.p + HASH_BYTES > this.end) return false;
          this.p += HASH_BYTES;
        }
        this.prevMtime = mt.mtimeMs;
        this.equal = i + 1;
      }
      return true;
    } catch (err) {
      if (err === DIFFERS || err instanceof ProtocolError) return false;
      throw err;
    } finally {
      this.comparing = false;
    }
  }

  /**
   * Whether the `n` name bytes at this.p are `lp` from `from` on. An ASCII name (most of
   * them) is compared byte by code unit, with no string made. Any other is decoded as UTF-8
   * (a name with bytes that are not, U+FFFD: an invalid byte or that very character, as
   * decodeName escapes them) and compared as a string.
   */
  private nameIs(b: Buffer, n: number, lp: string, from: number): boolean {
    const p = this.p;
    if (lp.length === from + n) {
      let k = 0;
      for (; k < n; k++) {
        const c = b[p + k]!;
        if (c >= 0x80) break;
        if (lp.charCodeAt(from + k) !== c) return false;
      }
      if (k === n) return true;
    }
    let name = b.toString('utf8', p, p + n);
    if (name.includes('\ufffd')) name = decodeName(b.subarray(p, p + n));
    return lp.length === from + name.length && lp.endsWith(name);
  }

  /** The first `n` pending bytes as one buffer (a view when one chunk holds them). */
  private peek(n: number): Buffer {
    if (this.pending[0]!.length >= n) return this.pending[0]!;
    const all = Buffer.concat(this.pending);
    this.pending = [all];
    return all;
  }

  private consume(n: number): void {
    this.pendingBytes -= n;
    while (n > 0) {
      const c = this.pending[0]!;
      if (c.length <= n) {
        this.pending.shift();
        n -= c.length;
      } else {
        this.pending[0] = c.subarray(n);
        n = 0;
      }
    }
  }

  private fail(what: string): never {
    if (this.comparing) throw DIFFERS;
    throw new ProtocolError(`listing: ${what} (entry ${this.entries.length + 1})`);
  }

  private varint(): number {
    const b = this.b;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.p >= this.end) this.fail('record cut short');
      const x = b[this.p++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        if (x === 0 && i > 0) this.fail('overlong number');
        if (v > Number.MAX_SAFE_INTEGER) this.fail('number too large');
        return v;
      }
      mul *= 0x80;
    }
    return this.fail('number too long');
  }

  private signed(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  private name(maxBytes: number): string {
    const n = this.varint();
    if (n > maxBytes || this.p + n > this.end) this.fail('name too long or cut short');
    const b = this.b;
    const start = this.p;
    this.p += n;
    for (let i = start; i < this.p; i++) if (b[i]! >= 0x80) return decodeName(b.subarray(start, this.p));
    return b.toString('latin1', start, this.p);
  }

  private ranged(v: number, min: number, max: number, what: string): number {
    if (v < min || v > max) this.fail(`${what} out of range`);
    return v;
  }

  private decodeBlock(b: Buffer, start: number, end: number): void {
    this.b = b;
    this.p = start;
    this.end = end;
    while (this.p < this.end) {
      if (this.entries.length >= MAX_LISTING_ENTRIES) this.fail('too many entries');
      const e = this.decodeRecord();
      this.prevPath = e.path;
      this.prevMtime = e.mtimeMs;
      this.entries.push(e);
    }
  }

  /** The record at this.p, after the path this.prevPath and the mtime this.prevMtime, as an entry, checked. */
  private decodeRecord(): Entry {
    const b = this.b;
    const flags = b[this.p++]!;
    const kind = ENTRY_KINDS[flags & 3];
    if (kind === undefined) this.fail('unknown kind');
    const shared = this.varint();
    if (shared > this.prevPath.length) this.fail('shares more than the path before');
    const path = wirePath(this.prevPath.slice(0, shared) + this.name(4 * 4096));
    const size = kind === 'file' ? this.ranged(this.varint(), 0, MAX_FILE_SIZE, 'size') : 0;
    const mtimeMs = this.ranged(this.prevMtime + this.signed(), -MAX_MTIME_MS, MAX_MTIME_MS, 'mtimeMs');
    const e: Entry = { path, kind, size, mtimeMs, mode: 0 };
    if (flags & F_NS) e.mtimeNs = this.ranged(this.signed(), MTIME_NS_MIN, MTIME_NS_MAX, 'mtimeNs');
    e.mode = this.ranged(this.varint(), 0, 0o7777, 'mode');
    if (kind === 'symlink') {
      e.target = wireTarget(this.name(4 * MAX_TARGET_BYTES));
    }
    if (flags & F_UID) e.uid = this.ranged(this.varint(), 0, 2 ** 32 - 1, 'uid');
    if (flags & F_GID) e.gid = this.ranged(this.varint(), 0, 2 ** 32 - 1, 'gid');
    if (flags & F_INO) e.ino = this.varint();
    if (flags & F_HASH) {
      if (kind !== 'file') this.fail('a hash on a non-file');
      if (this.p + HASH_BYTES > this.end) this.fail('record cut short');
      e.hash = b.toString('hex', this.p, this.p + HASH_BYTES);
      this.p += HASH_BYTES;
    }
    return e;
  }
}
