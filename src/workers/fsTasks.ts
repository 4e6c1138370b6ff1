// Worker-side file-system batches: scan (./scanTask.ts), hash, resume probes and tree operations.
// Synchronous fs on purpose: inside a worker thread a sync call costs a syscall, where
// an async one costs a libuv round trip and a main-loop turn per file (PRODUCT.md,
// "Measured on this machine": 10-12 s vs 2.2-2.6 s for 20,000 small files).
import {
  closeSync,
  fstatSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  chmodSync,
  utimesSync,
  type Stats,
} from 'node:fs';
import { entryFromStats, mtimeSeconds, type Entry } from '../core/entry.js';
import { putFile } from './safeWrite.js';
import { hashHexOnce, newHasher, type HashAlg } from './contentHash.js';
import { TreeReader } from './readInTree.js';
import { lstatEntryIfAny } from './lstatEntry.js';
import type { Expected, OpResult, TreeOp } from '../core/tree.js';
import { assertReadableInTree, assertRealDirChain, assertSafeRelPath, baseOf, fsPath, makeDir, parentOf, TEMP_PREFIX } from './paths.js';
import { tempPathFor } from '../core/tempPath.js';
import { listNames, readTarget } from './scanTask.js';

export { scan, type ScanTask, type ScanTaskResult } from './scanTask.js';

const READ_BUF = 1 << 20;
/** A small file whose size moves while it is read is read this many times for bytes that match a stat. */
const KEPT_READS = 3;

/** The hash (sha256 unless told) of an open file read through `buf`; returns hex. */
function hashFdSync(fd: number, buf: Buffer, alg: HashAlg = 'sha256'): string {
  const h = newHasher(alg);
  for (let pos = 0; ; ) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return h.digest().toString('hex');
}

export interface HashTask {
  root: string;
  paths: string[];
  /**
   * Files of at most this many bytes also come back with their content (the daemon sends
   * small files inline with their change record: the bytes hashed are the bytes sent).
   */
  keepUpTo?: number;
  /** The hash of the files not kept (default sha256): a verifying pack's look-ahead asks for its large files' (tarHashFor). */
  alg?: HashAlg;
}

/**
 * [path, hex] pairs, or [path, null] for files that could not be read; [path, hex, bytes,
 * entry] for kept ones, with the file's stat as it was when its bytes were read (fstat of
 * the open file, before the read): the caller's lstat can be older. A file just created
 * and not yet written (a writer between open(2) and write(2)) is empty at the caller's
 * lstat and complete when read here; its record must describe the bytes hashed, not the
 * empty file, or every peer fetches a content the record's size does not match.
 */
export function hash(task: HashTask): Array<[string, string | null] | [string, string, Uint8Array, Entry]> {
  const buf = Buffer.allocUnsafe(READ_BUF);
  const keep = task.keepUpTo ?? -1;
  const reader = new TreeReader(task.root);
  return task.paths.map((p) => {
    let fd: number;
    try {
      fd = reader.open(p);
    } catch {
      return [p, null];
    }
    try {
      if (keep >= 0) {
        // the stat before the read: the bytes are at least as new as it (a later write is a
        // later event, hashed again); a size that moved in between (the writer's write came
        // after the fstat) is read again, a few times, then sent without a stat (as before)
        for (let attempt = 1; ; attempt++) {
          const st = fstatSync(fd, { bigint: true });
          const kept = readSmallFd(fd, buf, keep);
          if (!kept) break;
          if (kept.length === Number(st.size)) return [p, hashHexOnce('sha256', kept), kept, entryFromStats(p, st)];
          if (attempt >= KEPT_READS) return [p, hashHexOnce('sha256', kept)];
        }
      }
      return [p, hashFdSync(fd, buf, task.alg)];
    } catch {
      return [p, null];
    } finally {
      closeSync(fd);
    }
  });
}

/** The whole content of an open file of at most `max` bytes (a copy of its own), or null when it is larger. */
function readSmallFd(fd: number, buf: Buffer, max: number): Uint8Array | null {
  let pos = 0;
  // one byte more than allowed tells "larger" without a separate fstat
  const limit = Math.min(buf.length, max + 1);
  for (;;) {
    const n = readSync(fd, buf, pos, limit - pos, pos);
    if (n === 0) break;
    pos += n;
    if (pos >= limit) return null;
  }
  return new Uint8Array(buf.subarray(0, pos));
}

export interface LstatTask {
  /** Paths are `${root}/${path}`; with root '' they are used as they are (absolute). */
  root: string;
  paths: string[];
}

/** What lstat found at a path: an Entry (symlinks with their target; no hash), 'gone', 'other' (not mirrored) or an error code. */
export type LstatResult = Entry | 'gone' | 'other' | { error: string };

/**
 * lstat of many paths in one trip to a worker: a watcher batch or a remote batch of
 * hundreds of files would otherwise cost two thread wake-ups per path on the main loop.
 */
export function lstatMany(task: LstatTask): LstatResult[] {
  const verified = new Set<string>();
  return task.paths.map((path) => {
    const abs = task.root ? `${task.root}/${path}` : path;
    try {
      // below a symlink is not in the tree: what is there belongs to the link's target
      if (task.root) {
        try {
          assertReadableInTree(task.root, path, verified);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === undefined || (err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
          throw err;
        }
      }
      // the entry straight from the lstat (lstatEntryIfAny: no Stats object with its BigInts and
      // Dates; the daemon stats every received and every changed path this way, inline)
      const e = lstatEntryIfAny(fsPath(abs), path);
      if (e === undefined) return 'gone';
      if (e === null) return 'other';
      if (e.kind === 'symlink') e.target = readTarget(abs);
      return e;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? 'gone' : { error: code ?? String(err) };
    }
  });
}

export interface PartSizesTask {
  root: string;
  expect: Expected[];
}

/** Length of the temporary file a broken transfer left for each expected file. */
export function partSizes(task: PartSizesTask): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const e of task.expect) {
    try {
      assertReadableInTree(task.root, e.path, new Set());
      const st = lstatSync(fsPath(`${task.root}/${tempPathFor(e)}`));
      if (st.isFile() && st.size > 0 && st.size < e.size) out.push([e.path, st.size]);
    } catch {
      // no partial file: start from 0
    }
  }
  return out;
}

