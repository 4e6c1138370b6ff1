// Local-to-local copy without tar: when both trees are directories on this machine, a
// worker reads each source file and writes the destination directly. Same receiver rules as
// extract (tarTasks.ts): safe relative path, real directories up to the parent (created as
// needed, never through a symlink), the size the plan expects, the hash when one is
// expected, a temporary name then rename. What it saves against pack+extract: the tar
// encode/parse, the buffers crossing threads and the main thread in between; and batches
// run on every io thread at once (measured in docs/performance.md).
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import type { Expected } from '../core/tree.js';
import { assertRealDirChain, assertSafeRelPath, fsPath, parentOf } from './paths.js';
import { tempPathFor } from '../core/tempPath.js';
import { TreeReader } from './readInTree.js';
import { finishFile, freshMode, freshModeIsFinal, openFresh } from './safeWrite.js';
import { endSparse, writeSparse } from './sparseWrite.js';
import { writeErrorMessage } from './writeErrors.js';

export interface CopyTask {
  srcRoot: string;
  dstRoot: string;
  files: Expected[];
  /** chown to the expected uid/gid (only when running as root). */
  chown: boolean;
}

export interface CopyResult {
  written: string[];
  failed: Array<{ path: string; error: string }>;
  bytes: number;
}

const BUF = 1 << 20;
let buf: Buffer | undefined;


export function copyFiles(t: CopyTask): CopyResult {
  buf ??= Buffer.allocUnsafeSlow(BUF);
  const res: CopyResult = { written: [], failed: [], bytes: 0 };
  const verified = new Set<string>();
  // the source's files opened through their directory's descriptor (readInTree.ts), one directory after another
  const reader = new TreeReader(t.srcRoot, true);
  try {
    for (const f of t.files) {
      try {
        res.bytes += copyOne(t, f, verified, reader, buf);
        res.written.push(f.path);
      } catch (err) {
        res.failed.push({ path: f.path, error: writeErrorMessage(f.path, err) });
      }
    }
  } finally {
    reader.close();
  }
  return res;
}

function copyOne(t: CopyTask, f: Expected, verified: Set<string>, reader: TreeReader, b: Buffer): number {
  assertSafeRelPath(f.path);
  assertRealDirChain(t.dstRoot, parentOf(f.path), verified, true);
  // the source is read only through real directories, like the destination is written
  const sfd = reader.open(f.path);
  let dfd = -1;
  let made = false;
  const tmpAbs = `${t.dstRoot}/${tempPathFor(f)}`;
  try {
    // A small file is read whole by one read that asks for a byte more than planned: the
    // count proves the size, and that it is still a regular file (a directory fails the read,
    // a FIFO or a device does not give exactly the planned count), without an fstat (a
    // syscall and a Stats object per file). An empty or larger file is checked by fstat.
    const whole = f.size > 0 && f.size < b.length ? readSync(sfd, b, 0, f.size + 1, 0) : -1;
    if (whole >= 0 && whole !== f.size) throw new Error(`size changed: expected ${f.size}, got ${whole > f.size ? 'more' : whole}`);
    if (whole < 0) {
      const st = fstatSync(sfd);
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size !== f.size) throw new Error(`size changed: expected ${f.size}, got ${st.size}`);
    }
    // O_EXCL: a stale temporary from a killed run (with whatever mode it had) is replaced,
    // never reused, so freshModeIsFinal can trust open()'s mode
    dfd = openFresh(tmpAbs, freshMode(f));
    made = true;
    const hasher = f.hash ? createHash('sha256') : null;
    let pos = 0;
    let endWritten = f.size === 0;
    if (whole > 0) {
      const chunk = b.subarray(0, whole);
      hasher?.update(chunk);
      endWritten = writeSparse(dfd, chunk, 0);
      pos = whole;
    }
    while (pos < f.size) {
      const want = Math.min(b.length, f.size - pos);
      const n = readSync(sfd, b, 0, want, pos);
      if (n === 0) throw new Error(`size changed: file shrank while being copied`);
      const chunk = b.subarray(0, n);
      hasher?.update(chunk);
      endWritten = writeSparse(dfd, chunk, pos);
      pos += n;
    }
    if (hasher) {
      const got = hasher.digest('hex');
      if (got !== f.hash) throw new Error(`hash mismatch: expected ${f.hash}, got ${got}`);
    }
    // the length, where the file ends in a hole (one syscall per file saved where it does not)
    if (!endWritten) endSparse(dfd, f.size);
    const fd = dfd;
    dfd = -1;
    made = false;
    // mode (only where open() could not set it), owner, mtime, close, rename; cleans up itself on failure
    finishFile(t.dstRoot, f, fd, tmpAbs, freshModeIsFinal(f), t.chown);
    return f.size;
  } catch (err) {
    if (dfd >= 0) closeSync(dfd);
    if (made) {
      try {
        unlinkSync(fsPath(tmpAbs));
      } catch {
        /* renamed, or gone */
      }
    }
    throw err;
  } finally {
    closeSync(sfd);
  }
}
