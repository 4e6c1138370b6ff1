// A tree's index held in columns instead of objects (issue 12, "Scale": a daemon with a
// million files must not spend kilobytes per file). It is a Map<string, IndexRecord> to
// every caller: get() builds the record from the columns, set() packs it into them. A
// record in Map form costs ~410 bytes of heap (a Map entry, the IndexRecord, an Entry of
// up to ten fields with boxed doubles, a 64-character hash string, a version object);
// packed it costs ~84 bytes of typed-array columns (the hash as 32 raw bytes, the doubles
// unboxed, the common version of one node as a node number and a counter) and its key in
// the PathTable (src/core/pathTable.ts: ~24 bytes and the name's bytes, no string and no
// Map entry per path).
// Rows are appended and never reused, so that the rows' order is the keys' insertion order,
// as a Map's is; a deleted row is a hole until the rows are compacted (when they are full
// and at least a quarter are holes, and no iteration is under way).
// Whatever does not fit the columns (a symlink's target, a hash that is not 64 lowercase
// hex digits, a field out of its column's range, a key other than the entry's path) is
// kept as the object itself, so every record comes back exactly as it was stored.
// get() returns a fresh object each time: a caller that changes a record must set() it
// again (the daemon already does: records are never changed in place).
import { ENTRY_KINDS, KIND_NUMBER, sameMtime, type Entry, type EntryKind } from './entry.js';
import type { IndexRecord } from './treeIndex.js';
import { isVersion, type Version } from './version.js';
import { PathTable } from './pathTable.js';
import { isI32, isU32 } from './int32.js';

const F_INO = 1;
const F_UID = 2;
const F_GID = 4;
const F_NS = 8;
const F_HASH = 16;
/** The version is one node's counter (vnode, vcount); else it is in `versions`. */
const F_V1 = 32;
/** The record did not fit the columns: it is kept whole in `whole`. */
const F_WHOLE = 64;

const HEX64 = /^[0-9a-f]{64}$/;
/** Bytes a row in all columns, the PathTable's included (grow). */
const ROW_BYTES = 4 * 8 + 4 * 4 + PathTable.ROW_BYTES + 32 + 2 + 1 + 1;

export class CompactIndex implements Map<string, IndexRecord> {
  private readonly paths = new PathTable();
  private cap = 0;
  /** Rows in use, holes included; `holes` of them hold no record. */
  private used = 0;
  private holes = 0;
  /** Iterations under way (rows are not compacted meanwhile: an iterator walks rows). */
  private iterating = 0;
  private kind = new Uint8Array(0);
  private flags = new Uint8Array(0);
  private mode = new Uint32Array(0);
  private size_ = new Float64Array(0);
  private mtime = new Float64Array(0);
  private ino = new Float64Array(0);
  private uid = new Uint32Array(0);
  private gid = new Uint32Array(0);
  private ns = new Int32Array(0);
  private hash = Buffer.alloc(0);
  private vnode = new Uint16Array(0);
  private vcount = new Float64Array(0);
  private readonly nodes: string[] = [];
  private readonly nodeNo = new Map<string, number>();
  private versions = new Map<number, Version>();
  private deletedAt = new Map<number, number>();
  private whole = new Map<number, IndexRecord>();
  private liveFiles = 0;

  readonly [Symbol.toStringTag] = 'CompactIndex';

  constructor(records?: Iterable<readonly [string, IndexRecord]>) {
    if (records) for (const [k, v] of records) this.set(k, v);
  }

  get size(): number {
    return this.used - this.holes;
  }

  /** Rows that hold a record, in order; the keys are made only when asked for. */
  private *rows(): Generator<number> {
    this.iterating++;
    try {
      for (let s = 0; s < this.used; s++) if (this.paths.holds(s)) yield s;
    } finally {
      this.iterating--;
    }
  }

  /** Live files (not tombstones, directories or symlinks), kept as records come and go. */
  fileCount(): number {
    return this.liveFiles;
  }

  /** Paths of tombstones with the time they were recorded, without building their records. */
  *tombstones(): IterableIterator<[string, number]> {
    const rows = [...this.deletedAt.keys()].sort((a, b) => a - b);
    for (const s of rows) {
      const at = this.deletedAt.get(s);
      if (at !== undefined) yield [this.paths.keyOf(s), at];
    }
  }

