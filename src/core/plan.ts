// Reconciliation for one-way sync and mirror packages (pure): given the source and
// destination listings and the options, decide what to create, copy, fix and delete.
// `omirr sync` and `omirr mirror` both plan with this function; src/engine executes a SyncPlan.
//
// Two comparison modes:
// - rsync's quick check (getNewer and getSizeChange both unset): a file is sent when its size
//   or mtime differs (or its hash, with `checksum`); mode and mtime are kept equal.
// - mirror's rules (either flag set): get_newer sends when the source is newer (whole
//   seconds, a difference of exactly 3600 s ignored as mirror does for daylight saving),
//   get_size_change sends when sizes differ; existing files are otherwise left alone.
import { mtimeSecond, sameMtime, withMtime, type Entry } from './entry.js';
import type { Expected, RootAttrs, RootAttrsChange } from './tree.js';
import { encodeName, hasEscapedBytes } from './names.js';
import { matchesPacked } from './packedEntries.js';

export interface PlanOptions {
  /** Compare content hashes (entries must carry .hash) instead of size+mtime. */
  checksum?: boolean;
  /** Delete destination entries absent from the source (rsync --delete, mirror do_deletes). */
  delete?: boolean;
  /**
   * Paths (relative, POSIX) to leave out on both sides: never copied, never deleted.
   * An excluded directory hides its whole subtree, and a destination directory holding
   * anything hidden is never deleted or replaced.
   */
  exclude?: (path: string, kind: Entry['kind']) => boolean;
  /** Source paths to copy; those not matching are "not kept" (mirror get_patt). */
  include?: (path: string, kind: Entry['kind']) => boolean;
  /** Only delete destination paths matching this (mirror delete_patt / delete_excl). */
  deletable?: (path: string, kind: Entry['kind']) => boolean;
  /**
   * Source paths its scan found and left out (ScanSkip: a kind not mirrored, a name the
   * listing could not carry): the destination's entry of that path, anything below it, and
   * any path whose name reads as it does when its bytes are read as UTF-8 text (the form an
   * SFTP listing gives a Latin-1 name), is never deleted: it may be the copy of what the
   * source has and could not show (skipShadow).
   */
  srcSkipped?: readonly string[];
  /**
   * All-or-nothing limits on deletions: a count, or a percentage of the destination's
   * files (files and symlinks) or directories. A percentage outside 1..100 disables deletion.
   */
  maxDeleteFiles?: number | { percent: number };
  maxDeleteDirs?: number | { percent: number };
  /** mirror's comparison rules; defaults give rsync's quick check (size or mtime differs). */
  getNewer?: boolean;
  getSizeChange?: boolean;
  /**
   * get_newer compares at the precision the destination's mtime shows: a destination time
   * on a whole minute (or a local midnight) is what an FTP listing gave when the old mirror
   * made the file, so the source time is cut to that minute (day) first. A tree made by
   * mirror 2.9 is then not fetched again when the source lists seconds.
   */
  listingPrecision?: boolean;
  /** false: create and transfer nothing, only keep and delete (mirror get_missing=0). */
  getMissing?: boolean;
  /** Transfer every file, whatever the comparison says. */
  force?: boolean;
  /** Ignore files and symlinks (both sides) whose mtime is older than this (epoch ms); mirror max_days. */
  notOlderThanMs?: number;
  /** Skip source files larger than this (mirror max_size); an existing copy is kept. */
  maxSize?: number;
  /**
   * Set mtimes on the destination (mirror force_times; rsync -t). Default true. When false,
   * written files get `nowMs` as their mtime, which is what writing them would give.
   */
  setTimes?: boolean;
  /** "Now" for setTimes=false (epoch ms); the caller passes it to keep planSync pure. */
  nowMs?: number;
  /**
   * Mode to give new or rewritten files/dirs instead of the source's (mirror file_mode /
   * dir_mode when !mode_copy). When set, an existing entry's mode is not compared.
   */
  fileMode?: number;
  dirMode?: number;
  /**
   * false: modes are set only on what is made or written, never fixed on entries left as
   * they are (mirror chmods after a transfer only). Default true.
   */
  fixModes?: boolean;
  /** Bits cleared from every mode the plan sets (mirror umask). */
  umask?: number;
  /**
   * false: do not create a symlink whose relative target resolves inside the tree to
   * nothing (mirror make_bad_symlinks=0). Targets outside the tree cannot be judged by a
   * pure planner and are created. Default true (rsync copies links as they are).
   */
  makeBadSymlinks?: boolean;
}