export interface ApplyTask {
  root: string;
  ops: TreeOp[];
  /** chown only when running as root. */
  chown: boolean;
}

function lstatOrNull(abs: string): Stats | null {
  try {
    return lstatSync(fsPath(abs));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function removeAny(abs: string, st: Stats): void {
  if (st.isDirectory()) rmdirSync(fsPath(abs));
  else unlinkSync(fsPath(abs));
}

/**
 * Move `src` to `dest` (both in the tree, dest's parents verified real directories). A
 * directory merges into a directory already there (an earlier run's save, or the children
 * this run saved first, since deletes come children first); otherwise the newest save wins:
 * a file replaces a file or link, and an entry of another kind in the way is removed.
 */
function saveInto(src: string, dest: string): void {
  const st = lstatSync(fsPath(src));
  const there = lstatOrNull(dest);
  if (there) {
    if (st.isDirectory() && there.isDirectory()) {
      for (const name of listNames(src)) saveInto(`${src}/${name}`, `${dest}/${name}`);
      rmdirSync(fsPath(src));
      return;
    }
    if (there.isDirectory()) rmSync(fsPath(dest), { recursive: true, force: true });
    else if (st.isDirectory()) unlinkSync(fsPath(dest));
  }
  renameSync(fsPath(src), fsPath(dest));
}

let symlinkSeq = 0;

function applyOne(root: string, op: TreeOp, verified: Set<string>, chown: boolean): void {
  assertSafeRelPath(op.path);
  assertRealDirChain(root, parentOf(op.path), verified, op.op === 'mkdir' || op.op === 'symlink' || op.op === 'put');
  const abs = `${root}/${op.path}`;
  const absFs = fsPath(abs);
  switch (op.op) {
    case 'mkdir': {
      const st = lstatOrNull(abs);
      if (st && !st.isDirectory()) removeAny(abs, st);
      // (EEXIST: made meanwhile by a copy task beside these ops; a symlink there still fails)
      if ((!st || !st.isDirectory()) && !makeDir(absFs, 0o700) && !lstatSync(absFs).isDirectory()) throw new Error('not a directory');
      chmodSync(absFs, op.mode & 0o7777);
      if (op.mtimeMs !== undefined) utimesSync(absFs, Date.now() / 1000, mtimeSeconds({ mtimeMs: op.mtimeMs, mtimeNs: op.mtimeNs }));
      verified.add(op.path);
      return;
    }
    case 'symlink': {
      // create beside it and rename over: a reader sees the old link or the new one
      const tmp = `${root}/${parentOf(op.path) ? parentOf(op.path) + '/' : ''}${TEMP_PREFIX}${baseOf(op.path).slice(0, 200).replace(/[\uD800-\uDBFF]$/, '')}.l${process.pid}-${symlinkSeq++}`;
      const tmpFs = fsPath(tmp);
      symlinkSync(fsPath(op.target), tmpFs);
      try {
        if (op.mtimeMs !== undefined) lutimesSync(tmpFs, Date.now() / 1000, mtimeSeconds({ mtimeMs: op.mtimeMs, mtimeNs: op.mtimeNs }));
        const st = lstatOrNull(abs);
        if (st?.isDirectory()) rmdirSync(absFs);
        renameSync(tmpFs, absFs);
      } catch (err) {
        try {
          unlinkSync(tmpFs);
        } catch {
          /* already gone */
        }
        throw err;
      }
      return;
    }
    case 'setattr': {
      const st = lstatSync(absFs);
      if (st.isSymbolicLink()) {
        if (op.mtimeMs !== undefined) lutimesSync(absFs, Date.now() / 1000, mtimeSeconds({ mtimeMs: op.mtimeMs, mtimeNs: op.mtimeNs }));
      } else {
        if (op.mode !== undefined) chmodSync(absFs, op.mode & 0o7777);
        if (op.mtimeMs !== undefined) utimesSync(absFs, Date.now() / 1000, mtimeSeconds({ mtimeMs: op.mtimeMs, mtimeNs: op.mtimeNs }));
      }
      if (chown && (op.uid !== undefined || op.gid !== undefined)) lchownSync(absFs, op.uid ?? -1, op.gid ?? -1);
      return;
    }
    case 'remove': {
      const st = lstatOrNull(abs);
      if (st) removeAny(abs, st);
      return;
    }
    case 'put': {
      if (op.file.path !== op.path) throw new Error('put: path and file differ');
      putFile(root, op.file, Buffer.from(op.data.buffer, op.data.byteOffset, op.data.byteLength), chown, op.staged === true);
      return;
    }
    case 'save': {
      const dest = `${op.saveDir}/${op.path}`;
      assertSafeRelPath(dest);
      assertRealDirChain(root, parentOf(dest), verified, true);
      saveInto(abs, `${root}/${dest}`);
      return;
    }
  }
}

export function apply(task: ApplyTask): OpResult[] {
  const verified = new Set<string>();
  return task.ops.map((op) => {
    try {
      applyOne(task.root, op, verified, task.chown);
      return { path: op.path, ok: true };
    } catch (err) {
      return { path: op.path, ok: false, error: (err as Error).message };
    }
  });
}