  /**
   * Marks for a pass over the index (diffScan): one byte a slot, set with mark(), read
   * back with unmarked(). Valid while the index is not changed.
   */
  newMarks(): Uint8Array {
    return new Uint8Array(this.used);
  }

  /** Paths whose records were not marked. */
  *unmarked(marks: Uint8Array): IterableIterator<string> {
    for (const s of this.rows()) if (marks[s] === 0) yield this.paths.keyOf(s);
  }

  /** The row of `path`, marked as seen (newMarks); -1 when the index has no such path. */
  markRow(marks: Uint8Array, path: string): number {
    const s = this.paths.find(path);
    if (s >= 0) marks[s] = 1;
    return s;
  }

  /** The record of `path` at its row `s` (markRow's): get() without looking the path up again. */
  recordAt(path: string, s: number): IndexRecord {
    return this.build(path, s);
  }

  /**
   * True when `e` (a fresh scan entry, without hash) is exactly what the record at row `s`
   * (markRow's, for `e.path`) holds: a live file with a hash, or a directory, with the same
   * kind, size, mtime (to the microsecond where both know it), mode, inode (present), owner
   * and group, and no other field. What diffScan would count as unchanged, decided on the
   * columns without building the record.
   */
  unchangedAt(s: number, e: Entry): boolean {
    const f = this.flags[s]!;
    if (f & F_WHOLE || e.hash !== undefined || e.target !== undefined || e.ino === undefined || this.deletedAt.has(s)) return false;
    const k = KIND_NUMBER[e.kind];
    if (k !== this.kind[s] || (k === 0 ? !(f & F_HASH) : k !== 1 || f & F_HASH)) return false;
    return (
      (f & F_INO) !== 0 &&
      this.ino[s] === e.ino &&
      this.size_[s] === e.size &&
      this.mtime[s] === e.mtimeMs &&
      // the microsecond too, where both know it (sameMtime): a same-size rewrite in the same
      // millisecond that got the freed inode number back is not unchanged
      (e.mtimeNs === undefined || !(f & F_NS) || Math.floor(this.ns[s]! / 1000) === Math.floor(e.mtimeNs / 1000)) &&
      this.mode[s] === e.mode &&
      (e.uid === undefined ? !(f & F_UID) : (f & F_UID) !== 0 && this.uid[s] === e.uid) &&
      (e.gid === undefined ? !(f & F_GID) : (f & F_GID) !== 0 && this.gid[s] === e.gid)
    );
  }

  has(path: string): boolean {
    return this.paths.find(path) >= 0;
  }

  /**
   * True when `path` holds a live file with a hash and exactly this size, mtime (to the
   * microsecond where both know it) and inode: the daemon's check that a watcher event is
   * the echo of its own placing (TreeReplica.takeOwnWrite), once per placed file in a burst.
   * Read on the columns: no record is built (its hash as hex, its version), as get() would.
   */
  holdsFileStat(path: string, st: { size: number; mtimeMs: number; mtimeNs?: number; ino?: number }): boolean {
    const s = this.paths.find(path);
    if (s < 0) return false;
    const f = this.flags[s]!;
    if (f & F_WHOLE) {
      const r = this.whole.get(s)!;
      return r.deleted === undefined && r.entry.kind === 'file' && r.entry.hash !== undefined && r.entry.size === st.size && sameMtime(r.entry, st) && r.entry.ino === st.ino;
    }
    return (
      this.kind[s] === 0 &&
      (f & F_HASH) !== 0 &&
      !this.deletedAt.has(s) &&
      this.size_[s] === st.size &&
      this.mtime[s] === st.mtimeMs &&
      (st.mtimeNs === undefined || !(f & F_NS) || Math.floor(this.ns[s]! / 1000) === Math.floor(st.mtimeNs / 1000)) &&
      ((f & F_INO) !== 0 ? this.ino[s] === st.ino : st.ino === undefined)
    );
  }

  get(path: string): IndexRecord | undefined {
    const s = this.paths.find(path);
    return s < 0 ? undefined : this.build(path, s);
  }

  set(path: string, rec: IndexRecord): this {
    this.pack(path, this.slotFor(path), rec);
    return this;
  }