export interface SyncPlan {
  /**
   * Destination entries in the way of a source entry of another kind at the same path
   * (file/dir/symlink type change): removed, children before parents, BEFORE mkdirs.
   * Optional so that older plan literals stay valid; planSync always fills it.
   */
  replaced?: Entry[];
  /** Directories to create, parents before children. */
  mkdirs: Entry[];
  /** Files whose content must be sent, with the attributes to set. */
  transfers: Expected[];
  /** Symlinks to create or replace. */
  symlinks: Entry[];
  /** Existing entries whose content is right but mode or mtime are not. */
  setattrs: Entry[];
  /** Destination entries to delete (or save aside), children before parents. */
  deletes: Entry[];
  /** Why deletes were withheld, if a limit was exceeded (all-or-nothing). */
  deletesRefused?: string;
  /** Entries of a kind omirr does not mirror, or otherwise skipped, with the reason. */
  skipped: Array<{ path: string; reason: string }>;
}

const byPath = (a: { path: string }, b: { path: string }): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

function parentOf(path: string): string | undefined {
  const i = path.lastIndexOf('/');
  return i < 0 ? undefined : path.slice(0, i);
}

/** The ancestors of `path`, nearest first (an array: cheaper than a generator in hot loops). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) out.push(path.slice(0, i));
  return out;
}

/** Resolve a relative symlink target against the link's directory; undefined if outside the tree. */
export function resolveLinkTarget(linkPath: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  const parts = (parentOf(linkPath) ?? '').split('/').filter((s) => s !== '');
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(seg);
  }
  return parts.join('/');
}

/**
 * Splits one side's listing into what is visible to the comparison and what is hidden
 * (excluded, or too old). Hidden destination paths protect their ancestors from deletion.
 */
function visibleEntries(
  entries: Entry[],
  opts: PlanOptions,
): { visible: Map<string, Entry>; hidden: Set<string> } {
  const visible = new Map<string, Entry>();
  const hidden = new Set<string>();
  if (!opts.exclude && opts.notOlderThanMs === undefined) {
    // nothing can be hidden: no sort needed (the callers sort what they iterate)
    for (const e of entries) visible.set(e.path, e);
    return { visible, hidden };
  }
  const sorted = [...entries].sort(byPath); // parents before children
  const hiddenDirs = new Set<string>();
  for (const e of sorted) {
    // Sorted parents-first, and every hidden dir is recorded: checking the parent suffices.
    const parent = parentOf(e.path);
    const underHidden = parent !== undefined && hiddenDirs.has(parent);
    const excluded = underHidden || (opts.exclude?.(e.path, e.kind) ?? false);
    const tooOld =
      opts.notOlderThanMs !== undefined && e.kind !== 'dir' && e.mtimeMs < opts.notOlderThanMs;
    if (excluded || tooOld) {
      hidden.add(e.path);
      if (excluded && e.kind === 'dir') hiddenDirs.add(e.path);
    } else {
      visible.set(e.path, e);
    }
  }
  return { visible, hidden };
}

/**
 * The destination root's own mode and mtime to set, by the rule planSync applies to every
 * directory below it (rsync -a gives DST/ the mode and mtime of SRC/), or undefined when
 * there is nothing to set. `touched`: the run wrote into the destination root, so its mtime
 * moved since `d` was read (a remote root's are read when the tree is opened). No `s`:
 * nothing to give (a site's root); no `d`: a root made since (everything is set).
 */
export function planRootAttrs(s: RootAttrs | undefined, d: RootAttrs | undefined, opts: PlanOptions, touched = false): RootAttrsChange | undefined {
  if (!s) return undefined;
  const mirrorRules = opts.getNewer !== undefined || opts.getSizeChange !== undefined;
  const setTimes = opts.setTimes !== false && !mirrorRules;
  const mode = masked(s.mode, opts.umask);
  // no `d`: the root was made by this run (a remote one, after its attributes were read)
  const timeDiffers = setTimes && (touched || !d || !sameMtime(s, d));
  if (d && mode === (d.mode & 0o7777) && !timeDiffers) return undefined;
  return timeDiffers ? withMtime<RootAttrsChange>({ mode }, s) : { mode };
}

function masked(mode: number, umask: number | undefined): number {
  return (mode & 0o7777) & ~(umask ?? 0);
}

function limitOf(
  limit: number | { percent: number } | undefined,
  total: number,
  what: string,
): { max: number } | { refused: string } {
  if (limit === undefined) return { max: Infinity };
  if (typeof limit === 'number') return { max: limit };
  const pc = limit.percent;
  if (!(pc >= 1 && pc <= 100)) return { refused: `silly percentage ${pc}% for max_delete_${what}` };
  return { max: Math.floor((total * pc) / 100) };
}

