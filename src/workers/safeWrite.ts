// The safe write of one file, in a worker: to its temporary name in the target directory,
// verified, mode, owner and mtime set, then renamed into place, so a reader sees the old
// file or the new one and never a partial one. The tar extract (tarTasks.ts) does the same
// per entry while the bytes stream in; `putFile` is the whole-buffer form, for contents
// that arrived complete (a small file inline with its change record: the daemon's 'put' op).
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mtimeSeconds } from '../core/entry.js';
import type { Expected } from '../core/tree.js';
import { fsPath } from './paths.js';
import { tempPathFor } from '../core/tempPath.js';
import { hashHexOnce } from './contentHash.js';

const FRESH_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Create `abs` anew with `mode`: a file already there (a stale temporary) is removed first. */
export function openFresh(abs: string, mode: number): number {
  const p = fsPath(abs);
  try {
    return openSync(p, FRESH_FLAGS, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(p);
    return openSync(p, FRESH_FLAGS, mode);
  }
}

export function writeAll(fd: number, buf: Buffer, pos: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, pos + off);
}

let umask: number | undefined;

/** The permission bits a fresh temporary is created with (owner rw while it is written). */
export function freshMode(exp: Expected): number {
  return (exp.mode & 0o777) | 0o600;
}

/** Whether a file created with freshMode(exp) already has exactly exp's mode (no fchmod needed). */
export function freshModeIsFinal(exp: Expected): boolean {
  umask ??= process.umask();
  return (freshMode(exp) & ~umask) === (exp.mode & 0o7777);
}

/**
 * The end of a safe write, once the content is in `fd` and verified: mode (unless the
 * create already set it), owner (root only), mtime, close, rename over `root/exp.path`.
 * On failure the temporary is removed and the error thrown.
 */
export function finishFile(root: string, exp: Expected, fd: number, tmpAbs: string, modeSet: boolean, chown: boolean, rename = true): void {
  try {
    if (!modeSet) fchmodSync(fd, exp.mode & 0o7777);
    if (chown && (exp.uid !== undefined || exp.gid !== undefined)) {
      fchownSync(fd, exp.uid ?? -1, exp.gid ?? -1);
      // chown clears set-id bits: put them back
      if (exp.mode & 0o6000) fchmodSync(fd, exp.mode & 0o7777);
    }
    futimesSync(fd, Date.now() / 1000, mtimeSeconds(exp));
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(tmpAbs);
    throw err;
  }
  closeSync(fd);
  if (!rename) return;
  try {
    renameSync(fsPath(tmpAbs), fsPath(`${root}/${exp.path}`));
  } catch (err) {
    unlinkQuietly(tmpAbs);
    throw err;
  }
}

/**
 * `data` as the content of `root/exp.path`, safely. The sha256 is checked before anything
 * is written (a content that does not match its record is refused). The caller has checked
 * the path and its parents (assertSafeRelPath, assertRealDirChain). `atName`: written
 * straight at `root/exp.path`, no temporary (a private staging directory, whose names are
 * only used once the write is reported: the 'put' op's `staged`); a crash mid-write leaves
 * a partial file there that nothing uses, replaced by the next write at that name.
 */
export function putFile(root: string, exp: Expected, data: Buffer, chown: boolean, atName = false): void {
  if (data.length !== exp.size) throw new Error(`size mismatch: expected ${exp.size}, got ${data.length}`);
  if (exp.hash !== undefined) {
    const got = hashHexOnce('sha256', data);
    if (got !== exp.hash) throw new Error(`hash mismatch: expected ${exp.hash}, got ${got}`);
  }
  const tmpAbs = atName ? `${root}/${exp.path}` : `${root}/${tempPathFor(exp)}`;
  const fd = openFresh(tmpAbs, freshMode(exp));
  try {
    writeAll(fd, data, 0);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(tmpAbs);
    throw err;
  }
  finishFile(root, exp, fd, tmpAbs, freshModeIsFinal(exp), chown, !atName);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}

function unlinkQuietly(abs: string): void {
  try {
    unlinkSync(fsPath(abs));
  } catch {
    /* gone */
  }
}