  /** The row of `path`, its record released; a new row when the path is new. */
  private slotFor(path: string): number {
    let s = this.paths.find(path);
    if (s < 0) {
      s = this.alloc();
      this.paths.add(path, s);
    } else this.release(s);
    return s;
  }

  delete(path: string): boolean {
    const s = this.paths.remove(path);
    if (s < 0) return false;
    this.release(s);
    this.holes++;
    return true;
  }

  clear(): void {
    this.paths.clear();
    this.used = 0;
    this.holes = 0;
    this.versions.clear();
    this.deletedAt.clear();
    this.whole.clear();
    this.liveFiles = 0;
  }

  forEach(fn: (value: IndexRecord, key: string, map: Map<string, IndexRecord>) => void, thisArg?: unknown): void {
    for (const s of this.rows()) {
      const p = this.paths.keyOf(s);
      fn.call(thisArg, this.build(p, s), p, this);
    }
  }

  *keys(): MapIterator<string> {
    for (const s of this.rows()) yield this.paths.keyOf(s);
  }

  *entries(): MapIterator<[string, IndexRecord]> {
    for (const s of this.rows()) {
      const p = this.paths.keyOf(s);
      yield [p, this.build(p, s)];
    }
  }

  *values(): MapIterator<IndexRecord> {
    for (const s of this.rows()) yield this.build(this.paths.keyOf(s), s);
  }

  [Symbol.iterator](): MapIterator<[string, IndexRecord]> {
    return this.entries();
  }

  /**
   * The records as columns, in the index's order (for the index file): the lists first (the
   * node table, the versions of several nodes, tombstones, records kept whole, keys the path
   * bytes cannot carry), then `make` gives the columns to fill (the index file's writer: views
   * into the file's one buffer), then the columns and the keys' bytes are written.
   */
  toColumns(make: (n: number, pathBytes: number, lists: ColumnLists) => IndexColumns): IndexColumns {
    const lists: ColumnLists = { nodes: [...this.nodes], versions: [], deletedAt: [], whole: [], keys: [] };
    let bytes = 0;
    let i = 0;
    for (const s of this.rows()) {
      // NUL-separated UTF-8; a key they cannot carry (and the empty key) is empty there and in `keys`
      const kb = this.paths.keyBytes(s);
      if (kb === 0) lists.keys.push([i, this.paths.keyOf(s)]);
      bytes += kb + 1;
      const f = this.flags[s]!;
      if (f & F_WHOLE) lists.whole.push([i, this.whole.get(s)!]);
      else {
        if (!(f & F_V1)) lists.versions.push([i, this.versions.get(s)!]);
        const del = this.deletedAt.get(s);
        if (del !== undefined) lists.deletedAt.push([i, del]);
      }
      i++;
    }
    const c = make(i, Math.max(0, bytes - 1), lists);
    const out = Buffer.from(c.paths.bytes.buffer, c.paths.bytes.byteOffset, c.paths.bytes.byteLength);
    const dirBytes: (Buffer | undefined)[] = [];
    let at = 0;
    i = 0;
    for (const s of this.rows()) {
      if (i > 0) out[at++] = 0;
      at = Math.max(at, this.paths.writeKey(s, out, at, dirBytes));
      const f = this.flags[s]!;
      c.flags[i] = f;
      if (!(f & F_WHOLE)) {
        c.kind[i] = this.kind[s]!;
        c.mode[i] = this.mode[s]!;
        c.size[i] = this.size_[s]!;
        c.mtime[i] = this.mtime[s]!;
        c.ino[i] = this.ino[s]!;
        c.uid[i] = this.uid[s]!;
        c.gid[i] = this.gid[s]!;
        c.ns[i] = this.ns[s]!;
        if (f & F_HASH) this.hash.copy(c.hash, i * 32, s * 32, s * 32 + 32);
        if (f & F_V1) {
          c.vnode[i] = this.vnode[s]!;
          c.vcount[i] = this.vcount[s]!;
        }
      }
      i++;
    }
    return c;
  }

