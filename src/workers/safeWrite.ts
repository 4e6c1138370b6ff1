// The safe write of one file, in a worker: to its temporary name in the target directory,
// verified, mode, owner and mtime set, then renamed into place, so a reader sees the old
// file or the new one and never a partial one. The tar extract (tarTasks.ts) does the same
// per entry while the bytes stream in; `putFile` is the whole-buffer form, for contents
// that arrived complete (a small file inline with its change record: the daemon's 'put' op).
import { createHash } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { entryFromStats } from '../core/entry.js';
import type { Expected } from '../core/tree.js';
import type { KeepName, PathExpect } from '../core/treeIndex.js';
import { assertRealDirChain, parentOf, tempPathFor, TEMP_PREFIX } from '../engine/paths.js';

const FRESH_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Create `abs` anew with `mode`: a file already there (a stale temporary) is removed first. */
export function openFresh(abs: string, mode: number): number {
  try {
    return openSync(abs, FRESH_FLAGS, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    unlinkSync(abs);
    return openSync(abs, FRESH_FLAGS, mode);
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
export function finishFile(root: string, exp: Expected, fd: number, tmpAbs: string, modeSet: boolean, chown: boolean): void {
  try {
    if (!modeSet) fchmodSync(fd, exp.mode & 0o7777);
    if (chown && (exp.uid !== undefined || exp.gid !== undefined)) {
      fchownSync(fd, exp.uid ?? -1, exp.gid ?? -1);
      // chown clears set-id bits: put them back
      if (exp.mode & 0o6000) fchmodSync(fd, exp.mode & 0o7777);
    }
    futimesSync(fd, Date.now() / 1000, exp.mtimeMs / 1000);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(tmpAbs);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmpAbs, `${root}/${exp.path}`);
  } catch (err) {
    unlinkQuietly(tmpAbs);
    throw err;
  }
}

/**
 * `data` as the content of `root/exp.path`, safely. The sha256 is checked before anything
 * is written (a content that does not match its record is refused). The caller has checked
 * the path and its parents (assertSafeRelPath, assertRealDirChain).
 */
export function putFile(root: string, exp: Expected, data: Buffer, chown: boolean): void {
  if (data.length !== exp.size) throw new Error(`size mismatch: expected ${exp.size}, got ${data.length}`);
  if (exp.hash !== undefined) {
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== exp.hash) throw new Error(`hash mismatch: expected ${exp.hash}, got ${got}`);
  }
  const tmpAbs = `${root}/${tempPathFor(exp)}`;
  const fd = openFresh(tmpAbs, freshMode(exp));
  try {
    writeAll(fd, data, 0);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(tmpAbs);
    throw err;
  }
  finishFile(root, exp, fd, tmpAbs, freshModeIsFinal(exp), chown);
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
    unlinkSync(abs);
  } catch {
    /* gone */
  }
}

// ---------------------------------------------------------------------------------------
// No-clobber placing (the daemon's replica, src/replica/placement.ts)
//
// A path is replaced or removed only when it still holds what the index says it holds,
// checked AFTER the old object has been moved out of the way, not before: a check followed
// by an unconditional rename leaves a window in which a local write is destroyed (issue 9,
// item 1). So:
//  - what is at the path is renamed into the tree's aside directory first (an atomic
//    rename: whatever a local writer does afterwards happens to the aside inode, or to a
//    new file at the path, never to nothing);
//  - the aside object is compared with the expectation; a mismatch puts it back (link(2),
//    which never replaces) and reports 'changed': the caller makes it a local version and
//    decides again;
//  - the new object is put in place with link(2), which fails with EEXIST rather than
//    replace a file that appeared meanwhile ('changed' again);
//  - a conflict's loser is the aside object itself, linked to its conflict name (renamed
//    aside, not copied: a process holding it open keeps writing into the kept copy).
// A crash between the steps leaves the object in the aside directory, whose names encode
// the original path: recoverAside() puts each back, or keeps it as a conflict copy.

/** The directory, inside the tree, where objects wait between being moved aside and their fate. */
export const ASIDE_DIR = `${TEMP_PREFIX}aside`;


export type PlaceOutcome =
  /** Done; `keptAs` is where the loser went (a conflict copy), when one was kept. */
  | { done: true; keptAs?: string }
  /** The path no longer holds what was expected (a local change not yet seen): nothing was changed. */
  | { done: false; changed: string };

let asideSeq = 0;

