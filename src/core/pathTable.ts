// The keys of the index (src/core/compactIndex.ts) without a JS string or a Map entry per
// path (issue 12, "Scale": at most 300 bytes of resident memory per indexed file). A path as a
// V8 string cost ~53 bytes (a sliced string of 32 bytes into the loaded file's paths, or a
// flat one of 16 + its length rounded up to 8) and its Map entry ~29 more (three 8-byte
// words and a bucket, at a load between 1/2 and 1): ~82 bytes a record. Here a path is
// its directory (a number into a table of directory prefixes, shared by every file in the
// directory) and its name as UTF-8 bytes in one arena: ~16 bytes of columns, 4-8 bytes of
// hash table and the name's bytes.
//
// A row number is the caller's (CompactIndex's slot): add(key, row) files a key under a row,
// find(key) gives the row back, keyOf(row) the key. The hash table is open addressing with
// linear probing over an Int32Array of row + 1 (0: empty), deletes shift the probe chain
// back (no tombstones), each row keeps its key's 32-bit hash (no key is re-read to grow or
// shift). A key is hashed and compared as UTF-8 straight from the JS string, without making
// its bytes. Keys UTF-8 cannot carry (a lone surrogate) and keys with a NUL (the index
// file's separator) are kept in a Map of their own.
// Names of removed rows are left in the arena as garbage until it is compacted (at twice the
// live bytes).

import { fmix32 } from './fmix32.js';

/** dir[row] of a row that holds no key. */
const NO_KEY = 0xffffffff;
/** dir[row] of a row whose key is in `odd` (not UTF-8). */
const ODD_KEY = 0xfffffffe; // in `odd`
const SLASH = 0x2f;

/**
 * Well-formed UTF-8 (what a string's encoding gives back exactly: no overlong form, no
 * surrogate, nothing past U+10FFFF). node:buffer's isUtf8 is I/O-free too, but core imports
 * no node: module (test/api/layering.test.ts).
 */
export function isUtf8(b: Uint8Array): boolean {
  const n = b.length;
  for (let i = 0; i < n; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) (need = 1), (min = 0x80), (cp = c & 0x1f);
    else if (c >= 0xe0 && c <= 0xef) (need = 2), (min = 0x800), (cp = c & 0x0f);
    else if (c >= 0xf0 && c <= 0xf4) (need = 3), (min = 0x10000), (cp = c & 0x07);
    else return false;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return false;
    i += need + 1;
  }
  return true;
}

/** Bytes of the names (after each key's last '/') in a NUL-separated path column. */
function nameBytes(b: Uint8Array): number {
  let n = 0;
  let name = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0) (n += name), (name = 0);
    else if (c === SLASH) name = 0;
    else name++;
  }
  return n + name;
}

function sameBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** FNV-1a over the key's UTF-8 bytes, finished with murmur3's mix; -1 for a key kept aside (a lone surrogate, a NUL). */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      // NUL: the index file's separator, such keys are kept aside like the non-UTF-8 ones
      if (c === 0) return -1;
      h = Math.imul(h ^ c, 0x01000193);
    } else if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else if (c < 0xd800 || c >= 0xe000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else {
      const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d >= 0xe000) return -1;
      i++;
      const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      h = Math.imul(h ^ (0xf0 | (cp >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((cp >> 12) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((cp >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (cp & 63)), 0x01000193);
    }
  }
  return fmix32(h);
}

/** The same hash over UTF-8 bytes [start, end). */
export function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return fmix32(h);
}

/** True when s[from..] encoded as UTF-8 is exactly b[off, off + len). */
function sameUtf8(s: string, from: number, b: Uint8Array, off: number, len: number): boolean {
  let p = off;
  const end = off + len;
  const n = s.length;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (p >= end || b[p++] !== c) return false;
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    const need = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (p + need > end) return false;
    if (need === 2) {
      if (b[p] !== (0xc0 | (cp >> 6)) || b[p + 1] !== (0x80 | (cp & 63))) return false;
    } else if (need === 3) {
      if (b[p] !== (0xe0 | (cp >> 12)) || b[p + 1] !== (0x80 | ((cp >> 6) & 63)) || b[p + 2] !== (0x80 | (cp & 63))) return false;
    } else if (b[p] !== (0xf0 | (cp >> 18)) || b[p + 1] !== (0x80 | ((cp >> 12) & 63)) || b[p + 2] !== (0x80 | ((cp >> 6) & 63)) || b[p + 3] !== (0x80 | (cp & 63))) return false;
    p += need;
  }
  return p === end;
}