  /**
   * An index holding exactly these columns (they are taken, not copied). Checks what a
   * damaged file could get wrong (kinds, flags, node numbers, rows of the lists, duplicate
   * paths) and throws IndexColumnsError rather than hold a record it cannot give back.
   */
  static fromColumns(c: IndexColumns): CompactIndex {
    const n = c.flags.length;
    const x = new CompactIndex();
    const bad = (row: number, why: string) => new IndexColumnsError(`record ${row}: ${why}`);
    for (const col of [c.kind, c.flags, c.mode, c.size, c.mtime, c.ino, c.uid, c.gid, c.ns, c.vnode, c.vcount]) if (col.length !== n) throw new IndexColumnsError('column length mismatch');
    if (c.hash.length !== n * 32) throw new IndexColumnsError('hash column length mismatch');
    for (const node of c.nodes) {
      if (typeof node !== 'string' || x.nodeNo.has(node)) throw new IndexColumnsError('bad node table');
      x.nodeNo.set(node, x.nodes.length);
      x.nodes.push(node);
    }
    for (const [row, v] of c.versions) {
      if (!(row >= 0 && row < n) || c.flags[row]! & (F_V1 | F_WHOLE) || !isVersion(v)) throw bad(row, 'bad version');
      x.versions.set(row, v);
    }
    for (const [row, at] of c.deletedAt) {
      if (!(row >= 0 && row < n) || c.flags[row]! & F_WHOLE || typeof at !== 'number') throw bad(row, 'bad tombstone');
      x.deletedAt.set(row, at);
    }
    for (const [row, rec] of c.whole) {
      if (!(row >= 0 && row < n) || !(c.flags[row]! & F_WHOLE) || !isPlainRecord(rec)) throw bad(row, 'bad record');
      x.whole.set(row, rec);
    }
    const aside = new Map<number, string>();
    for (const k of c.paths.keys) {
      if (!Array.isArray(k) || !(k[0] >= 0 && k[0] < n) || typeof k[1] !== 'string' || aside.has(k[0])) throw new IndexColumnsError('bad key list');
      aside.set(k[0], k[1]);
    }
    const nodes = x.nodes.length;
    for (let i = 0; i < n; i++) {
      const f = c.flags[i]!;
      if (f & F_WHOLE) {
        if (f !== F_WHOLE || !x.whole.has(i)) throw bad(i, 'bad record');
      } else {
        if (f > 63 || c.kind[i]! > 2) throw bad(i, 'bad kind or flags');
        if (f & F_V1 ? c.vnode[i]! >= nodes : !x.versions.has(i)) throw bad(i, 'bad version');
      }
    }
    const wrong = x.paths.addAll(c.paths.bytes, n, aside);
    if (wrong !== undefined) throw new IndexColumnsError(wrong);
    x.kind = c.kind;
    x.flags = c.flags;
    x.mode = c.mode;
    x.size_ = c.size;
    x.mtime = c.mtime;
    x.ino = c.ino;
    x.uid = c.uid;
    x.gid = c.gid;
    x.ns = c.ns;
    x.vnode = c.vnode;
    x.vcount = c.vcount;
    x.hash = c.hash;
    x.cap = n;
    x.used = n;
    x.paths.setRows(n);
    for (let i = 0; i < n; i++) if (x.isLiveFile(i)) x.liveFiles++;
    return x;
  }

  private alloc(): number {
    if (this.used === this.cap) {
      if (this.holes * 4 >= this.cap && this.iterating === 0) this.compact();
      if (this.used === this.cap) this.grow(Math.max(1024, Math.ceil(this.cap * 1.5)));
    }
    return this.used++;
  }

  /** Moves the records down over the holes, in order (their rows change; nothing else). */
  private compact(): void {
    const versions = new Map<number, Version>();
    const deletedAt = new Map<number, number>();
    const whole = new Map<number, IndexRecord>();
    let w = 0;
    for (let s = 0; s < this.used; s++) {
      if (!this.paths.holds(s)) continue;
      if (w !== s) {
        this.kind[w] = this.kind[s]!;
        this.flags[w] = this.flags[s]!;
        this.mode[w] = this.mode[s]!;
        this.size_[w] = this.size_[s]!;
        this.mtime[w] = this.mtime[s]!;
        this.ino[w] = this.ino[s]!;
        this.uid[w] = this.uid[s]!;
        this.gid[w] = this.gid[s]!;
        this.ns[w] = this.ns[s]!;
        this.vnode[w] = this.vnode[s]!;
        this.vcount[w] = this.vcount[s]!;
        this.hash.copy(this.hash, w * 32, s * 32, s * 32 + 32);
        this.paths.move(s, w);
      }
      const v = this.versions.get(s);
      if (v !== undefined) versions.set(w, v);
      const at = this.deletedAt.get(s);
      if (at !== undefined) deletedAt.set(w, at);
      const r = this.whole.get(s);
      if (r !== undefined) whole.set(w, r);
      w++;
    }
    this.versions = versions;
    this.deletedAt = deletedAt;
    this.whole = whole;
    this.flags.fill(0, w, this.used);
    this.used = w;
    this.holes = 0;
    this.paths.reindex(w);
  }

