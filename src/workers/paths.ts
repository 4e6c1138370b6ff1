// Path helpers for the worker tasks: core's path rules (src/core/paths.ts) plus the one check
// that needs the file system, assertRealDirChain, which runs inside the worker threads.
import { lstatSync, mkdirSync } from 'node:fs';
import { assertSafeRelPath, fsPath, parentOf, UnsafePathError } from '../core/paths.js';

export * from '../core/paths.js';

/**
 * Makes sure every directory from the root down to (and including) `relDir` is a real
 * directory, not a symlink, creating missing ones (mode 0755). So nothing is ever written
 * through a symlink planted in the destination. `verified` caches directories already
 * checked in this session: receivers check each directory once, not once per file.
 * Synchronous on purpose: it runs inside worker threads (src/workers).
 */
export function assertRealDirChain(root: string, relDir: string, verified: Set<string>, create = true): void {
  if (relDir === '' || verified.has(relDir)) return;
  assertRealDirChain(root, parentOf(relDir), verified, create);
  const abs = fsPath(root + '/' + relDir);
  let st;
  try {
    st = lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
    if (makeDir(abs)) {
      verified.add(relDir);
      return;
    }
    // made meanwhile by another thread (a local copy's mkdirs run beside its batches): checked as found
    st = lstatSync(abs);
  }
  if (st.isSymbolicLink()) throw new UnsafePathError(relDir, 'is a symlink in the destination');
  if (!st.isDirectory()) throw new UnsafePathError(relDir, 'is not a directory');
  verified.add(relDir);
}

/** mkdir; false when something is there already (EEXIST), for the caller to check what. */
export function makeDir(abs: string | Buffer, mode = 0o755): boolean {
  try {
    mkdirSync(abs, { mode });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * The read side of assertRealDirChain: throws unless `rel` is a safe relative path whose
 * parent directories, from the root down, are real directories (none created). Every read
 * of a tree (scan, hash, pack, copy, the daemon serving content) checks this, then opens the
 * last component with O_NOFOLLOW (src/workers/readInTree.ts): O_NOFOLLOW alone guards only
 * the last component, so `root -> /` in the tree would make `root/etc/shadow` readable. A
 * symlink is mirrored as a link and never followed. `verified` caches the directories
 * checked in this batch.
 */
export function assertReadableInTree(root: string, rel: string, verified: Set<string>): void {
  assertSafeRelPath(rel);
  assertRealDirChain(root, parentOf(rel), verified, false);
}
