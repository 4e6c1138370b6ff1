// A listing's "like form": the bytes of exactly what a re-run's comparison of a remote
// listing with the local one reads (src/net/listingWire.ts compareBlock, planSync's quick
// check): each entry's path and kind; a symlink's target; a file's or directory's mode and
// mtime (to the microsecond utimes can set), and a file's size. No inode, owner or hash,
// and a sub-microsecond mtime dropped: a copy differs from its source in those and is still
// equal to it. Two listings with the same like form are equal by that comparison, so a peer
// that sends the sha256 of its like form (capability `listing-same`, docs/protocol.md) is
// told "the same" instead of being sent a listing it would compare and find equal. Pure (the
// hash is taken in src/workers/likeDigest.ts).
import type { Entry } from './entry.js';
import { ListingEncoder } from './listingEncode.js';

/** Names held as strings before they are written out as bytes: kept, every path of a walk was copied by each scavenge. */
const NAMES_PER_FLUSH = 1024;
/** Entries the columns grow by at a time. */
const GROW = 4096;

/**
 * Entries written one after another in the like form: the paths (and symlinks' targets), each
 * ended by a NUL (no name holds one), and the numbers in columns. Built
 * with no native call per entry: `serve --stdio` writes it as it walks, on its critical
 * path (a form written with Buffer writes per entry cost that walk 35-45 ms of CPU more,
 * this one ~10).
 */
export class LikeForm {
  count = 0;
  /** The names since the last flush; the ones before it as UTF-16 bytes (off the heap: a walk's GC copies none of them). */
  private names: string[] = [];
  private nameBytes: Buffer[] = [];
  private kinds = new Uint8Array(GROW);
  /** size, mtimeMs (a symlink's: 0, 0). */
  private nums = new Float64Array(2 * GROW);
  /** mode, then the mtime's microsecond below the ms + 1000 (0: not known; a symlink's: 0, 0). */
  private small = new Int32Array(2 * GROW);

  add(e: Entry): void {
    const i = this.count;
    if (i === this.kinds.length) this.grow();
    if (e.kind === 'symlink') {
      // compareBlock reads only a symlink's target
      this.kinds[i] = 2;
      this.names.push(e.path, e.target ?? '');
      if (this.names.length >= NAMES_PER_FLUSH) this.flushNames();
    } else {
      this.kinds[i] = e.kind === 'file' ? 0 : 1;
      this.names.push(e.path);
      if (this.names.length >= NAMES_PER_FLUSH) this.flushNames();
      this.nums[2 * i] = e.kind === 'file' ? e.size : 0;
      this.nums[2 * i + 1] = e.mtimeMs;
      this.small[2 * i] = e.mode;
      // sameMtime: equal at the microsecond when both know it, at the ms when either does
      // not (a form without it is another form: never "the same" as one with it)
      this.small[2 * i + 1] = e.mtimeNs === undefined ? 0 : Math.floor(e.mtimeNs / 1000) + 1000;
    }
    this.count = i + 1;
  }

  /** The form as the byte chunks that are hashed: the count, the columns, the names as UTF-16 (lossless for any string). */
  end(): Buffer[] {
    const n = this.count;
    const count = Buffer.alloc(4);
    count.writeUInt32LE(n);
    const view = (a: Uint8Array | Float64Array | Int32Array, per: number): Buffer => Buffer.from(a.buffer, a.byteOffset, n * per * a.BYTES_PER_ELEMENT);
    this.flushNames();
    return [count, view(this.kinds, 1), view(this.nums, 2), view(this.small, 2), ...this.nameBytes];
  }

  /** Each name ended by a NUL, as UTF-16LE (lossless for any string). */
  private flushNames(): void {
    if (this.names.length === 0) return;
    this.nameBytes.push(Buffer.from(this.names.join('\0') + '\0', 'utf16le'));
    this.names = [];
  }

  private grow(): void {
    const k = new Uint8Array(this.kinds.length * 2);
    k.set(this.kinds);
    this.kinds = k;
    const f = new Float64Array(this.nums.length * 2);
    f.set(this.nums);
    this.nums = f;
    const s = new Int32Array(this.small.length * 2);
    s.set(this.small);
    this.small = s;
  }
}

/** The like form of `entries`. */
export function likeFormOf(entries: readonly Entry[]): Buffer[] {
  const f = new LikeForm();
  for (const e of entries) f.add(e);
  return f.end();
}

/**
 * A listing's encoder that also writes its entries' like form: `serve --stdio`'s walk
 * (engine/localScan.ts listOnMainThread), so that a peer's digest can be checked without a
 * second pass over the tree.
 */
export class LikeFormEncoder extends ListingEncoder {
  readonly form = new LikeForm();

  override add(e: Entry): Buffer | undefined {
    this.form.add(e);
    return super.add(e);
  }
}