  /**
   * The columns for `cap` rows, all in one allocation (the PathTable's row columns too):
   * each growth allocates one block larger than the last and frees that one. Growing a dozen
   * columns one by one interleaved allocations of many sizes, and each column freed raised
   * glibc's mmap threshold, so the smaller ones came from the heap and left holes in it
   * (measured after a first start on a million files: 160 MiB of heap for a 117 MiB index).
   */
  private grow(cap: number): void {
    const block = new ArrayBuffer(cap * ROW_BYTES);
    let at = 0;
    const g = <T extends { set(a: ArrayLike<number>): void }>(old: ArrayLike<number>, make: new (b: ArrayBuffer, o: number, l: number) => T, width: number): T => {
      const n = new make(block, at, cap);
      n.set(old);
      at += cap * width;
      return n;
    };
    // widest first, so that every column is aligned
    this.size_ = g(this.size_, Float64Array, 8);
    this.mtime = g(this.mtime, Float64Array, 8);
    this.ino = g(this.ino, Float64Array, 8);
    this.vcount = g(this.vcount, Float64Array, 8);
    this.mode = g(this.mode, Uint32Array, 4);
    this.uid = g(this.uid, Uint32Array, 4);
    this.gid = g(this.gid, Uint32Array, 4);
    this.ns = g(this.ns, Int32Array, 4);
    this.paths.setRows(cap, block, at);
    at += cap * PathTable.ROW_BYTES;
    const h = Buffer.from(block, at, cap * 32);
    this.hash.copy(h);
    this.hash = h;
    at += cap * 32;
    this.vnode = g(this.vnode, Uint16Array, 2);
    this.kind = g(this.kind, Uint8Array, 1);
    this.flags = g(this.flags, Uint8Array, 1);
    this.cap = cap;
  }

  /** Forgets what slot `s` held outside the columns. */
  private release(s: number): void {
    if (this.isLiveFile(s)) this.liveFiles--;
    const f = this.flags[s]!;
    if (f & F_WHOLE) this.whole.delete(s);
    else if (!(f & F_V1)) this.versions.delete(s);
    this.deletedAt.delete(s);
    this.flags[s] = 0;
  }

  private isLiveFile(s: number): boolean {
    const f = this.flags[s]!;
    if (f & F_WHOLE) {
      const r = this.whole.get(s);
      return r !== undefined && r.deleted === undefined && r.entry.kind === 'file';
    }
    return this.kind[s] === 0 && !this.deletedAt.has(s);
  }

  private nodeNumber(node: string): number | undefined {
    let n = this.nodeNo.get(node);
    if (n === undefined) {
      if (this.nodes.length >= 0xffff) return undefined;
      n = this.nodes.length;
      this.nodes.push(node);
      this.nodeNo.set(node, n);
    }
    return n;
  }

  private pack(path: string, s: number, rec: IndexRecord): void {
    const e = rec.entry;
    const fits =
      e.path === path &&
      e.target === undefined &&
      KIND_NUMBER[e.kind] !== undefined &&
      isU32(e.mode) &&
      (e.uid === undefined || isU32(e.uid)) &&
      (e.gid === undefined || isU32(e.gid)) &&
      (e.mtimeNs === undefined || isI32(e.mtimeNs)) &&
      (e.hash === undefined || HEX64.test(e.hash)) &&
      typeof e.size === 'number' &&
      typeof e.mtimeMs === 'number' &&
      (e.ino === undefined || typeof e.ino === 'number') &&
      hasOnlyKnownKeys(rec);
    if (!fits) {
      this.flags[s] = F_WHOLE;
      this.whole.set(s, rec);
      if (this.isLiveFile(s)) this.liveFiles++;
      return;
    }
    this.write(s, KIND_NUMBER[e.kind]!, e.size, e.mtimeMs, e.mode, e.ino, e.uid, e.gid, e.mtimeNs, e.hash, rec.version, rec.deleted?.atMs);
  }