/** The aside name of `rel`: its path (percent-encoded) when that fits a name, else a sidecar file holds it. */
function asideFor(root: string, rel: string): string {
  const dir = `${root}/${ASIDE_DIR}`;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const enc = encodeURIComponent(rel);
  const id = `${process.pid}-${++asideSeq}`;
  if (enc.length <= 200) return `${dir}/${id}.${enc}`;
  writeFileSync(`${dir}/${id}.path`, rel);
  return `${dir}/${id}.long`;
}

function dropAsideName(aside: string): void {
  if (aside.endsWith('.long')) unlinkQuietly(aside.slice(0, -'.long'.length) + '.path');
}

/** Does the object at `abs` (lstat'ed now) match `exp`? */
export function matchesExpect(abs: string, exp: PathExpect): boolean {
  let st;
  try {
    st = lstatSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return exp.kind === 'absent';
    throw err;
  }
  switch (exp.kind) {
    case 'absent':
      return false;
    case 'dir':
      return st.isDirectory();
    case 'symlink':
      return st.isSymbolicLink() && readlinkSync(abs, 'utf8') === exp.target;
    case 'file': {
      if (!st.isFile()) return false;
      const e = entryFromStats('', st);
      return e.size === exp.size && e.mtimeMs === exp.mtimeMs && e.mode === exp.mode && (exp.ino === undefined || e.ino === exp.ino);
    }
  }
}

/**
 * Moves what is at `root/rel` aside if it is what `exp` says (absent: checks that nothing
 * is there). Returns the aside path (undefined when nothing was there), or 'changed'.
 * Directories are not moved aside here (see keepDirAside).
 */
export function displace(root: string, rel: string, exp: PathExpect): { aside?: string } | { changed: string } {
  const abs = `${root}/${rel}`;
  if (exp.kind === 'absent' || exp.kind === 'dir') return matchesExpect(abs, exp) ? {} : { changed: exp.kind === 'absent' ? 'appeared' : 'not a directory' };
  const aside = asideFor(root, rel);
  try {
    renameSync(abs, aside);
  } catch (err) {
    dropAsideName(aside);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { changed: 'vanished' };
    throw err;
  }
  if (!matchesExpect(aside, exp)) {
    restoreAside(root, rel, aside);
    return { changed: 'edited' };
  }
  return { aside };
}