/**
 * Whether planSync compares by rsync's quick check alone, with nothing filtered, forced or
 * rewritten: then two listings that core/packedEntries.ts matchesPacked finds equal plan
 * nothing, and a no-op re-run is one pass over both, no maps, no sort.
 */
export function plainQuickCheck(o: PlanOptions): boolean {
  return (
    !o.checksum && !o.exclude && !o.include && !o.force && o.getNewer === undefined && o.getSizeChange === undefined &&
    o.notOlderThanMs === undefined && o.maxSize === undefined && o.fileMode === undefined && o.dirMode === undefined &&
    o.umask === undefined && o.setTimes !== false && o.fixModes !== false && o.getMissing !== false &&
    o.maxDeleteFiles === undefined && o.maxDeleteDirs === undefined
  );
}

export function planSync(src: Entry[], dst: Entry[], opts: PlanOptions = {}): SyncPlan {
  if (plainQuickCheck(opts) && matchesPacked(src, dst)) return { replaced: [], mkdirs: [], transfers: [], symlinks: [], setattrs: [], deletes: [], skipped: [] };
  return planInFull(src, dst, opts);
}

/** planSync without its shortcut for equal listings: every entry through the maps (test/core/packedEntries.test.ts holds the shortcut to it). */
export function planInFull(src: Entry[], dst: Entry[], opts: PlanOptions = {}): SyncPlan {
  const plan: Required<Pick<SyncPlan, 'replaced'>> & SyncPlan = {
    replaced: [],
    mkdirs: [],
    transfers: [],
    symlinks: [],
    setattrs: [],
    deletes: [],
    skipped: [],
  };
  const S = visibleEntries(src, opts);
  const D = visibleEntries(dst, opts);
  const mirrorRules = opts.getNewer !== undefined || opts.getSizeChange !== undefined;
  const setTimes = opts.setTimes !== false;
  const getMissing = opts.getMissing !== false;

  // Destination paths that must survive: kept by the source, or holding hidden entries.
  const kept = new Set<string>();
  const protectedDirs = new Set<string>();
  for (const h of D.hidden) {
    for (const a of ancestors(h)) {
      if (protectedDirs.has(a)) break;
      protectedDirs.add(a);
    }
  }
  // only deletes ask what is kept: without them, no set of every path and its ancestors
  const keep = (path: string): void => {
    if (!opts.delete) return;
    kept.add(path);
    for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
      const a = path.slice(0, i);
      if (kept.has(a)) break;
      kept.add(a);
    }
  };

  // Which source entries are wanted (include), with their parents.
  // Without include every visible entry is wanted (and its visible parents with it).
  const wanted = opts.include ? new Map<string, Entry>() : S.visible;
  if (opts.include) for (const e of S.visible.values()) {
    if (opts.include && !opts.include(e.path, e.kind)) continue;
    wanted.set(e.path, e);
    for (const a of ancestors(e.path)) {
      if (wanted.has(a)) break;
      const dir = S.visible.get(a);
      if (dir) wanted.set(a, dir);
    }
  }

  // Paths that will exist on the destination afterwards, to judge symlink targets.
  const willExist = (path: string): boolean =>
    path === '' || wanted.has(path) || D.visible.has(path) || D.hidden.has(path);

  const fileModeFor = (e: Entry): number =>
    masked(e.kind === 'dir' ? opts.dirMode ?? e.mode : opts.fileMode ?? e.mode, opts.umask);
  const modeIsCompared = (e: Entry): boolean =>
    opts.fixModes !== false && (e.kind === 'dir' ? opts.dirMode : opts.fileMode) === undefined && e.kind !== 'symlink';

  // Ancestors of replaced paths that a later creation would need: handled by order (parents
  // of a replaced entry already exist on the destination).
  const replace = (d: Entry): boolean => {
    if (d.kind === 'dir' && protectedDirs.has(d.path)) {
      plan.skipped.push({ path: d.path, reason: 'type differs but the directory holds excluded entries' });
      keep(d.path);
      return false;
    }
    plan.replaced.push(d);
    if (d.kind === 'dir') {
      for (const [p, e] of D.visible) if (p.startsWith(d.path + '/')) plan.replaced.push(e);
    }
    return true;
  };
  const replacedPaths = new Set<string>();

  for (const s of [...wanted.values()].sort(byPath)) {
    const d0 = D.visible.get(s.path);
    // An entry under a replaced directory is missing on the destination after the replace.
    const underReplaced = replacedPaths.size > 0 && ancestors(s.path).some((a) => replacedPaths.has(a));
    let d = underReplaced ? undefined : d0;
    if (d && d.kind !== s.kind) {
      if (!getMissing) {
        keep(s.path);
        continue;
      }
      if (!replace(d)) continue;
      replacedPaths.add(d.path);
      d = undefined;
    }
    keep(s.path);

    if (s.kind === 'dir') {
      if (!d) {
        if (!getMissing) continue;
        plan.mkdirs.push({ ...stripLocal(s), mode: fileModeFor(s), mtimeMs: s.mtimeMs });
      } else {
        const modeDiffers = modeIsCompared(s) && masked(s.mode, opts.umask) !== d.mode;
        const timeDiffers = !mirrorRules && setTimes && !sameMtime(s, d);
        if (modeDiffers || timeDiffers) {
          plan.setattrs.push(withMtime({ ...stripLocal(s), mode: modeDiffers ? masked(s.mode, opts.umask) : d.mode }, setTimes ? s : d));
        }
      }
      continue;
    }

    if (s.kind === 'symlink') {
      if (d && d.target === s.target) continue;
      if (!getMissing) continue;
      if (opts.makeBadSymlinks === false) {
        const t = resolveLinkTarget(s.path, s.target ?? '');
        if (t !== undefined && !willExist(t)) {
          plan.skipped.push({ path: s.path, reason: `symlink target ${s.target} does not exist (make_bad_symlinks is off)` });
          continue;
        }
      }
      plan.symlinks.push(stripLocal(s));
      continue;
    }

    // A regular file.
    if (opts.maxSize !== undefined && opts.maxSize > 0 && s.size > opts.maxSize) {
      plan.skipped.push({ path: s.path, reason: `larger than max_size ${opts.maxSize}` });
      continue;
    }
    const send = !d ? getMissing : getMissing && (opts.force === true || contentDiffers(s, d, opts, mirrorRules));
    if (send) {
      const t = stripLocal(s) as Expected;
      t.kind = 'file';
      t.mode = fileModeFor(s);
      if (!setTimes && opts.nowMs !== undefined) withMtime(t, { mtimeMs: opts.nowMs });
      plan.transfers.push(t);
      continue;
    }
    if (!d) continue;
    const modeDiffers = modeIsCompared(s) && masked(s.mode, opts.umask) !== d.mode;
    // Only checksum mode can find equal content with another mtime; quick check sent it.
    const timeDiffers = !mirrorRules && setTimes && !sameMtime(s, d);
    if (modeDiffers || timeDiffers) {
      plan.setattrs.push(withMtime({ ...stripLocal(s), mode: modeDiffers ? masked(s.mode, opts.umask) : d.mode }, timeDiffers ? s : d));
    }
  }

  // Replaced entries: children before parents, no duplicates.
  plan.replaced = dedupe(plan.replaced).sort(byPath).reverse();
  const replacedSet = new Set(plan.replaced.map((e) => e.path));

  if (opts.delete) planDeletes(plan, D, kept, protectedDirs, replacedSet, opts);

  plan.mkdirs.sort(byPath);
  plan.transfers.sort(byPath);
  plan.symlinks.sort(byPath);
  plan.setattrs.sort(byPath);
  return plan;
}

