// Two process-wide helpers of the local walks, alone in a module so that the quick local
// check (quickLocal.ts) uses them without loading localScan.ts and what it imports (the
// listing feed, the scan columns, node:module: a local no-op, which offers no scan, never
// needs them).
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { EXIT } from '../core/exitCodes.js';

/** node:worker_threads' Worker, loaded when the first plain thread starts (~2 ms of CPU a small local no-op, which starts none, does not pay). */
export function workerClass(): typeof Worker {
  return (createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')).Worker;
}

/**
 * Make `dir` the process's working directory, for a walk that names its paths from there
 * (ScanTask.fsRoot): the kernel then resolves a path of a few components per lstat instead of
 * the root's too. Returns how to go back, or undefined when not entered (a working directory
 * that cannot be found again, removed, or entered; `dir` missing or no directory): the walk
 * then names its paths whole. Going back that fails ends the process: the command would
 * resolve relative paths from the wrong directory.
 */
export function enterDir(dir: string): (() => void) | undefined {
  let cwd: string;
  try {
    cwd = process.cwd();
    process.chdir(cwd); // one we could not enter again (no search permission): not left
    process.chdir(dir);
  } catch {
    return undefined;
  }
  return () => {
    try {
      process.chdir(cwd);
    } catch (err) {
      process.stderr.write(`omirr: cannot return to the working directory ${cwd}: ${(err as Error).message}\n`);
      process.exit(EXIT.INTERNAL);
    }
  };
}