export class PathTable {
  /** Bytes a row in the row columns (setRows with a block). */
  static readonly ROW_BYTES = 16;
  /** Row + 1 at each position, 0 where empty; a power of two long, at most 3/4 full. */
  private table = new Int32Array(16);
  private count = 0;
  /** Per row: the key's hash, its directory, its name's place and length in the arena. */
  private hash = new Uint32Array(0);
  private dir = new Uint32Array(0);
  private nameOff = new Uint32Array(0);
  private nameLen = new Uint32Array(0);
  private arena = Buffer.alloc(0);
  private arenaUsed = 0;
  private arenaLive = 0;
  /** Directory prefixes ('' or ending in '/'), by number; the numbers of unused ones in `freeDirs`. */
  private dirs: string[] = [];
  private dirRefs: number[] = [];
  private readonly dirNo = new Map<string, number>();
  private freeDirs: number[] = [];
  /** Keys kept aside (a lone surrogate, a NUL): key -> row, row -> key. */
  private readonly odd = new Map<string, number>();
  private readonly oddRow = new Map<number, string>();

  /**
   * Rows 0 .. rows - 1 can be used (the caller's capacity; kept exactly, no slack). With
   * `block`, the row columns are views into it from byte `at` on (16 bytes a row, 4-aligned):
   * the caller's one allocation for all its columns.
   */
  setRows(rows: number, block?: ArrayBuffer, at = 0): void {
    if (rows === this.dir.length && !block) return;
    let i = 0;
    const g = (old: Uint32Array): Uint32Array<ArrayBuffer> => {
      const n = block ? new Uint32Array(block, at + 4 * rows * i++, rows) : new Uint32Array(rows);
      n.set(old.length <= rows ? old : old.subarray(0, rows));
      return n;
    };
    const from = this.dir.length;
    this.hash = g(this.hash);
    this.dir = g(this.dir);
    this.nameOff = g(this.nameOff);
    this.nameLen = g(this.nameLen);
    if (rows > from) this.dir.fill(NO_KEY, from);
  }

  get size(): number {
    return this.count + this.odd.size;
  }

  /** True when `row` holds a key. */
  holds(row: number): boolean {
    return this.dir[row] !== NO_KEY;
  }

  /** The last key find() hashed, and its hash (add() after a find() of the same key hashes it once). */
  private lastKey: string | undefined;
  private lastHash = 0;