/**
 * The destination paths a source's skipped entries shield from deletion (PlanOptions
 * srcSkipped): the path itself and what is below it, where a path matches as it is or as
 * its bytes read as UTF-8 with U+FFFD (a listing that decoded `caf\xe9.txt` lossily names
 * it `caf\ufffd.txt`; the local `caf\xe9.txt` is then its copy, not an orphan).
 */
export function skipShadow(skipped: readonly string[]): (path: string) => boolean {
  // the root itself left out (unreadable, or skips too many to list): everything is shielded
  if (skipped.includes('.') || skipped.includes('')) return () => true;
  const shadow = new Set(skipped);
  const lossy = (p: string): string => (hasEscapedBytes(p) ? encodeName(p).toString('utf8') : p);
  return (path) => {
    for (let p = path; ; ) {
      if (shadow.has(p) || shadow.has(lossy(p))) return true;
      const i = p.lastIndexOf('/');
      if (i < 0) return false;
      p = p.slice(0, i);
    }
  };
}

function planDeletes(
  plan: SyncPlan,
  D: { visible: Map<string, Entry>; hidden: Set<string> },
  kept: Set<string>,
  protectedDirs: Set<string>,
  replacedSet: Set<string>,
  opts: PlanOptions,
): void {
  // Children first (reverse path order); a directory goes only if everything in it goes.
  const survivors = new Set<string>();
  const shadowed = opts.srcSkipped && opts.srcSkipped.length > 0 ? skipShadow(opts.srcSkipped) : undefined;
  const candidates: Entry[] = [];
  for (const d of [...D.visible.values()].sort(byPath).reverse()) {
    if (replacedSet.has(d.path)) continue;
    const goes =
      !kept.has(d.path) &&
      !protectedDirs.has(d.path) &&
      !survivors.has(d.path) &&
      !(shadowed?.(d.path) ?? false) &&
      (opts.deletable?.(d.path, d.kind) ?? true);
    if (goes) candidates.push(d);
    else {
      for (const a of ancestors(d.path)) {
        if (survivors.has(a)) break;
        survivors.add(a);
      }
    }
  }
  if (candidates.length === 0) return;

  const dstFiles = [...D.visible.values()].filter((e) => e.kind !== 'dir').length;
  const dstDirs = D.visible.size - dstFiles;
  const nFiles = candidates.filter((e) => e.kind !== 'dir').length;
  const nDirs = candidates.length - nFiles;
  const fl = limitOf(opts.maxDeleteFiles, dstFiles, 'files');
  const dl = limitOf(opts.maxDeleteDirs, dstDirs, 'dirs');
  // All or nothing, both limits together: deleting the directories while withholding their
  // files (or the reverse) cannot be done, and a partial purge is what the limits prevent.
  if ('refused' in fl) plan.deletesRefused = fl.refused;
  else if ('refused' in dl) plan.deletesRefused = dl.refused;
  else if (nFiles > fl.max) {
    plan.deletesRefused = `Too many files to delete: ${nFiles} > max_delete_files ${fl.max} (of ${dstFiles}); nothing deleted`;
  } else if (nDirs > dl.max) {
    plan.deletesRefused = `Too many directories to delete: ${nDirs} > max_delete_dirs ${dl.max} (of ${dstDirs}); nothing deleted`;
  } else {
    plan.deletes = candidates;
  }
}

