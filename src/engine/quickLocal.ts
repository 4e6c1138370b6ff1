// The quick local sync: `omirr sync SRC DST` between two existing local directories, decided
// before any of the command's modules load (src/cli/main.ts). A no-op re-run is most of what
// a mirror job does, and for it the full command costs several times the work itself:
// commander, pino, xstate, the engine and piscina's threads load (100-300 ms) to find that
// nothing is to be done. Here the source is scanned on the main thread while one plain
// worker thread (src/workers/scanThread.ts) scans the destination (a small tree's, the main
// thread scans after the source: sooner than the thread boots), and the two listings are
// compared column by column by the full sync's quick check (core/packedEntries.ts
// matchesPacked: equal exactly when core/plan.ts planSync would plan nothing). Equal, with
// nothing skipped on either side, is the whole run: nothing to write, nothing to say, exit
// 0. Anything else goes to the full command with both scans handed over (localScan.ts
// offerScan), so the quick path never decides anything the full one would decide otherwise.
import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { EXIT } from '../core/exitCodes.js';
import { matchesPacked, unpackEntries } from '../core/packedEntries.js';
import { scan, type ScanTaskResult } from '../workers/scanTask.js';
import { offerScan, scanInThread } from './localScan.js';
import { cpuMs, mark, markAt, phase } from './timing.js';

/** A directory with at least one entry (false: missing, not a directory, empty, unreadable). */
function filledDir(abs: string): boolean {
  try {
    return statSync(abs).isDirectory() && readdirSync(abs).length > 0;
  } catch {
    return false;
  }
}

/**
 * A source at most this large (entries) is small enough that the main thread scans the
 * destination too, rather than wait for a thread to boot (30-50 ms of CPU, more than 8,000
 * lstat calls take): measured on 4,000 files, 15-25 % less CPU than with the thread.
 */
const MAIN_SCAN_MAX = 8_000;

/**
 * The source's scan made from inside it (its own directory the working directory for the
 * walk, then the one before again): each lstat names a path from the root down, not the
 * root's components too. On a million files in 1,000 directories under /dev/shm/x/src,
 * ~15 % less CPU in lstat, on the thread whose share is the larger (it compares after, and
 * keeps its entries as objects). The thread scanning the destination meanwhile names its
 * paths whole, so the change of directory does not concern it. A working directory that
 * cannot be found again (removed) or entered: the walk from the root as before.
 */
function scanFromInside(src: string): ScanTaskResult {
  let cwd: string;
  try {
    cwd = process.cwd();
    process.chdir(cwd); // one we could not enter again (no search permission): not left
    process.chdir(src);
  } catch {
    return scan({ root: src });
  }
  try {
    return scan({ root: src, fsRoot: '.' });
  } finally {
    try {
      process.chdir(cwd);
    } catch (err) {
      // the full command would resolve relative paths from inside SRC: refuse instead
      process.stderr.write(`omirr: cannot return to the working directory ${cwd}: ${(err as Error).message}\n`);
      process.exit(EXIT.INTERNAL);
    }
  }
}

/**
 * True when the sync of `srcSpec` into `dstSpec` (both local paths) was found to be a no-op:
 * the command is done. False otherwise; the full command then runs, taking the scans made
 * here when there are any. A first copy (the destination missing or empty) is not tried: it
 * goes straight to the full command, whose scans overlap its module loading.
 */
export async function quickLocalSync(srcSpec: string, dstSpec: string): Promise<boolean> {
  const src = resolve(srcSpec);
  const dst = resolve(dstSpec);
  markAt('first readdir', performance.timeOrigin + performance.now(), cpuMs());
  if (!filledDir(dst) || !filledDir(src)) return false;
  mark('quick scans');
  const endDst = phase('scan dst');
  const thread = scanInThread(dst);
  const endSrc = phase('scan src');
  let s: ScanTaskResult;
  let d: ScanTaskResult;
  try {
    s = scanFromInside(src);
    endSrc();
    if (s.entries.length <= MAIN_SCAN_MAX) {
      // a small tree: this thread is done with it sooner than the other thread boots
      thread.stop();
      d = scan({ root: dst });
    } else d = await thread.result;
    endDst();
  } catch {
    return false;
  }
  const endCompare = phase('compare');
  // skips are warned about, or fail the sync: the full command's to report
  const same = s.skipped.length === 0 && d.skipped.length === 0 && matchesPacked(s.entries, d.columns ?? d.entries);
  endCompare();
  if (same) return true;
  // a skip's message names the path the walk gave the kernel (relative): the full command's own scan reports it
  if (s.skipped.length === 0) offerScan(src, s);
  offerScan(dst, d.columns ? { entries: unpackEntries(d.columns), skipped: d.skipped } : d);
  return false;
}