  /** The row of `key`, or -1. */
  find(key: string): number {
    const h = hashKey(key);
    this.lastKey = key;
    this.lastHash = h;
    if (h === -1) return this.odd.get(key) ?? -1;
    const t = this.table;
    const mask = t.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const r = t[i]! - 1;
      if (r < 0) return -1;
      if (this.hash[r] === h && this.matches(r, key)) return r;
    }
  }

  private matches(r: number, key: string): boolean {
    const d = this.dirs[this.dir[r]!]!;
    return key.startsWith(d) && sameUtf8(key, d.length, this.arena, this.nameOff[r]!, this.nameLen[r]!);
  }

  /** Files `key` (not held yet: the caller checked with find) under `row` (free). */
  add(key: string, row: number): void {
    const h = key === this.lastKey ? this.lastHash : hashKey(key);
    if (h === -1) {
      this.odd.set(key, row);
      this.oddRow.set(row, key);
      this.dir[row] = ODD_KEY;
      return;
    }
    const slash = key.lastIndexOf('/');
    const prefix = slash < 0 ? '' : key.slice(0, slash + 1);
    const name = slash < 0 ? key : key.slice(slash + 1);
    const bytes = Buffer.byteLength(name, 'utf8');
    this.reserveArena(bytes);
    this.arena.write(name, this.arenaUsed, bytes, 'utf8');
    this.place(row, h, this.dirNumber(prefix), this.arenaUsed, bytes);
    this.arenaUsed += bytes;
  }

  /**
   * Files `n` keys under rows 0 .. n - 1 of an empty table, from their UTF-8 bytes separated
   * by NUL (the index file's path column: no string is made for a key, one for each
   * directory); an empty key is taken from `aside` (keys the bytes cannot carry). Bytes
   * that are not valid UTF-8 (a damaged file) are read as a string reads them. Returns
   * what is wrong (a count that does not match, a duplicate, a missing key), or undefined.
   */
  addAll(b: Uint8Array, n: number, aside: Map<number, string>): string | undefined {
    this.setRows(Math.max(this.dir.length, n));
    this.expect(n);
    const utf8 = isUtf8(b);
    // the arena at its exact size at once: a transient buffer of the whole column, freed
    // after the load, would raise glibc's mmap threshold to its size (up to 32 MiB), and
    // with it how much freed memory every malloc arena keeps (measured: ~85 MiB more RSS
    // for a million files)
    if (utf8) this.reserveArena(nameBytes(b));
    let start = 0;
    let lastDir = -1;
    let lastStart = 0;
    let lastEnd = 0;
    for (let row = 0; row < n; row++) {
      let end = start;
      let slash = -1;
      for (; end < b.length; end++) {
        const c = b[end]!;
        if (c === 0) break;
        if (c === SLASH) slash = end;
      }
      if (end === b.length && row < n - 1) return 'path count mismatch';
      if (end === start) {
        const key = aside.get(row);
        if (key === undefined) return `record ${row}: bad path`;
        if (this.find(key) >= 0) return 'duplicate paths';
        this.add(key, row);
      } else if (!utf8) {
        const key = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
        if (this.find(key) >= 0) return 'duplicate paths';
        this.add(key, row);
      } else {
        const nameStart = slash + 1 > start ? slash + 1 : start;
        const plen = nameStart - start;
        let d: number;
        if (lastDir >= 0 && lastEnd - lastStart === plen && sameBytes(b, lastStart, b, start, plen)) {
          d = lastDir;
          this.dirRefs[d]!++;
        } else {
          d = this.dirNumber(plen === 0 ? '' : Buffer.from(b.buffer, b.byteOffset + start, plen).toString('utf8'));
          lastDir = d;
        }
        lastStart = start;
        lastEnd = nameStart;
        const h = hashBytes(b, start, end);
        const len = end - nameStart;
        if (this.findName(h, d, b, nameStart, len) >= 0) {
          this.dirRefs[d]!--;
          return 'duplicate paths';
        }
        this.arena.set(b.subarray(nameStart, end), this.arenaUsed);
        this.place(row, h, d, this.arenaUsed, len);
        this.arenaUsed += len;
      }
      start = end + 1;
    }
    if (n === 0 ? b.length !== 0 : start !== b.length + 1) return 'path count mismatch';
    return undefined;
  }

  /** The row holding directory `d` and the name b[off, off + len), with hash h; or -1. */
  private findName(h: number, d: number, b: Uint8Array, off: number, len: number): number {
    const t = this.table;
    const mask = t.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const r = t[i]! - 1;
      if (r < 0) return -1;
      if (this.hash[r] === h && this.dir[r] === d && this.nameLen[r] === len && sameBytes(this.arena, this.nameOff[r]!, b, off, len)) return r;
    }
  }

  private place(row: number, h: number, d: number, off: number, len: number): void {
    this.hash[row] = h;
    this.dir[row] = d;
    this.nameOff[row] = off;
    this.nameLen[row] = len;
    this.arenaLive += len;
    this.count++;
    if (this.count * 4 > this.table.length * 3) this.rehash(this.table.length * 2);
    else this.insert(row);
  }

  private insert(row: number): void {
    const t = this.table;
    const mask = t.length - 1;
    let i = this.hash[row]! & mask;
    while (t[i] !== 0) i = (i + 1) & mask;
    t[i] = row + 1;
  }

  /** Forgets `key`; its row, or -1 when it was not held. */
  remove(key: string): number {
    const h = hashKey(key);
    if (h === -1) {
      const r = this.odd.get(key);
      if (r === undefined) return -1;
      this.odd.delete(key);
      this.oddRow.delete(r);
      this.dir[r] = NO_KEY;
      return r;
    }
    const t = this.table;
    const mask = t.length - 1;
    let i = h & mask;
    let r: number;
    for (; ; i = (i + 1) & mask) {
      r = t[i]! - 1;
      if (r < 0) return -1;
      if (this.hash[r] === h && this.matches(r, key)) break;
    }
    // backward shift: every later entry of the chain that may move into the hole does
    for (let j = (i + 1) & mask; t[j] !== 0; j = (j + 1) & mask) {
      const home = this.hash[t[j]! - 1]! & mask;
      // j's entry may move to i when its home is not cyclically within (i, j]
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        t[i] = t[j]!;
        i = j;
      }
    }
    t[i] = 0;
    this.count--;
    this.release(r);
    return r;
  }

  private release(r: number): void {
    const d = this.dir[r]!;
    if (--this.dirRefs[d]! === 0) {
      this.dirNo.delete(this.dirs[d]!);
      this.dirs[d] = '';
      this.freeDirs.push(d);
    }
    this.arenaLive -= this.nameLen[r]!;
    this.dir[r] = NO_KEY;
  }

  /** The key held by `row` (a row that holds one). */
  keyOf(row: number): string {
    const d = this.dir[row]!;
    if (d === ODD_KEY) return this.oddRow.get(row)!;
    const off = this.nameOff[row]!;
    return this.dirs[d]! + this.arena.toString('utf8', off, off + this.nameLen[row]!);
  }

  /**
   * The key's UTF-8 bytes appended to `out` at `at` (`out` large enough: see keyBytes); the
   * new end, or -1 for a key UTF-8 cannot carry.
   */
  writeKey(row: number, out: Buffer, at: number, dirBytes: (Buffer | undefined)[]): number {
    const d = this.dir[row]!;
    if (d === ODD_KEY) return -1;
    let db = dirBytes[d];
    if (db === undefined) db = dirBytes[d] = Buffer.from(this.dirs[d]!, 'utf8');
    db.copy(out, at);
    at += db.length;
    const off = this.nameOff[row]!;
    return at + this.arena.copy(out, at, off, off + this.nameLen[row]!);
  }

  /** UTF-8 bytes of row's key (0 for a key that is not UTF-8). */
  keyBytes(row: number): number {
    const d = this.dir[row]!;
    if (d === ODD_KEY) return 0;
    return Buffer.byteLength(this.dirs[d]!, 'utf8') + this.nameLen[row]!;
  }

  /** The key held at `from` is held at `to` (a free row) instead (the caller compacts its rows). */
  move(from: number, to: number): void {
    this.hash[to] = this.hash[from]!;
    this.dir[to] = this.dir[from]!;
    this.nameOff[to] = this.nameOff[from]!;
    this.nameLen[to] = this.nameLen[from]!;
    this.dir[from] = NO_KEY;
    const k = this.oddRow.get(from);
    if (k !== undefined) {
      this.oddRow.delete(from);
      this.oddRow.set(to, k);
      this.odd.set(k, to);
    }
  }

  /** Rebuilds the hash table over rows 0 .. rows - 1 (after moves). */
  reindex(rows: number): void {
    this.table.fill(0);
    for (let r = 0; r < rows; r++) if (this.dir[r]! < ODD_KEY) this.insert(r);
  }

  clear(): void {
    this.lastKey = undefined;
    this.table = new Int32Array(16);
    this.count = 0;
    this.dir.fill(NO_KEY);
    this.arena = Buffer.alloc(0);
    this.arenaUsed = 0;
    this.arenaLive = 0;
    this.dirs = [];
    this.dirRefs = [];
    this.dirNo.clear();
    this.freeDirs = [];
    this.odd.clear();
    this.oddRow.clear();
  }

  /** The table sized for `n` keys at once (a loader that knows its count grows it once). */
  expect(n: number): void {
    let size = this.table.length;
    while (n * 4 > size * 3) size *= 2;
    if (size !== this.table.length) this.rehash(size);
  }

  /** Arena room for `bytes` more: compacted when at least half of it is garbage, else grown by half. */
  private reserveArena(bytes: number): void {
    if (this.arenaUsed + bytes <= this.arena.length) return;
    if (this.arenaUsed === 0) {
      this.arena = Buffer.allocUnsafeSlow(bytes);
      return;
    }
    if (this.arenaUsed > this.arenaLive * 2) this.repack(Math.max(4096, Math.ceil((this.arenaLive + bytes) * 1.5)));
    else {
      const a = Buffer.allocUnsafeSlow(Math.max(4096, Math.ceil((this.arenaUsed + bytes) * 1.5)));
      this.arena.copy(a, 0, 0, this.arenaUsed);
      this.arena = a;
    }
  }

  /** A new arena of `size` bytes with the live names only, in row order. */
  private repack(size: number): void {
    const a = Buffer.allocUnsafeSlow(size);
    let p = 0;
    for (let r = 0; r < this.dir.length; r++) {
      if (this.dir[r]! >= ODD_KEY) continue;
      const off = this.nameOff[r]!;
      const len = this.nameLen[r]!;
      this.arena.copy(a, p, off, off + len);
      this.nameOff[r] = p;
      p += len;
    }
    this.arenaUsed = p;
    this.arena = a;
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size);
    for (let r = 0; r < this.dir.length; r++) if (this.dir[r]! < ODD_KEY) this.insert(r);
  }

  private dirNumber(prefix: string): number {
    let d = this.dirNo.get(prefix);
    if (d !== undefined) {
      this.dirRefs[d]!++;
      return d;
    }
    d = this.freeDirs.pop() ?? this.dirs.length;
    this.dirs[d] = prefix;
    this.dirRefs[d] = 1;
    this.dirNo.set(prefix, d);
    return d;
  }
}
