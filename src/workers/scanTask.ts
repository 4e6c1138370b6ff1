// The scan of a tree (readdir + lstat, never following a symlink), alone in its module so
// that a thread which only scans (src/workers/scanThread.ts, and every io thread's first
// task) loads no more than it needs: no crypto, no writers.
import { readdirSync, readlinkSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { Entry } from '../core/entry.js';
import { lstatEntry } from './lstatEntry.js';
import { decodeName, nameByteLength } from '../core/names.js';
import { packEntries, type ScanColumns } from '../core/scanColumns.js';
import { encodeListing, type ListingEncoder } from '../core/listingEncode.js';
import type { ScanSkip } from '../core/tree.js';
import { assertRealDirChain, assertSafeRelPath, fsPath, isTempName, MAX_PATH_BYTES, parentOf } from './paths.js';

export interface ScanTask {
  root: string;
  recursive?: boolean;
  /** Walk only this subtree (a safe relative path); its own entry is included. */
  subtree?: string;
  /**
   * Walk what is below each of these directories (their own entries not included): one
   * share of a scan spread over the io threads (LocalTree.scan).
   */
  below?: string[];
  /** Return the entries packed in columns (src/core/scanColumns.ts) instead of as objects: a big scan's trip to the main thread. */
  columns?: boolean;
  /**
   * Walk no further once this many entries are listed: the directories not walked yet come
   * back in `rest`, in the order one walk would take them, so a walk of `below: rest` goes on
   * where this one stopped (localScan.ts prescanWhenTaken: a big tree's rest in a thread).
   */
  budget?: number;
  /**
   * Return the entries as the binary listing's blocks (core/listingEncode.ts) instead: a
   * served tree's scan, sent to the peer as it is (LocalTree.scanListing).
   */
  listing?: boolean;
  /**
   * With `listing`: post each block on this port as soon as it is full (a served tree's
   * listing sent while the walk goes on, tasks.ts); the result then holds the last block and
   * `streamed`, how many went through the port before it.
   */
  port?: MessagePort;
  /**
   * With `port`: also take the sha256 of the listing's like form (core/likeForm.ts) as it is
   * encoded, for a peer that may ask whether its own listing is the same (capability
   * `listing-same-any`: `omirr serve`'s io thread, tasks.ts).
   */
  like?: boolean;
  /**
   * The root as the walk's file system calls name it: relative to the process's working
   * directory, which the caller made the root ('.': localScan.ts prescanWhenTaken's walk) or a
   * directory above it (quickLocal.ts:
   * the kernel then resolves a path of a few components per lstat instead of the root's
   * too, ~15 % of a scan's CPU on a deep root).
   * Paths and skip reasons still name `root`; a path too long from `root` is refused as it was.
   */
  fsRoot?: string;
}

export interface ScanTaskResult {
  /** Empty when the entries were asked for in `columns`. */
  entries: Entry[];
  columns?: ScanColumns;
  /** The entries as the binary listing's blocks, when asked for in `listing`. */
  listing?: Buffer[];
  /** Paths of kinds omirr does not mirror (fifos, sockets, devices), unreadable dirs, and unmirrorable (too long) paths. */
  skipped: ScanSkip[];
  /** When the root's listing began, as epoch ms (OMIRR_TIMING's "first readdir"). */
  startedAt?: number;
  /** How many blocks of the listing were posted on ScanTask.port before the result's. */
  streamed?: number;
  /** The directories a walk with a `budget` left, to walk below (ScanTask.budget). */
  rest?: string[];
  /** With ScanTask.like: the sha256 of the whole listing's like form, 64 hex digits. */
  likeDigest?: string;
}

/**
 * The names in directory `abs`, each the exact bytes of its name (src/core/names.ts): readdir
 * as strings turns bytes that are not UTF-8 into U+FFFD, so a directory where some name holds
 * a U+FFFD is listed again as bytes (the common listing pays nothing).
 */
export function listNames(abs: string): string[] {
  const p = fsPath(abs);
  const names = readdirSync(p);
  if (!names.some((n) => n.includes('\uFFFD'))) return names;
  return readdirSync(p, { encoding: 'buffer' }).map(decodeName);
}

/** A symlink's target, byte-exact (escaped where it is not UTF-8). */
export function readTarget(abs: string): string {
  return decodeName(readlinkSync(fsPath(abs), { encoding: 'buffer' }));
}

/**
 * Where a scan in `listing` form sends its blocks as it walks (a served tree's listing goes
 * out while the walk goes on, so the peer compares it meanwhile): each block is posted as
 * soon as it is full, and the result's `listing` holds only the last one. `encoder` may have
 * encoded entries already (the root's, listed elsewhere); the walk's come after them.
 */
export interface ListingSink {
  encoder: ListingEncoder;
  post: (block: Buffer) => void;
}

/** Walk the tree depth-first, parents before children; never follows symlinks. */
export function scan(task: ScanTask, sink?: ListingSink): ScanTaskResult {
  const startedAt = performance.timeOrigin + performance.now();
  const entries: Entry[] = [];
  const skipped: ScanTaskResult['skipped'] = [];
  const rest: string[] = [];
  const at = task.fsRoot ?? task.root;
  const fsAt = (rel: string): string => (rel === '' ? at : at === '.' ? rel : `${at}/${rel}`);
  // from the working directory the kernel reaches paths it refuses whole (PATH_MAX): those
  // fail as the walk from `root` fails, so both walks list and skip the same
  const rootBytes = task.fsRoot === undefined ? 0 : Buffer.byteLength(task.root) + 1;
  const tooLongFromRoot = (rel: string): void => {
    if (rootBytes > 0 && rootBytes + rel.length * 3 >= MAX_PATH_BYTES && rootBytes + nameByteLength(rel) >= MAX_PATH_BYTES) {
      throw Object.assign(new Error(`ENAMETOOLONG: name too long, ${rel}`), { code: 'ENAMETOOLONG' });
    }
  };
  // a skip's reason names the path from the root, as a walk from `root` would (node's message
  // quotes the path the call was given)
  const reasonOf = (err: Error, rel: string): string =>
    task.fsRoot === undefined ? err.message : err.message.split(`'${fsAt(rel)}'`).join(`'${rel ? `${task.root}/${rel}` : task.root}'`);
  // with a sink, the entries encoded are dropped (`fed` of them so far): they die young, where
  // a listing held whole until the walk's end was copied by every scavenge (20-60 ms of GC in
  // a 20,000-entry walk of ~125 ms of CPU)
  let fed = 0;
  const listed = (): number => fed + entries.length;
  const feed = (): void => {
    for (const e of entries) {
      const block = sink!.encoder.add(e);
      if (block) sink!.post(block);
    }
    fed += entries.length;
    entries.length = 0;
  };
  const walk = (rel: string): void => {
    let names: string[];
    try {
      tooLongFromRoot(rel);
      names = listNames(fsAt(rel));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (rel === '' && code === 'ENOENT') return;
      if (code === 'ENAMETOOLONG') skipped.push({ path: rel, reason: tooLongReason(task.root, rel), unmirrorable: true });
      // a directory that cannot be read (EACCES): its contents are not mirrored, a failure
      // of the run (rsync's exit 23), and what is below it is not deleted elsewhere
      else skipped.push({ path: rel || '.', reason: reasonOf(err as Error, rel), unmirrorable: true });
      return;
    }
    names.sort();
    const subdirs: string[] = [];
    for (const name of names) {
      if (isTempName(name)) continue;
      const path = rel ? `${rel}/${name}` : name;
      let e: Entry | null;
      try {
        // the entry straight from lstat, no Stats object (lstatEntry.ts: the bulk of a scan's CPU)
        tooLongFromRoot(path);
        e = lstatEntry(fsPath(fsAt(path)), path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENAMETOOLONG') skipped.push({ path, reason: tooLongReason(task.root, path), unmirrorable: true });
        else if (code !== 'ENOENT') skipped.push({ path, reason: reasonOf(err as Error, path), unmirrorable: true });
        continue; // else vanished between readdir and lstat
      }
      // (a UTF-16 unit is at most 3 bytes: a shorter path cannot be too long, and most are)
      if (path.length * 3 > MAX_PATH_BYTES && nameByteLength(path) > MAX_PATH_BYTES) {
        skipped.push({ path, reason: tooLongReason(task.root, path), unmirrorable: true });
        continue;
      }
      if (e === null) {
        skipped.push({ path, reason: 'not a regular file, directory or symlink' });
        continue;
      }
      if (e.kind === 'symlink') {
        try {
          e.target = readTarget(fsAt(path));
        } catch {
          continue;
        }
      }
      entries.push(e);
      if (e.kind === 'dir') subdirs.push(path);
    }
    // the entries listed so far are final (a walk only appends): out they go, by the block
    if (sink) feed();
    if (task.recursive === false) return;
    for (const d of subdirs) {
      // past the budget, every directory not walked yet is left, in the order one walk takes
      if (task.budget !== undefined && (rest.length > 0 || listed() >= task.budget)) rest.push(d);
      else walk(d);
    }
  };
  if (task.below) {
    const verified = new Set<string>();
    for (const d of task.below) {
      if (task.budget !== undefined && (rest.length > 0 || listed() >= task.budget)) {
        rest.push(d);
        continue;
      }
      // a real directory of the tree, reached through real directories only; one replaced
      // (by a symlink, a file) since the root was listed is no longer in the tree
      assertSafeRelPath(d);
      try {
        assertRealDirChain(task.root, d, verified, false);
      } catch {
        continue;
      }
      walk(d);
    }
  } else if (task.subtree === undefined || task.subtree === '') walk('');
  else scanSubtree(task.root, task.subtree, entries, walk);
  const timing = !task.subtree && !task.below ? startedAt : undefined;
  let r: ScanTaskResult;
  if (sink) {
    feed();
    const last = sink.encoder.end();
    r = { entries: [], listing: last ? [last] : [], skipped, ...(timing !== undefined ? { startedAt: timing } : {}) };
  } else r = scanResult(entries, skipped, task, timing);
  if (rest.length > 0) r.rest = rest;
  return r;
}

/** A scan's result in the form the task asked for: entries, columns, or the binary listing. */
export function scanResult(entries: Entry[], skipped: ScanSkip[], form: Pick<ScanTask, 'columns' | 'listing'>, startedAt?: number): ScanTaskResult {
  const timing = startedAt !== undefined ? { startedAt } : {};
  if (form.listing) return { entries: [], listing: [...encodeListing(entries)], skipped, ...timing };
  return form.columns ? { entries: [], columns: packEntries(entries), skipped, ...timing } : { entries, skipped, ...timing };
}

function tooLongReason(root: string, path: string): string {
  return `path too long: ${nameByteLength(path)} bytes (${Buffer.byteLength(root) + 1 + nameByteLength(path)} with the root); omirr mirrors paths of at most ${MAX_PATH_BYTES} bytes that the kernel can reach`;
}

/**
 * The subtree's own entry, then (for a directory) its contents. A subtree that is missing,
 * or reached through a symlink or a non-directory, is not part of the tree: no entries.
 */
function scanSubtree(root: string, sub: string, entries: Entry[], walk: (rel: string) => void): void {
  assertSafeRelPath(sub);
  if (sub.split('/').some(isTempName)) return;
  let e: Entry | null;
  try {
    assertRealDirChain(root, parentOf(sub), new Set(), false);
    e = lstatEntry(fsPath(`${root}/${sub}`), sub);
  } catch {
    return;
  }
  if (e === null) return;
  if (e.kind === 'symlink') {
    try {
      e.target = readTarget(`${root}/${sub}`);
    } catch {
      return; // vanished
    }
  }
  entries.push(e);
  if (e.kind === 'dir') walk(sub);
}
