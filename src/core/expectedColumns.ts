// A receiver's expected files in columns, for the trip from the main thread to the thread
// that extracts them (LocalTree.unpack, workers/tarTasks.ts extract). 20,000 expected files
// cloned as objects cost ~40-45 ms of serialising and deserialising (a fresh process, as a
// first copy's far end is: docs/performance.md "Expected files in columns"); as a string
// of the paths and a few typed arrays ~10 ms, the object of a file made only when its entry
// comes. The core of core/scanColumns.ts (which keeps key order and every field, for any
// entry, and so costs as much as the clone here): only the fields an extract reads. Pure.
import type { Expected } from './tree.js';

/** Structured-clone friendly; the typed arrays' buffers can be moved (expectedBuffers). */
export interface ExpectedColumns {
  /** The paths, NUL-separated (a path holds no NUL: assertSafeRelPath, which every expected path passes first). */
  paths: string;
  size: Float64Array;
  mtimeMs: Float64Array;
  mode: Uint32Array;
  /** mtimeNs, uid and gid: NaN where the file has none. */
  mtimeNs: Float64Array;
  uid: Float64Array;
  gid: Float64Array;
  /** [index, sha256] of the files that have one. */
  hashes: Array<[number, string]>;
}

export function packExpected(files: readonly Expected[]): ExpectedColumns {
  const n = files.length;
  const c: ExpectedColumns = {
    paths: '',
    size: new Float64Array(n),
    mtimeMs: new Float64Array(n),
    mode: new Uint32Array(n),
    mtimeNs: new Float64Array(n),
    uid: new Float64Array(n),
    gid: new Float64Array(n),
    hashes: [],
  };
  const paths = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = files[i]!;
    if (e.path.includes('\0')) throw new Error(`expected path with a NUL: ${JSON.stringify(e.path)}`);
    paths[i] = e.path;
    c.size[i] = e.size;
    c.mtimeMs[i] = e.mtimeMs;
    c.mode[i] = e.mode;
    c.mtimeNs[i] = e.mtimeNs ?? NaN;
    c.uid[i] = e.uid ?? NaN;
    c.gid[i] = e.gid ?? NaN;
    if (e.hash !== undefined) c.hashes.push([i, e.hash]);
  }
  c.paths = paths.join('\0');
  return c;
}

/** The typed arrays' buffers: a postMessage transfer list (moved, not copied). */
export function expectedBuffers(c: ExpectedColumns): ArrayBuffer[] {
  return [c.size, c.mtimeMs, c.mode, c.mtimeNs, c.uid, c.gid].map((a) => a.buffer as ArrayBuffer);
}

/** The packed files' paths, in order (index i is file i). */
export function expectedPaths(c: ExpectedColumns): string[] {
  return c.paths === '' && c.size.length === 0 ? [] : c.paths.split('\0');
}

/** File i of the columns as an object (`path` from expectedPaths), with the fields it was packed with. */
export function expectedAt(c: ExpectedColumns, i: number, path: string, hashes: ReadonlyMap<number, string>): Expected {
  const e: Expected = { path, kind: 'file', size: c.size[i]!, mtimeMs: c.mtimeMs[i]!, mode: c.mode[i]! };
  const ns = c.mtimeNs[i]!;
  if (!Number.isNaN(ns)) e.mtimeNs = ns;
  const uid = c.uid[i]!;
  const gid = c.gid[i]!;
  if (!Number.isNaN(uid)) e.uid = uid;
  if (!Number.isNaN(gid)) e.gid = gid;
  const hash = hashes.get(i);
  if (hash !== undefined) e.hash = hash;
  return e;
}
