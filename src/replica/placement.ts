// No-clobber placing: how the replica changes a path of the tree (the executor's write
// primitives, src/daemon/treeReplica.ts and the simulation in test/sim/ run the same code,
// over node:fs and over an in-memory file system: the `PlaceFs` interface).
//
import * as nodeFs from 'node:fs';
import { entryFromStats, sameMtime } from '../core/entry.js';
import { numberedName, type KeepName, type PathExpect } from '../core/treeIndex.js';
import { replacedInodeFate, type InodeStamp } from '../core/replacedInode.js';
import { decodeName, encodeName, percentDecodeName, percentEncodeName } from '../core/names.js';
import { fsPath, parentOf, TEMP_PREFIX } from '../engine/paths.js';
import { lstatKind, type LstatKind } from '../workers/lstatEntry.js';

/**
 * What placing reads of an lstat (ctimeMs: absent in the simulation's file system; mtimeNs:
 * the exact time, where the file system has it).
 */
export type PlaceStat = { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; size: number; mtimeMs: number; mtimeNs?: bigint; ctimeMs?: number; mode: number; ino: number; uid: number; gid: number };

/** An lstat with nanoseconds, as numbers except the exact mtime. */
function lstatNs(p: string): PlaceStat {
  const st = nodeFs.lstatSync(fsPath(p), { bigint: true });
  return {
    isFile: () => st.isFile(),
    isDirectory: () => st.isDirectory(),
    isSymbolicLink: () => st.isSymbolicLink(),
    size: Number(st.size),
    // whole microseconds fit a double exactly (nanoseconds since 1970 do not)
    mtimeMs: Number(st.mtimeNs / 1000n) / 1000,
    mtimeNs: st.mtimeNs,
    ctimeMs: Number(st.ctimeNs / 1000n) / 1000,
    mode: Number(st.mode),
    ino: Number(st.ino),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** The synchronous file system calls placing needs (node:fs, or the simulation's in-memory one). */
export interface PlaceFs {
  lstat(p: string): PlaceStat;
  readlink(p: string, enc: 'utf8'): string;
  rename(from: string, to: string): void;
  link(existing: string, to: string): void;
  unlink(p: string): void;
  symlink(target: string, p: string): void;
  mkdir(p: string, opts: { mode: number }): void;
  rmdir(p: string): void;
  readdir(p: string): string[];
  readFile(p: string, enc: 'utf8'): string;
  writeFile(p: string, data: string): void;
  /**
   * What is at `p` (lstat: undefined when nothing is there), for the checks that need no
   * more than that. Optional: without it `lstat` is used. On node:fs it is several times
   * cheaper than `lstat`: no nanosecond stat (BigInt fields, Dates) and no exception for a
   * missing path, which is every new file a burst places.
   */
  kind?(p: string): PlaceKind | undefined;
}

export type PlaceKind = LstatKind;

const kindOfStat = (st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): PlaceKind =>
  st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';

/** `fs.kind`, or the same from `fs.lstat`. Throws what lstat throws, except ENOENT. */
function kindAt(fs: PlaceFs, p: string): PlaceKind | undefined {
  if (fs.kind) return fs.kind(p);
  try {
    return kindOfStat(fs.lstat(p));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The real file system. Paths and symlink targets are name strings (src/core/names.ts):
 * bytes that are not UTF-8 reach the kernel exactly (fsPath) and come back escaped.
 */
export const nodePlaceFs: PlaceFs = {
  lstat: lstatNs,
  readlink: (p) => decodeName(nodeFs.readlinkSync(fsPath(p), { encoding: 'buffer' })),
  rename: (a, b) => nodeFs.renameSync(fsPath(a), fsPath(b)),
  link: (a, b) => nodeFs.linkSync(fsPath(a), fsPath(b)),
  unlink: (p) => nodeFs.unlinkSync(fsPath(p)),
  symlink: (t, p) => nodeFs.symlinkSync(fsPath(t), fsPath(p)),
  mkdir: (p, o) => void nodeFs.mkdirSync(fsPath(p), o),
  rmdir: (p) => nodeFs.rmdirSync(fsPath(p)),
  readdir: (p) => nodeFs.readdirSync(fsPath(p), { encoding: 'buffer' }).map(decodeName),
  readFile: (p) => decodeName(nodeFs.readFileSync(fsPath(p))),
  writeFile: (p, d) => nodeFs.writeFileSync(fsPath(p), encodeName(d)),
  kind: (p) => lstatKind(fsPath(p)),
};

/**
 * Every directory from the root down to `relDir` is a real directory (missing ones are
 * made), never a symlink: nothing is placed through a link planted in the tree. (The
 * node:fs-only form, with a cache, is assertRealDirChain in src/engine/paths.ts.)
 */
export function realDirChain(fs: PlaceFs, root: string, relDir: string): void {
  if (relDir === '') return;
  realDirChain(fs, root, parentOf(relDir));
  const abs = `${root}/${relDir}`;
  const k = kindAt(fs, abs);
  if (k === undefined) {
    fs.mkdir(abs, { mode: 0o755 });
    return;
  }
  if (k !== 'dir') throw Object.assign(new Error(`${relDir}: ${k === 'symlink' ? 'is a symlink in the destination' : 'is not a directory'}`), { code: 'ENOTDIR' });
}

function unlinkQuietly(fs: PlaceFs, abs: string): void {
  try {
    fs.unlink(abs);
  } catch {
    /* gone */
  }
}

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
// the original path: recoverAside(fs, root) puts each back, or keeps it as a conflict copy.
// A replaced file does not leave at once either: it is parked for a grace period (a
// process holding it open may still write to it; parkReplaced below).

/** The directory, inside the tree, where objects wait between being moved aside and their fate. */
export const ASIDE_DIR = `${TEMP_PREFIX}aside`;


export type PlaceOutcome =
  /** Done; `keptAs` is where the loser went (a conflict copy), when one was kept. */
  | { done: true; keptAs?: string }
  /** The path no longer holds what was expected (a local change not yet seen): nothing was changed. */
  | { done: false; changed: string };

let asideSeq = 0;

// Names in the aside directory: ID.NAME, an object (NAME: its path, percent-encoded, dots
// too, so that it never ends like a sidecar), or ID.long with its path in the sidecar
// ID.path; ID.placed: the object was replaced by a peer's version and waits out its grace
// period (parkReplaced). ID has no dot.
const SIDECARS = new Set(['path', 'long', 'placed']);

/** The aside name of `rel`: its path (percent-encoded) when that fits a name, else a sidecar file holds it. */
function asideFor(fs: PlaceFs, root: string, rel: string): string {
  const dir = `${root}/${ASIDE_DIR}`;
  try {
    fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let enc = percentEncodeName(rel).replace(/\./g, '%2E');
  if (SIDECARS.has(enc)) enc = `%${enc.charCodeAt(0).toString(16).toUpperCase()}${enc.slice(1)}`;
  const id = `${process.pid}-${++asideSeq}`;
  if (enc.length <= 200) return `${dir}/${id}.${enc}`;
  fs.writeFile(`${dir}/${id}.path`, rel);
  return `${dir}/${id}.long`;
}

/** The sidecar `kind` ('path', 'placed') of the aside object `aside` (an absolute path). */
function sidecarOf(aside: string, kind: string): string {
  const slash = aside.lastIndexOf('/');
  const base = aside.slice(slash + 1);
  return `${aside.slice(0, slash + 1)}${base.slice(0, base.indexOf('.'))}.${kind}`;
}

function dropAsideName(fs: PlaceFs, aside: string): void {
  if (aside.endsWith('.long')) unlinkQuietly(fs, sidecarOf(aside, 'path'));
}

/** Does the object at `abs` (lstat'ed now) match `exp`? */
export function matchesExpect(fs: PlaceFs, abs: string, exp: PathExpect): boolean {
  if (exp.kind === 'absent' || exp.kind === 'dir') {
    // no stat needed beyond what is there (and no exception for the usual absent path)
    let k: PlaceKind | undefined;
    try {
      k = kindAt(fs, abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return exp.kind === 'absent';
      throw err;
    }
    return exp.kind === 'absent' ? k === undefined : k === 'dir';
  }
  return lstatMatching(fs, abs, exp) !== false;
}

/** The lstat of `abs` when it matches `exp` (null: absent, as expected), else false. */
function lstatMatching(fs: PlaceFs, abs: string, exp: PathExpect): PlaceStat | null | false {
  let st;
  try {
    st = fs.lstat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return exp.kind === 'absent' ? null : false;
    throw err;
  }
  return statMatches(fs, abs, st, exp) ? st : false;
}

function statMatches(fs: PlaceFs, abs: string, st: PlaceStat, exp: PathExpect): boolean {
  switch (exp.kind) {
    case 'absent':
      return false;
    case 'dir':
      return st.isDirectory();
    case 'symlink':
      return st.isSymbolicLink() && fs.readlink(abs, 'utf8') === exp.target;
    case 'file': {
      if (!st.isFile()) return false;
      // the mtime at the precision times are set (whole microseconds; the ms where the index
      // has no more): an inode number is reused at once by the next file made (ext4), so a
      // rewrite by rename in the same millisecond must not pass for the indexed file
      const e = entryFromStats('', st);
      return e.size === exp.size && sameMtime(e, exp) && e.mode === exp.mode && (exp.ino === undefined || e.ino === exp.ino);
    }
  }
}

/**
 * Moves what is at `root/rel` aside if it is what `exp` says (absent: checks that nothing
 * is there). Returns the aside path (undefined when nothing was there) with the stat that
 * matched (taken after the move: what a writer holding the file open changes later), or
 * 'changed'. Directories are not moved aside here (see keepDirAside).
 */
export function displace(fs: PlaceFs, root: string, rel: string, exp: PathExpect): { aside?: string; placed?: PlaceStat } | { changed: string } {
  const abs = `${root}/${rel}`;
  if (exp.kind === 'absent' || exp.kind === 'dir') return matchesExpect(fs, abs, exp) ? {} : { changed: exp.kind === 'absent' ? 'appeared' : 'not a directory' };
  const aside = asideFor(fs, root, rel);
  try {
    fs.rename(abs, aside);
  } catch (err) {
    dropAsideName(fs, aside);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { changed: 'vanished' };
    throw err;
  }
  const placed = lstatMatching(fs, aside, exp);
  if (!placed) {
    restoreAside(fs, root, rel, aside);
    return { changed: 'edited' };
  }
  return { aside, placed };
}

/** Puts an aside object back at `rel` without replacing anything; if the path is taken, keeps it under a free conflict-style name. */
export function restoreAside(fs: PlaceFs, root: string, rel: string, aside: string, names: () => Iterable<KeepName> = () => []): string {
  try {
    fs.link(aside, `${root}/${rel}`);
    fs.unlink(aside);
    dropAsideName(fs, aside);
    return rel;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      // no link possible (ENOSPC, ...): a rename needs no new space; the path is checked
      // free first (only a local create in that instant could be replaced)
      if (!matchesExpect(fs, `${root}/${rel}`, { kind: 'absent' })) throw err;
      fs.rename(aside, `${root}/${rel}`);
      dropAsideName(fs, aside);
      return rel;
    }
  }
  return keepAside(fs, root, aside, names(), rel);
}

/**
 * Links an aside object to the first free name of `names` (never replacing anything), then
 * removes the aside name. When every name is taken, `NAME.omirr-aside-N` style fallbacks
 * derived from `rel` are tried: a loser is never dropped and never blocks (issue 9, item 3).
 */
export function keepAside(fs: PlaceFs, root: string, aside: string, names: Iterable<KeepName>, rel: string): string {
  const tryName = (k: KeepName): boolean => {
    try {
      realDirChain(fs, root, parentOf(k.name));
      fs.link(aside, `${root}/${k.name}`);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // taken by this very loser already (a copy another node made, mirrored here): kept
      return k.sameIf !== undefined && matchesExpect(fs, `${root}/${k.name}`, k.sameIf);
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
  fs.unlink(aside);
  dropAsideName(fs, aside);
  return kept;
}

/**
 * Puts the file or symlink `srcAbs` (already complete: staged, verified, attributes set) at
 * `root/rel`, which must still be what `exp` says. `keep` (a conflict's loser): the names
 * to keep the replaced object under, first free one wins. `srcAbs` is gone afterwards
 * unless 'changed' is returned (then nothing changed, and it is still there).
 */
export function placeObject(fs: PlaceFs, root: string, rel: string, srcAbs: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  realDirChain(fs, root, parentOf(rel));
  // a path expected free is not looked at first: link(2) never replaces, and whatever is
  // there (a file, a directory, a symlink, dangling or not) fails it with EEXIST, which is
  // the 'appeared' the look would have answered, with no window between the look and the
  // link. A burst places every file at a new path: one lstat fewer per file.
  const d: ReturnType<typeof displace> = exp.kind === 'absent' ? {} : displace(fs, root, rel, exp);
  if ('changed' in d) return { done: false, changed: d.changed };
  try {
    fs.link(srcAbs, `${root}/${rel}`);
  } catch (err) {
    // something appeared at the path after it was emptied: a local create, kept; the
    // displaced object goes back (it is older than the newcomer, or a loser to keep)
    if (d.aside) restoreOrKeep(fs, root, rel, d.aside, keep);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { done: false, changed: 'appeared' };
    throw err;
  }
  fs.unlink(srcAbs);
  if (!d.aside) return { done: true };
  try {
    return settleAside(fs, root, rel, d.aside, keep, d.placed);
  } catch (err) {
    // the loser could not be kept (ENOSPC, ...): the winner is taken back out and the
    // loser put back, as if nothing happened; the caller records a failed item (retried)
    fs.unlink(`${root}/${rel}`);
    restoreAside(fs, root, rel, d.aside);
    throw err;
  }
}

/**
 * Moves the file or symlink at `from` (which must be what `expFrom` says) to `to` (which
 * must be what `expTo` says): a rename a peer made, done here without fetching the content.
 * 'changed' leaves both paths as they were.
 */
export function moveObject(fs: PlaceFs, root: string, from: string, expFrom: PathExpect, to: string, expTo: PathExpect): PlaceOutcome {
  const d = displace(fs, root, from, expFrom);
  if ('changed' in d) return { done: false, changed: d.changed };
  if (!d.aside) return { done: false, changed: 'vanished' };
  let out: PlaceOutcome;
  try {
    out = placeObject(fs, root, to, d.aside, expTo);
  } catch (err) {
    restoreAside(fs, root, from, d.aside);
    throw err;
  }
  if (!out.done) restoreAside(fs, root, from, d.aside);
  else dropAsideName(fs, d.aside);
  return out;
}

/** A new symlink, made in the aside directory and placed like a file. */
export function placeSymlink(fs: PlaceFs, root: string, rel: string, target: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  realDirChain(fs, root, parentOf(rel));
  const tmp = asideFor(fs, root, rel);
  fs.symlink(target, tmp);
  try {
    const out = placeObject(fs, root, rel, tmp, exp, keep);
    if (!out.done) fs.unlink(tmp);
    return out;
  } catch (err) {
    unlinkQuietly(fs, tmp);
    throw err;
  } finally {
    dropAsideName(fs, tmp);
  }
}

/**
 * Removes the aside directory when it is empty (between batches: no temporary left behind).
 * True when objects are still there: replaced files waiting out their grace period
 * (settleReplaced), or an object a failure left (recovered at the next start).
 */
export function tidyAside(fs: PlaceFs, root: string): boolean {
  // usually there is none (no file was replaced): looked at without an exception
  if (fs.kind !== undefined && fs.kind(`${root}/${ASIDE_DIR}`) === undefined) return false;
  try {
    fs.rmdir(`${root}/${ASIDE_DIR}`);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * The displaced object's end once the change is made: kept under a loser's name (`keep`);
 * a regular file parked for its grace period (parkReplaced); anything else removed.
 */
function settleAside(fs: PlaceFs, root: string, rel: string, aside: string, keep?: () => Iterable<KeepName>, placed?: PlaceStat): PlaceOutcome {
  if (keep) return { done: true, keptAs: keepAside(fs, root, aside, keep(), rel) };
  if (placed?.isFile()) {
    parkReplaced(fs, aside, placed);
    return { done: true };
  }
  fs.unlink(aside);
  dropAsideName(fs, aside);
  return { done: true };
}

// A file replaced (or removed) for a peer's change may be open in a local process: one that
// opened it before the placing (O_WRONLY|O_TRUNC, or O_APPEND, and is still writing) holds
// the old inode, and its bytes go there, not to the new file at the path. Unlinked at once,
// they would be lost with no trace. So the old inode is parked in the aside directory with
// the stat it had right before the placing (ID.placed); after the grace period,
// settleReplaced keeps it as a conflict copy when it was written since (a local version,
// replicated like any other), else removes it. A crash leaves it parked: the next start
// settles it the same way, never removing what may hold a write.

/**
 * How long a replaced file stays parked. A writer that opened the file before it was
 * replaced and writes within this time keeps its bytes (as a conflict copy). Long enough
 * for the usual open-write-close of an editor or a tool that was racing the placing (they
 * take milliseconds), short enough that the aside directory empties soon after a burst;
 * a writer that holds a file open longer without writing is the documented limit.
 */
export const REPLACED_GRACE_MS = 3000;

function parkReplaced(fs: PlaceFs, aside: string, placed: PlaceStat): void {
  const stamp: InodeStamp = { size: placed.size, mtimeMs: placed.mtimeMs, ...(placed.ctimeMs !== undefined ? { ctimeMs: placed.ctimeMs } : {}) };
  const side = sidecarOf(aside, 'placed');
  try {
    fs.writeFile(side, JSON.stringify(stamp));
  } catch (err) {
    unlinkQuietly(fs, side); // the caller puts the old file back (the placing is undone)
    throw err;
  }
}

/** One object of the aside directory: its name, the path it came from, its sidecars. */
export interface AsideObject {
  id: string;
  abs: string;
  rel: string;
  parked: boolean;
}

/**
 * The objects in the aside directory (sidecars aside); undefined when there is no such
 * directory. `parked`: a replaced file waiting out its grace period; any other object is
 * mid-placing (or left by a crash).
 */
export function asideObjects(fs: PlaceFs, root: string): AsideObject[] | undefined {
  const dir = `${root}/${ASIDE_DIR}`;
  let names: string[];
  try {
    names = fs.readdir(dir);
  } catch {
    return undefined;
  }
  const all = new Set(names);
  const out: AsideObject[] = [];
  for (const n of names) {
    const dot = n.indexOf('.');
    const id = n.slice(0, dot);
    const rest = n.slice(dot + 1);
    if (rest === 'path' || rest === 'placed') continue;
    let rel: string;
    try {
      rel = rest === 'long' ? fs.readFile(`${dir}/${id}.path`, 'utf8') : percentDecodeName(rest);
    } catch {
      continue;
    }
    out.push({ id, abs: `${dir}/${n}`, rel, parked: all.has(`${id}.placed`) });
  }
  return out;
}

/**
 * Settles the parked replaced files whose grace period (`graceMs`) is over at `nowMs`
 * (Infinity: all of them): one written since its placing is kept under the first free name of `names(rel,
 * its stat)` (then numbered names; never replacing anything), the rest removed. Returns the
 * kept ones and how many are still waiting.
 */
export function settleReplaced(fs: PlaceFs, root: string, nowMs: number, names: (rel: string, st: InodeStamp) => Iterable<KeepName>, graceMs = REPLACED_GRACE_MS): { kept: Array<{ path: string; keptAs: string }>; waiting: number } {
  const kept: Array<{ path: string; keptAs: string }> = [];
  let waiting = 0;
  for (const o of asideObjects(fs, root) ?? []) {
    if (!o.parked) continue;
    const side = sidecarOf(o.abs, 'placed');
    if (fs.lstat(side).mtimeMs + graceMs > nowMs) {
      waiting++;
      continue;
    }
    let placed: InodeStamp | undefined;
    try {
      placed = JSON.parse(fs.readFile(side, 'utf8')) as InodeStamp;
    } catch {
      placed = undefined; // unreadable: kept, never removed on a guess
    }
    let st;
    try {
      st = fs.lstat(o.abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      unlinkQuietly(fs, side); // removed by hand meanwhile: nothing to decide
      continue;
    }
    const later: InodeStamp = { size: st.size, mtimeMs: st.mtimeMs, ...(st.ctimeMs !== undefined ? { ctimeMs: st.ctimeMs } : {}) };
    if (placed === undefined || replacedInodeFate(placed, later) === 'keep') {
      kept.push({ path: o.rel, keptAs: keepAside(fs, root, o.abs, names(o.rel, later), o.rel) });
    } else {
      fs.unlink(o.abs);
      dropAsideName(fs, o.abs);
    }
    fs.unlink(side);
  }
  return { kept, waiting };
}

function restoreOrKeep(fs: PlaceFs, root: string, rel: string, aside: string, keep?: () => Iterable<KeepName>): void {
  if (!keep) {
    restoreAside(fs, root, rel, aside);
    return;
  }
  try {
    keepAside(fs, root, aside, keep(), rel);
  } catch {
    restoreAside(fs, root, rel, aside, keep);
  }
}

/**
 * Removes the file or symlink at `root/rel` if it is still what `exp` says (`keep`: kept
 * under a conflict name instead of deleted). A path already gone counts as done.
 */
export function removeObject(fs: PlaceFs, root: string, rel: string, exp: PathExpect, keep?: () => Iterable<KeepName>): PlaceOutcome {
  if (exp.kind === 'absent' || exp.kind === 'dir') throw new Error(`removeObject: ${rel}: not a file or symlink`);
  const d = displace(fs, root, rel, exp);
  if ('changed' in d) return d.changed === 'vanished' ? { done: true } : { done: false, changed: d.changed };
  if (!d.aside) return { done: true };
  try {
    return settleAside(fs, root, rel, d.aside, keep, d.placed);
  } catch (err) {
    restoreAside(fs, root, rel, d.aside); // not removed after all: retried as a failed item
    throw err;
  }
}

/**
 * After a crash: every object left in the aside directory goes back to its path when that
 * is free, or is kept under a conflict name when it is not. Returns what was recovered.
 */
export function recoverAside(fs: PlaceFs, root: string): Array<{ path: string; keptAs: string }> {
  const out: Array<{ path: string; keptAs: string }> = [];
  for (const o of asideObjects(fs, root) ?? []) {
    if (o.parked) continue; // replaced by a placing that was done: settleReplaced decides
    out.push({ path: o.rel, keptAs: restoreAside(fs, root, o.rel, o.abs) });
  }
  return out;
}

/**
 * A directory that loses to a file or link is renamed, with its subtree, to the first free
 * name of `names` (then numbered names): lstat, then rename (a directory cannot be linked;
 * only the tree's own serial queue makes these names). Returns the name it went to.
 */
export function keepDirAside(fs: PlaceFs, root: string, path: string, names: KeepName[]): string {
  const free = (n: string): boolean => {
    try {
      fs.lstat(`${root}/${n}`);
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
  };
  let name = names.find((k) => free(k.name))?.name;
  for (let i = 2; name === undefined; i++) if (free(numberedName(path, i))) name = numberedName(path, i);
  fs.rename(`${root}/${path}`, `${root}/${name}`);
  return name;
}