  /**
   * A record straight from its fields (the index file's decoder: no entry object is made),
   * when they fit the columns: a file or directory, a hash of 64 lowercase hex digits,
   * uid/gid/mode as unsigned 32-bit integers. Returns false (nothing stored) otherwise: the
   * caller then builds the record and set()s it.
   */
  setFields(path: string, kind: EntryKind, size: number, mtimeMs: number, mode: number, ino: number | undefined, uid: number | undefined, gid: number | undefined, hash: string | undefined, version: Version, deletedAtMs: number | undefined): boolean {
    if (kind === 'symlink' || !isU32(mode) || (uid !== undefined && !isU32(uid)) || (gid !== undefined && !isU32(gid)) || (hash !== undefined && !HEX64.test(hash))) return false;
    const s = this.slotFor(path);
    this.write(s, KIND_NUMBER[kind]!, size, mtimeMs, mode, ino, uid, gid, undefined, hash, version, deletedAtMs);
    return true;
  }

  private write(s: number, kind: number, size: number, mtimeMs: number, mode: number, ino: number | undefined, uid: number | undefined, gid: number | undefined, mtimeNs: number | undefined, hash: string | undefined, v: Version, deletedAtMs: number | undefined): void {
    let f = 0;
    this.kind[s] = kind;
    this.mode[s] = mode;
    this.size_[s] = size;
    this.mtime[s] = mtimeMs;
    if (ino !== undefined) (f |= F_INO), (this.ino[s] = ino);
    if (uid !== undefined) (f |= F_UID), (this.uid[s] = uid);
    if (gid !== undefined) (f |= F_GID), (this.gid[s] = gid);
    if (mtimeNs !== undefined) (f |= F_NS), (this.ns[s] = mtimeNs);
    if (hash !== undefined) (f |= F_HASH), this.hash.write(hash, s * 32, 32, 'hex');
    let one: string | undefined;
    let count = 0;
    for (const k in v) {
      count++;
      one = k;
    }
    const no = count === 1 ? this.nodeNumber(one!) : undefined;
    if (no !== undefined) {
      f |= F_V1;
      this.vnode[s] = no;
      this.vcount[s] = v[one!]!;
    } else this.versions.set(s, v);
    if (deletedAtMs !== undefined) this.deletedAt.set(s, deletedAtMs);
    this.flags[s] = f;
    if (this.isLiveFile(s)) this.liveFiles++;
  }

  private build(path: string, s: number): IndexRecord {
    const f = this.flags[s]!;
    if (f & F_WHOLE) return this.whole.get(s)!;
    const entry: Entry = { path, kind: ENTRY_KINDS[this.kind[s]!]!, size: this.size_[s]!, mtimeMs: this.mtime[s]!, mode: this.mode[s]! };
    if (f & F_NS) entry.mtimeNs = this.ns[s]!;
    if (f & F_INO) entry.ino = this.ino[s]!;
    if (f & F_UID) entry.uid = this.uid[s]!;
    if (f & F_GID) entry.gid = this.gid[s]!;
    if (f & F_HASH) entry.hash = this.hash.toString('hex', s * 32, s * 32 + 32);
    const version: Version = f & F_V1 ? { [this.nodes[this.vnode[s]!]!]: this.vcount[s]! } : this.versions.get(s)!;
    const at = this.deletedAt.get(s);
    return at === undefined ? { entry, version } : { entry, version, deleted: { atMs: at } };
  }
}

/**
 * A CompactIndex as plain columns, one row per record in the index's order (the binary index
 * file, src/core/indexFile.ts): what the index holds in typed arrays is copied as typed
 * arrays, what it holds as objects (versions of several nodes, tombstones' times, records
 * kept whole) as lists keyed by row; the keys in a PathColumn.
 */
