// A scan's listing in the compact binary form of capability `listing-bin` (docs/protocol.md):
// the encoder, pure and in the core layer so that a scan thread can encode the listing
// where it scanned (src/workers/scanTask.ts, `listing: true`: the far side of an ssh:// sync
// sends blocks its thread made, and its main thread never builds an entry object). The
// decoder, which checks network input, is in src/net/listingWire.ts. Each path is sent as
// the part that differs from the path before it (a listing is depth-first, so neighbours
// share their directory), numbers as varints, the mtime as the difference from the entry
// before.
import type { Entry } from './entry.js';
import { encodeName, hasEscapedBytes } from './names.js';

/** A block holds whole records; the encoder cuts blocks at about this size. */
export const BLOCK_BYTES = 64 * 1024;
/** A block larger than this is refused (one record is at most ~25 KiB: a 4 KiB path and target, escaped). */
export const MAX_BLOCK = 256 * 1024;
/** At most this many entries in one listing (as for JSON items, connection.ts). */
export const MAX_LISTING_ENTRIES = 4_000_000;

export const KIND_CODE = { file: 0, dir: 1, symlink: 2 } as const;
export const F_NS = 1 << 2;
export const F_UID = 1 << 3;
export const F_GID = 1 << 4;
export const F_INO = 1 << 5;
export const F_HASH = 1 << 6;
export const HASH_BYTES = 32;
const HEX64 = /^[0-9a-f]{64}$/;

/** Encodes entries into blocks: u32 big-endian length, then records (see docs/protocol.md). */
class BlockWriter {
  buf: Buffer;
  pos = 4;
  constructor(size = BLOCK_BYTES) {
    this.buf = Buffer.allocUnsafe(size);
  }

  varint(v: number): void {
    const b = this.buf;
    let p = this.pos;
    if (v < 0x80) {
      // most numbers of a listing (a path's shared part, a name's length, an mtime's
      // difference): one byte, and the encoder runs cold in every process that lists
      b[p] = v;
      this.pos = p + 1;
      return;
    }
    if (v <= 0x7fffffff) {
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
      this.pos = p;
      return;
    }
    // whole numbers up to 2^53: arithmetic, not 32-bit shifts
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A signed value as zigzag (0, -1, 1, -2... -> 0, 1, 2, 3...). */
  signed(v: number): void {
    this.varint(v < 0 ? -v * 2 - 1 : v * 2);
  }

  /** A name's bytes (`s` from `from` on) with their length first: ASCII straight into the block, else the name's bytes. */
  name(s: string, from = 0): void {
    const b = this.buf;
    const n = s.length - from;
    // ASCII (most names): copied unit by unit as it is checked; Buffer.write's own checks
    // cost more than the copy for names this short (a fifth of a listing's encoding)
    const start = this.pos;
    this.varint(n);
    let p = this.pos;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        p = -1;
        break;
      }
      b[p++] = c;
    }
    if (p >= 0) {
      this.pos = p;
      return;
    }
    this.pos = start;
    if (from > 0) s = s.slice(from);
    const bytes = hasEscapedBytes(s) ? encodeName(s) : Buffer.from(s, 'utf8');
    this.varint(bytes.length);
    bytes.copy(b, this.pos);
    this.pos += bytes.length;
  }

  finish(): Buffer {
    this.buf.writeUInt32BE(this.pos - 4, 0);
    return this.buf.subarray(0, this.pos);
  }
}

/** Code units `a` and `b` share at the start, never ending between the halves of a surrogate pair. */
function sharedPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && i < b.length) {
    const c = b.charCodeAt(i - 1);
    if (c >= 0xd800 && c <= 0xdbff) i--; // a high surrogate: its pair goes whole into the suffix
  }
  return i;
}

/** The listing as blocks, produced as they are asked for (a stream's reads pace the encoding). */
export function* encodeListing(entries: readonly Entry[]): Generator<Buffer> {
  const enc = new ListingEncoder();
  for (const e of entries) {
    const b = enc.add(e);
    if (b) yield b;
  }
  const last = enc.end();
  if (last) yield last;
}

/** The encoder's state between two entries (ListingEncoder's `after`). */
export interface ListingResume {
  path: string;
  mtimeMs: number;
}

/**
 * The listing's encoder fed entry by entry: a block comes back from add() each time one is
 * full, the last from end(). A scan that sends its listing as it walks (scanTask.ts
 * `ListingSink`) feeds it the entries as they are listed.
 */
export class ListingEncoder {
  private w = new BlockWriter();
  private prevPath: string;
  private prevMtime: number;

  /**
   * `after`: the last entry another encoder put in the same listing (its blocks ended, all
   * sent before this one's): this one's records go on from it, as one encoder's would.
   * The far side of an ssh:// sync walks the start of its tree on the main thread and leaves
   * a big tree's rest to a thread (engine/localScan.ts prescanListing).
   */
  constructor(after?: ListingResume) {
    this.prevPath = after?.path ?? '';
    this.prevMtime = after?.mtimeMs ?? 0;
  }

  /** Where the listing stands: what a ListingEncoder that goes on after this one is given. */
  resumeAt(): ListingResume {
    return { path: this.prevPath, mtimeMs: this.prevMtime };
  }

  /** Encode `e` after the entries before it; a full block when `e` did not fit in the one being filled. */
  add(e: Entry): Buffer | undefined {
    let full: Buffer | undefined;
    let w = this.w;
    const shared = sharedPrefix(this.prevPath, e.path);
    // the most a record can take: every code unit as 3 bytes (an escape is one byte)
    const need = 64 + 3 * (e.path.length - shared) + (e.target !== undefined ? 3 * e.target.length : 0);
    if (w.pos + need > w.buf.length) {
      if (w.pos > 4) full = w.finish();
      w = this.w = new BlockWriter(Math.max(BLOCK_BYTES, need + 4));
    }
    let flags: number = KIND_CODE[e.kind];
    if (e.mtimeNs !== undefined) flags |= F_NS;
    if (e.uid !== undefined) flags |= F_UID;
    if (e.gid !== undefined) flags |= F_GID;
    if (e.ino !== undefined) flags |= F_INO;
    // a hash this side computed is 64 lowercase hex digits; anything else is not sent
    if (e.hash !== undefined && e.kind === 'file' && HEX64.test(e.hash)) flags |= F_HASH;
    w.buf[w.pos++] = flags;
    w.varint(shared);
    w.name(e.path, shared);
    if (e.kind === 'file') w.varint(e.size);
    w.signed(e.mtimeMs - this.prevMtime);
    if (e.mtimeNs !== undefined) w.signed(e.mtimeNs);
    w.varint(e.mode);
    if (e.kind === 'symlink') w.name(e.target ?? '');
    if (e.uid !== undefined) w.varint(e.uid);
    if (e.gid !== undefined) w.varint(e.gid);
    if (e.ino !== undefined) w.varint(e.ino);
    if (flags & F_HASH) {
      w.buf.write(e.hash!, w.pos, HASH_BYTES, 'hex');
      w.pos += HASH_BYTES;
    }
    this.prevPath = e.path;
    this.prevMtime = e.mtimeMs;
    return full;
  }

  /** The block being filled, if it holds any record (the listing's last). */
  end(): Buffer | undefined {
    return this.w.pos > 4 ? this.w.finish() : undefined;
  }
}