function contentDiffers(s: Entry, d: Entry, opts: PlanOptions, mirrorRules: boolean): boolean {
  if (mirrorRules) {
    if (opts.getSizeChange && s.size !== d.size) return true;
    if (opts.getNewer) {
      const ss = opts.listingPrecision ? Math.floor(atPrecisionOf(s.mtimeMs, d.mtimeMs, opts.nowMs) / 1000) : mtimeSecond(s);
      const ds = mtimeSecond(d);
      if (ss > ds && ss - ds !== 3600) return true;
    }
    return false;
  }
  if (s.size !== d.size) return true;
  if (opts.checksum && s.hash !== undefined && d.hash !== undefined) return s.hash !== d.hash;
  return !sameMtime(s, d);
}

/**
 * `ms` cut to the precision an FTP listing would have shown when `like` (a destination
 * time) was set from it: a minute when `like` is on a whole minute; a local day when `like`
 * is a local midnight and `ms` is old enough (half a year before `nowMs`) for `ls -l` to
 * show a year instead of a time. Otherwise unchanged.
 */
export function atPrecisionOf(ms: number, like: number, nowMs?: number): number {
  if (like % 60_000 !== 0) return ms;
  const yearForm = nowMs !== undefined && ms < nowMs - 182 * 86_400_000;
  if (yearForm && isLocalMidnight(like)) {
    const t = new Date(ms);
    return new Date(t.getFullYear(), t.getMonth(), t.getDate()).getTime();
  }
  return Math.floor(ms / 60_000) * 60_000;
}

/**
 * Whether `ms` is a local midnight. A mirror's files mostly share a few listing times, and a
 * Date's local fields cost about a microsecond: remembered per time (20,000 per rerun).
 */
const midnights = new Map<number, boolean>();
function isLocalMidnight(ms: number): boolean {
  let m = midnights.get(ms);
  if (m === undefined) {
    const l = new Date(ms);
    m = l.getHours() === 0 && l.getMinutes() === 0;
    if (midnights.size >= 4096) midnights.clear();
    midnights.set(ms, m);
  }
  return m;
}

/** Drop fields that only mean something on the host that scanned them. */
function stripLocal(e: Entry): Entry {
  const { ino: _ino, uid: _uid, gid: _gid, ...rest } = e;
  return rest;
}

function dedupe(entries: Entry[]): Entry[] {
  const m = new Map<string, Entry>();
  for (const e of entries) m.set(e.path, e);
  return [...m.values()];
}
