// Path helpers for the worker tasks: core's path rules (src/core/paths.ts) plus the one check
// that needs the file system, assertRealDirChain, which runs inside the worker threads.
import { lstatSync, mkdirSync } from 'node:fs';
import { parentOf, UnsafePathError } from '../core/paths.js';

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
  const abs = root + '/' + relDir;
  let st;
  try {
    st = lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
    mkdirSync(abs, { mode: 0o755 });
    verified.add(relDir);
    return;
  }
  if (st.isSymbolicLink()) throw new UnsafePathError(relDir, 'is a symlink in the destination');
  if (!st.isDirectory()) throw new UnsafePathError(relDir, 'is not a directory');
  verified.add(relDir);
}