/** What IndexColumns hold outside the typed columns, by row. */
export interface ColumnLists {
  nodes: string[];
  versions: [number, Version][];
  deletedAt: [number, number][];
  whole: [number, IndexRecord][];
  keys: [number, string][];
}

export interface IndexColumns {
  paths: PathColumn;
  kind: Uint8Array<ArrayBuffer>;
  flags: Uint8Array<ArrayBuffer>;
  mode: Uint32Array<ArrayBuffer>;
  size: Float64Array<ArrayBuffer>;
  mtime: Float64Array<ArrayBuffer>;
  ino: Float64Array<ArrayBuffer>;
  uid: Uint32Array<ArrayBuffer>;
  gid: Uint32Array<ArrayBuffer>;
  ns: Int32Array<ArrayBuffer>;
  vnode: Uint16Array<ArrayBuffer>;
  vcount: Float64Array<ArrayBuffer>;
  /** 32 bytes a row. */
  hash: Buffer<ArrayBuffer>;
  nodes: string[];
  /** [row, version] of rows whose version is not one node's counter. */
  versions: [number, Version][];
  /** [row, deletedAtMs] of tombstones. */
  deletedAt: [number, number][];
  /** [row, record] of records kept whole (their columns are zero). */
  whole: [number, IndexRecord][];
}

/**
 * The rows' keys: their UTF-8 bytes separated by NUL; a row whose key UTF-8 cannot carry
 * exactly (a lone surrogate, a NUL), and the empty key, is empty there, its key in `keys` as [row, key].
 */
export interface PathColumn {
  bytes: Uint8Array;
  keys: [number, string][];
}

/** Empty columns for `n` rows. */
export function newColumns(n: number): IndexColumns {
  // one allocation (see CompactIndex.grow), widest columns first so that each is aligned
  const block = new ArrayBuffer(n * (ROW_BYTES - PathTable.ROW_BYTES));
  let at = 0;
  const col = <T>(make: new (b: ArrayBuffer, o: number, l: number) => T, width: number): T => {
    const c = new make(block, at, n);
    at += n * width;
    return c;
  };
  const size = col(Float64Array, 8);
  const mtime = col(Float64Array, 8);
  const ino = col(Float64Array, 8);
  const vcount = col(Float64Array, 8);
  const mode = col(Uint32Array, 4);
  const uid = col(Uint32Array, 4);
  const gid = col(Uint32Array, 4);
  const ns = col(Int32Array, 4);
  const hash = Buffer.from(block, at, n * 32);
  at += n * 32;
  const vnode = col(Uint16Array, 2);
  const kind = col(Uint8Array, 1);
  const flags = col(Uint8Array, 1);
  return { paths: { bytes: new Uint8Array(0), keys: [] }, kind, flags, mode, size, mtime, ino, uid, gid, ns, vnode, vcount, hash, nodes: [], versions: [], deletedAt: [], whole: [] };
}

export class IndexColumnsError extends Error {
  override name = 'IndexColumnsError';
}

const ENTRY_KEYS = new Set(['path', 'kind', 'size', 'mtimeMs', 'mtimeNs', 'mode', 'target', 'ino', 'uid', 'gid', 'hash']);

/** No fields beyond the ones the columns hold, and none present as undefined (kept whole otherwise). */
function hasOnlyKnownKeys(rec: IndexRecord): boolean {
  for (const k in rec) if (k !== 'entry' && k !== 'version' && !(k === 'deleted' && rec.deleted !== undefined)) return false;
  const e = rec.entry as unknown as Record<string, unknown>;
  for (const k in e) if (!ENTRY_KEYS.has(k) || e[k] === undefined) return false;
  return true;
}

/** A record as JSON gives it back: an entry with a path, a known kind and numeric stat fields, a version. */
function isPlainRecord(r: unknown): r is IndexRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { entry: e, version, deleted } = r as IndexRecord;
  return (
    typeof e === 'object' && e !== null && typeof e.path === 'string' && e.path !== '' && ENTRY_KINDS.includes(e.kind) &&
    typeof e.size === 'number' && typeof e.mtimeMs === 'number' && typeof e.mode === 'number' &&
    isVersion(version) && (deleted === undefined || (typeof deleted === 'object' && deleted !== null && typeof deleted.atMs === 'number'))
  );
}