/** Puts an aside object back at `rel` without replacing anything; if the path is taken, keeps it under a free conflict-style name. */
export function restoreAside(root: string, rel: string, aside: string, names: () => Iterable<KeepName> = () => []): string {
  try {
    linkSync(aside, `${root}/${rel}`);
    unlinkSync(aside);
    dropAsideName(aside);
    return rel;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return keepAside(root, aside, names(), rel);
}

/**
 * Links an aside object to the first free name of `names` (never replacing anything), then
 * removes the aside name. When every name is taken, `NAME.omirr-aside-N` style fallbacks
 * derived from `rel` are tried: a loser is never dropped and never blocks (issue 9, item 3).
 */
export function keepAside(root: string, aside: string, names: Iterable<KeepName>, rel: string): string {
  const tryName = (k: KeepName): boolean => {
    try {
      assertRealDirChain(root, parentOf(k.name), new Set(), true);
      linkSync(aside, `${root}/${k.name}`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // taken by this very loser already (a copy another node made, mirrored here): kept
      return k.sameIf !== undefined && matchesExpect(`${root}/${k.name}`, k.sameIf);
    }
  };
  let kept: string | undefined;
  for (const k of names) {
    if (tryName(k)) {
      kept = k.name;
      break;
    }
  }
  for (let i = 2; kept === undefined; i++) {
    const n = numberedName(rel, i);
    if (tryName({ name: n })) kept = n;
  }
  unlinkSync(aside);
  dropAsideName(aside);
  return kept;
}

/** 'd/a.txt', 3 -> 'd/a.omirr-conflict-3.txt' (the last resort of keepAside: unique, not shared between nodes). */
export function numberedName(rel: string, n: number): string {
  const slash = rel.lastIndexOf('/');
  const base = rel.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const [name, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  return `${rel.slice(0, slash + 1)}${name.slice(0, 200)}.omirr-conflict-${n}${ext}`;
}

/**
 * Puts the file or symlink `srcAbs` (already complete: staged, verified, attributes set) at
 * `root/rel`, which must still be what `exp` says. `keep` (a conflict's loser): the names
 * to keep the replaced object under, first free one wins. `srcAbs` is gone afterwards
 * unless 'changed' is returned (then nothing changed, and it is still there).
 */
export function placeObject(root: string, rel: string, srcAbs: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  assertRealDirChain(root, parentOf(rel), new Set(), true);
  const d = displace(root, rel, exp);
  if ('changed' in d) return { done: false, changed: d.changed };
  try {
    linkSync(srcAbs, `${root}/${rel}`);
  } catch (err) {
    // something appeared at the path after it was emptied: a local create, kept; the
    // displaced object goes back (it is older than the newcomer, or a loser to keep)
    if (d.aside) restoreOrKeep(root, rel, d.aside, keep);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { done: false, changed: 'appeared' };
    throw err;
  }
  unlinkSync(srcAbs);
  if (!d.aside) return { done: true };
  if (keep) return { done: true, keptAs: keepAside(root, d.aside, keep(), rel) };
  unlinkSync(d.aside);
  dropAsideName(d.aside);
  return { done: true };
}

/**
 * Moves the file or symlink at `from` (which must be what `expFrom` says) to `to` (which
 * must be what `expTo` says): a rename a peer made, done here without fetching the content.
 * 'changed' leaves both paths as they were.
 */
export function moveObject(root: string, from: string, expFrom: PathExpect, to: string, expTo: PathExpect): PlaceOutcome {
  const d = displace(root, from, expFrom);
  if ('changed' in d) return { done: false, changed: d.changed };
  if (!d.aside) return { done: false, changed: 'vanished' };
  let out: PlaceOutcome;
  try {
    out = placeObject(root, to, d.aside, expTo);
  } catch (err) {
    restoreAside(root, from, d.aside);
    throw err;
  }
  if (!out.done) restoreAside(root, from, d.aside);
  else dropAsideName(d.aside);
  return out;
}

/** A new symlink, made in the aside directory and placed like a file. */
export function placeSymlink(root: string, rel: string, target: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  assertRealDirChain(root, parentOf(rel), new Set(), true);
  const tmp = asideFor(root, rel);
  symlinkSync(target, tmp);
  try {
    const out = placeObject(root, rel, tmp, exp, keep);
    if (!out.done) unlinkSync(tmp);
    return out;
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  } finally {
    dropAsideName(tmp);
  }
}

/** Removes the aside directory when it is empty (between batches: no temporary left behind). */
export function tidyAside(root: string): void {
  try {
    rmdirSync(`${root}/${ASIDE_DIR}`);
  } catch {
    /* absent, or an object is still there (recovered at the next start) */
  }
}

function restoreOrKeep(root: string, rel: string, aside: string, keep?: () => Iterable<KeepName>): void {
  if (keep) keepAside(root, aside, keep(), rel);
  else restoreAside(root, rel, aside);
}

/**
 * Removes the file or symlink at `root/rel` if it is still what `exp` says (`keep`: kept
 * under a conflict name instead of deleted). A path already gone counts as done.
 */
export function removeObject(root: string, rel: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  if (exp.kind === 'absent' || exp.kind === 'dir') throw new Error(`removeObject: ${rel}: not a file or symlink`);
  const d = displace(root, rel, exp);
  if ('changed' in d) return d.changed === 'vanished' ? { done: true } : { done: false, changed: d.changed };
  if (!d.aside) return { done: true };
  if (keep) return { done: true, keptAs: keepAside(root, d.aside, keep(), rel) };
  unlinkSync(d.aside);
  dropAsideName(d.aside);
  return { done: true };
}

/**
 * After a crash: every object left in the aside directory goes back to its path when that
 * is free, or is kept under a conflict name when it is not. Returns what was recovered.
 */
export function recoverAside(root: string): Array<{ path: string; keptAs: string }> {
  const dir = `${root}/${ASIDE_DIR}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ path: string; keptAs: string }> = [];
  for (const n of names) {
    if (n.endsWith('.path')) continue;
    const dot = n.indexOf('.');
    let rel: string;
    try {
      rel = n.endsWith('.long') ? readFileSync(`${dir}/${n.slice(0, -'.long'.length)}.path`, 'utf8') : decodeURIComponent(n.slice(dot + 1));
    } catch {
      continue;
    }
    const keptAs = restoreAside(root, rel, `${dir}/${n}`);
    out.push({ path: rel, keptAs });
  }
  return out;
}
