// A scan's entries in columns, for the trip from an io thread to the main thread (issue 12,
// "Scale"). A million entries cloned as objects cost the main thread seconds (each object
// deserialised field by field) and a heap grown by hundreds of megabytes that V8 keeps
// committed after the scan; as columns they cross as a few typed arrays and one string, and
// the reader makes each entry only as it is iterated, garbage the young generation collects
// at once. Every entry comes back exactly as it was packed (fields present or absent, key
// order); one the columns cannot hold (a hash, a field of another form) travels whole.
import { ENTRY_KINDS, KIND_NUMBER, type Entry } from './entry.js';
import { isI32, isU32 } from './int32.js';


const F_INO = 1;
const F_UID = 2;
const F_GID = 4;
const F_NS = 8;
const F_TARGET = 16;
/** Kept whole in `whole`. */
const F_WHOLE = 32;


/** Structured-clone friendly: plain typed arrays, one string of the paths (NUL-separated). */
export interface ScanColumns {
  count: number;
  paths: string;
  flags: Uint8Array;
  kind: Uint8Array;
  size: Float64Array;
  mtime: Float64Array;
  ino: Float64Array;
  mode: Uint32Array;
  uid: Uint32Array;
  gid: Uint32Array;
  ns: Int32Array;
  targets: [number, string][];
  whole: [number, Entry][];
}

/** The fields the columns hold, in the order entryFromStats makes them: the first five always there. */
const ORDER = ['path', 'kind', 'size', 'mtimeMs', 'mode', 'ino', 'uid', 'gid', 'mtimeNs', 'target'];
const REQUIRED = 5;

/** Can this entry's fields go into the columns, in the order entryFromStats makes them? */
function fits(e: Entry): boolean {
  // its keys a subsequence of ORDER holding the required ones, none undefined (compared in
  // place: a string of the keys' letters made per entry cost a million-entry scan ~0.2 s)
  let j = 0;
  for (const k in e) {
    while (j < ORDER.length && ORDER[j] !== k) {
      if (j < REQUIRED) return false;
      j++;
    }
    if (j === ORDER.length || (e as unknown as Record<string, unknown>)[k] === undefined) return false;
    j++;
  }
  return (
    j >= REQUIRED &&
    !e.path.includes('\0') &&
    KIND_NUMBER[e.kind] !== undefined &&
    typeof e.size === 'number' &&
    typeof e.mtimeMs === 'number' &&
    isU32(e.mode) &&
    (e.ino === undefined || typeof e.ino === 'number') &&
    (e.uid === undefined || isU32(e.uid)) &&
    (e.gid === undefined || isU32(e.gid)) &&
    (e.mtimeNs === undefined || isI32(e.mtimeNs)) &&
    (e.target === undefined || typeof e.target === 'string')
  );
}

export function packEntries(entries: Entry[]): ScanColumns {
  const n = entries.length;
  const c: ScanColumns = {
    count: n,
    paths: '',
    flags: new Uint8Array(n),
    kind: new Uint8Array(n),
    size: new Float64Array(n),
    mtime: new Float64Array(n),
    ino: new Float64Array(n),
    mode: new Uint32Array(n),
    uid: new Uint32Array(n),
    gid: new Uint32Array(n),
    ns: new Int32Array(n),
    targets: [],
    whole: [],
  };
  const paths = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    if (!fits(e)) {
      c.flags[i] = F_WHOLE;
      c.whole.push([i, e]);
      paths[i] = '';
      continue;
    }
    let f = 0;
    paths[i] = e.path;
    c.kind[i] = KIND_NUMBER[e.kind]!;
    c.size[i] = e.size;
    c.mtime[i] = e.mtimeMs;
    c.mode[i] = e.mode;
    if (e.ino !== undefined) (f |= F_INO), (c.ino[i] = e.ino);
    if (e.uid !== undefined) (f |= F_UID), (c.uid[i] = e.uid);
    if (e.gid !== undefined) (f |= F_GID), (c.gid[i] = e.gid);
    if (e.mtimeNs !== undefined) (f |= F_NS), (c.ns[i] = e.mtimeNs);
    if (e.target !== undefined) (f |= F_TARGET), c.targets.push([i, e.target]);
    c.flags[i] = f;
  }
  c.paths = paths.join('\0');
  return c;
}

/**
 * The entries of one or more packed scans, in order, each made as it is reached. Iterable
 * more than once (each pass makes new objects: a caller keeping an entry keeps that one).
 */
export class ScanList implements Iterable<Entry> {
  readonly length: number;

  constructor(private readonly parts: ScanColumns[]) {
    this.length = parts.reduce((n, p) => n + p.count, 0);
  }

  *[Symbol.iterator](): Iterator<Entry> {
    for (const c of this.parts) {
      if (c.count === 0) continue;
      const paths = c.paths.split('\0');
      const targets = new Map(c.targets);
      const whole = new Map(c.whole);
      for (let i = 0; i < c.count; i++) {
        const f = c.flags[i]!;
        if (f & F_WHOLE) {
          yield whole.get(i)!;
          continue;
        }
        const e: Entry = { path: paths[i]!, kind: ENTRY_KINDS[c.kind[i]!]!, size: c.size[i]!, mtimeMs: c.mtime[i]!, mode: c.mode[i]! };
        if (f & F_INO) e.ino = c.ino[i]!;
        if (f & F_UID) e.uid = c.uid[i]!;
        if (f & F_GID) e.gid = c.gid[i]!;
        if (f & F_NS) e.mtimeNs = c.ns[i]!;
        if (f & F_TARGET) e.target = targets.get(i)!;
        yield e;
      }
    }
  }
}

/**
 * Whether `test` holds for every entry of packed columns, in order (index from 0), stopping
 * at the first that fails. Each entry is shown in one object reused for the next (fields
 * the entry lacks are undefined there): `test` must not keep it. A pass over a million
 * entries that makes no object per entry (the quick local check's compare: the reader's
 * objects cost it a scavenge per ~100,000 entries).
 */
export function everyPacked(c: ScanColumns, test: (e: Readonly<Entry>, i: number) => boolean): boolean {
  if (c.count === 0) return true;
  const paths = c.paths.split('\0');
  const targets = new Map(c.targets);
  const whole = new Map(c.whole);
  const v: Entry = { path: '', kind: 'file', size: 0, mtimeMs: 0, mode: 0, ino: undefined, uid: undefined, gid: undefined, mtimeNs: undefined, target: undefined };
  for (let i = 0; i < c.count; i++) {
    const f = c.flags[i]!;
    if (f & F_WHOLE) {
      if (!test(whole.get(i)!, i)) return false;
      continue;
    }
    v.path = paths[i]!;
    v.kind = ENTRY_KINDS[c.kind[i]!]!;
    v.size = c.size[i]!;
    v.mtimeMs = c.mtime[i]!;
    v.mode = c.mode[i]!;
    v.ino = f & F_INO ? c.ino[i]! : undefined;
    v.uid = f & F_UID ? c.uid[i]! : undefined;
    v.gid = f & F_GID ? c.gid[i]! : undefined;
    v.mtimeNs = f & F_NS ? c.ns[i]! : undefined;
    v.target = f & F_TARGET ? targets.get(i)! : undefined;
    if (!test(v, i)) return false;
  }
  return true;
}

/** The typed arrays' buffers of packed columns: a postMessage transfer list (moved, not copied). */
export function columnBuffers(c: ScanColumns): ArrayBuffer[] {
  return [c.flags, c.kind, c.size, c.mtime, c.ino, c.mode, c.uid, c.gid, c.ns].map((a) => a.buffer as ArrayBuffer);
}
