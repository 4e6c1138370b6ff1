// The daemon's index of one mirrored tree: for every path the last entry seen and its
// version; deleted paths stay as tombstones for a while so that deletes travel and an
// old copy of a file cannot come back. Pure functions only: they compute records and
// decisions, the caller stores them (src/actors/indexStore.ts) and does the I/O.
// The rules are explained with examples in docs/daemon-internals.md.
import { mtimeOf, sameMtime, type Entry } from './entry.js';
import { conflictName } from './conflict.js';
import { CompactIndex } from './compactIndex.js';
import { EMPTY_VERSION, compare, lastWriter, maxCounter, merge, pickWinner, tick, type Version } from './version.js';

export interface IndexRecord {
  /** Last entry seen (for a tombstone: the entry before it was deleted). */
  entry: Entry;
  version: Version;
  /** Present on a tombstone: when the delete was seen or applied (local clock). */
  deleted?: { atMs: number };
}

/** What the index says is at a path: checked right before the path is replaced or removed (src/workers/safeWrite.ts). */
export type PathExpect =
  | { kind: 'absent' }
  | { kind: 'file'; size: number; mtimeMs: number; mtimeNs?: number; mode: number; ino?: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'dir' };

/** A name a conflict's loser may be kept under; `sameIf`: when it is already taken by exactly this, the loser counts as kept. */
export interface KeepName {
  name: string;
  sameIf?: PathExpect;
}

/** 'd/a.txt', 3 -> 'd/a.omirr-conflict-3.txt': the last resort of a loser's names (unique, not shared between nodes). */
export function numberedName(rel: string, n: number): string {
  const slash = rel.lastIndexOf('/');
  const base = rel.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const [name, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  return `${rel.slice(0, slash + 1)}${name.slice(0, 200)}.omirr-conflict-${n}${ext}`;
}

/** What a record says is on disk (a tombstone or no record: nothing). */
export function expectOf(r: IndexRecord | undefined): PathExpect {
  if (!isLive(r)) return { kind: 'absent' };
  const e = r.entry;
  if (e.kind === 'dir') return { kind: 'dir' };
  if (e.kind === 'symlink') return { kind: 'symlink', target: e.target ?? '' };
  return { kind: 'file', size: e.size, ...mtimeOf(e), mode: e.mode, ...(e.ino !== undefined ? { ino: e.ino } : {}) };
}

/** path -> record; paths as in Entry (relative, POSIX). */
export type TreeIndex = Map<string, IndexRecord>;

export interface AttrOptions {
  /** Owner and group are mirrored (running as root and asked to): compare them too. */
  owner?: boolean;
}

export function isLive(r: IndexRecord | undefined): r is IndexRecord {
  return r !== undefined && r.deleted === undefined;
}

/** True when `p` is `root` or below it; '' is the whole tree. */
export function inSubtree(p: string, root: string): boolean {
  return root === '' || p === root || p.startsWith(root + '/');
}

/**
 * Equal in every attribute that omirr mirrors. Files: kind, size, hash, mode, mtime.
 * Directories: mode (a directory's mtime changes with every child and is not mirrored).
 * Symlinks: target. Owner and group only with opts.owner: a node that cannot chown must
 * not see its own uid as a change, or it would echo every file it receives.
 */
export function sameContent(a: Entry, b: Entry, opts: AttrOptions = {}): boolean {
  if (a.kind !== b.kind) return false;
  if (opts.owner && (a.uid !== b.uid || a.gid !== b.gid)) return false;
  switch (a.kind) {
    case 'file':
      return a.size === b.size && a.hash !== undefined && a.hash === b.hash && a.mode === b.mode && a.mtimeMs === b.mtimeMs;
    case 'dir':
      return a.mode === b.mode;
    case 'symlink':
      return a.target === b.target;
  }
}

/** Deepest paths first, so children are handled before their directory. */
function deepestFirst(a: IndexRecord, b: IndexRecord): number {
  const da = depth(a.entry.path);
  const db = depth(b.entry.path);
  return da !== db ? db - da : a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0;
}

/** Parents before their children (depth, then path). */
function parentsFirst(a: IndexRecord, b: IndexRecord): number {
  const da = depth(a.entry.path);
  const db = depth(b.entry.path);
  return da !== db ? da - db : a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0;
}

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}

// ---------------------------------------------------------------------------------------
// Local changes

export interface LocalChange {
  record: IndexRecord;
  /** The version moved on: store the record and send it to every peer. */
  changed: boolean;
}

/**
 * A path seen on the local disk (by the watcher or a scan). Files need their hash.
 * Unchanged mirrored attributes keep the version (the entry is refreshed: a new inode
 * after a rename-into-place is not a change); anything else ticks it. A path whose record
 * is a tombstone comes back with a version that descends from the delete.
 */
export function applyLocalChange(
  prev: IndexRecord | undefined,
  entry: Entry,
  node: string,
  nowMs: number,
  opts: AttrOptions = {},
): LocalChange {
  if (entry.kind === 'file' && entry.hash === undefined) throw new Error(`applyLocalChange: ${entry.path}: file without hash`);
  if (isLive(prev) && sameContent(prev.entry, entry, opts)) return { record: { entry, version: prev.version }, changed: false };
  return { record: { entry, version: tick(prev?.version ?? EMPTY_VERSION, node, nowMs) }, changed: true };
}

/** A path gone from the local disk: a tombstone with a new version (null if nothing to delete). */
export function applyLocalDelete(prev: IndexRecord | undefined, node: string, nowMs: number): IndexRecord | null {
  if (!isLive(prev)) return null;
  return { entry: prev.entry, version: tick(prev.version, node, nowMs), deleted: { atMs: nowMs } };
}

export interface LocalMove {
  /** Tombstones of the old paths (deepest first), then records of the new paths (parents first). */
  records: IndexRecord[];
  /** Old path -> new path, for the top of the move and every path below it. */
  pairs: Array<{ from: string; to: string }>;
}

/**
 * A rename seen locally (the watcher paired the two halves by inode): the moved path and
 * everything below it get tombstones at the old paths and records at the new paths, with
 * their hashes carried over (a rename does not change content, so nothing is rehashed).
 * `toEntry`, when given, is the fresh stat of the new path (its inode, mode, mtime).
 * A new path that had a record (a tombstone, or a file the rename replaced) gets a
 * version descending from it. Returns null when `from` is not live in the index.
 */
export function applyLocalMove(
  index: TreeIndex,
  from: string,
  to: string,
  node: string,
  nowMs: number,
  toEntry?: Entry,
): LocalMove | null {
  const top = index.get(from);
  if (!isLive(top) || from === to || inSubtree(to, from)) return null;
  const tombstones: IndexRecord[] = [];
  const created: IndexRecord[] = [];
  const pairs: Array<{ from: string; to: string }> = [];
  for (const p of index.keys()) {
    if (!inSubtree(p, from)) continue;
    const rec = index.get(p);
    if (!isLive(rec)) continue;
    const np = to + p.slice(from.length);
    const t = applyLocalDelete(rec, node, nowMs)!;
    tombstones.push(t);
    let entry: Entry = { ...rec.entry, path: np };
    if (p === from && toEntry) entry = { ...toEntry, path: np, hash: toEntry.hash ?? rec.entry.hash };
    created.push({ entry, version: tick(index.get(np)?.version ?? EMPTY_VERSION, node, nowMs) });
    pairs.push({ from: p, to: np });
  }
  tombstones.sort(deepestFirst);
  created.sort(parentsFirst);
  pairs.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  return { records: [...tombstones, ...created], pairs };
}

// ---------------------------------------------------------------------------------------
// Scans

export interface ScanDiff {
  /** New or changed records to store and send (versions ticked). */
  updates: IndexRecord[];
  /** Same version, refreshed entry (a new inode, an unmirrored attribute): store, don't send. */
  refreshed: IndexRecord[];
  /** Files that are new or whose size, mtime or inode changed: hash them, then applyLocalChange. */
  needsHash: Entry[];
  /** Tombstones for records no longer on disk, deepest path first: store and send. */
  vanished: IndexRecord[];
  /** Paths that matched their record exactly: nothing to hash, store or send. */
  unchanged: number;
}

export interface DiffScanOptions extends AttrOptions {
  /**
   * The scan covered only this subtree ('' or absent: the whole tree): records outside it
   * are left alone instead of being taken for deleted.
   */
  subtree?: string;
  /**
   * Subtrees the scan could not read (EACCES, I/O errors: the scanner's `skipped`):
   * their records are left alone. Taking them for deleted would send deletes to every peer.
   */
  unscanned?: string[];
}

/**
 * Compares a fresh scan with the index, the way a restart or a rescan does it: a file
 * whose size, mtime and inode match its record is unchanged and is neither rehashed nor
 * sent; a changed size/mtime/inode means it must be hashed; a mode change alone is a
 * change without rehash. Scan entries that already carry a hash are decided at once.
 */
export function diffScan(
  index: TreeIndex,
  scan: Iterable<Entry>,
  node: string,
  nowMs: number,
  opts: DiffScanOptions = {},
): ScanDiff {
  const out: ScanDiff = { updates: [], refreshed: [], needsHash: [], vanished: [], unchanged: 0 };
  const subtree = opts.subtree ?? '';
  const unscanned = (opts.unscanned ?? []).map((u) => (u === '.' ? '' : u));
  const seen = new Set<string>();
  // A CompactIndex decides the unchanged paths (nearly all, after a restart) on its columns
  // and marks what was seen by slot: a million-file restart builds no record for them.
  const compact = index instanceof CompactIndex ? index : undefined;
  const marks = compact?.newMarks();
  for (const e of scan) {
    let rec: IndexRecord | undefined;
    if (compact) {
      // one lookup of the path for both (a burst's rescan: every new file was looked up twice)
      const s = compact.markRow(marks!, e.path);
      if (s >= 0 && compact.unchangedAt(s, e)) {
        out.unchanged++;
        continue;
      }
      rec = s >= 0 ? compact.recordAt(e.path, s) : undefined;
    } else {
      seen.add(e.path);
      rec = index.get(e.path);
    }
    const live = isLive(rec) && rec.entry.kind === e.kind ? rec : undefined;
    if (e.kind === 'file') {
      const statSame =
        live !== undefined &&
        live.entry.size === e.size &&
        sameMtime(live.entry, e) &&
        live.entry.ino !== undefined &&
        live.entry.ino === e.ino &&
        live.entry.hash !== undefined;
      if (!statSame) {
        if (e.hash !== undefined) pushLocal(out, rec, e, node, nowMs, opts);
        else out.needsHash.push(e);
        continue;
      }
      // content taken as unchanged: keep the known hash, decide on the other attributes
      pushLocal(out, rec, { ...e, hash: live.entry.hash }, node, nowMs, opts);
      continue;
    }
    pushLocal(out, rec, e, node, nowMs, opts);
  }
  // keys first: a record is built (CompactIndex) only for a path the scan did not see
  for (const p of compact ? compact.unmarked(marks!) : index.keys()) {
    if (seen.has(p) || !inSubtree(p, subtree)) continue;
    if (unscanned.some((u) => inSubtree(p, u))) continue;
    const rec = index.get(p);
    if (isLive(rec)) out.vanished.push(applyLocalDelete(rec, node, nowMs)!);
  }
  out.vanished.sort(deepestFirst);
  return out;
}

function pushLocal(out: ScanDiff, prev: IndexRecord | undefined, e: Entry, node: string, nowMs: number, opts: AttrOptions): void {
  const { record, changed } = applyLocalChange(prev, e, node, nowMs, opts);
  if (changed) out.updates.push(record);
  else if (prev && sameEntry(prev.entry, e)) out.unchanged++;
  else out.refreshed.push(record);
}

/** Every field equal (what the index would store is identical). */
function sameEntry(a: Entry, b: Entry): boolean {
  return (
    a.path === b.path &&
    a.kind === b.kind &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.mode === b.mode &&
    a.target === b.target &&
    a.ino === b.ino &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.hash === b.hash
  );
}

// ---------------------------------------------------------------------------------------
// Remote changes

export interface RemoteOptions extends AttrOptions {
  /** Keep the loser of a concurrent conflict as NAME.omirr-conflict-...; default true. */
  keepConflicts?: boolean;
  /** Local time: tombstones taken from a peer expire from when we learnt of them, not when it deleted. */
  nowMs?: number;
}

export type RemoteDecision =
  /**
   * Nothing to do, nothing to relay. 'equal': already have it (this is what stops
   * echoes and loops); 'older': ours descends from it; 'concurrent-local-wins': ours
   * wins the conflict and the sender resolves it on its side when ours reaches it.
   */
  | { action: 'ignore'; reason: 'equal' | 'older' | 'concurrent-local-wins' }
  /** Same content already here (or a tombstone for a path we never had): store `record`, write nothing, relay. */
  | { action: 'adopt'; record: IndexRecord }
  /**
   * Make the local path match `record` (write the file, make the dir or link, set
   * attributes, or delete), then store it with the local stat and relay it.
   * needsContent: the file's bytes must be fetched (false: only attributes differ, or
   * not a file). A directory tombstone removes the directory only when it is empty.
   */
  | { action: 'apply'; record: IndexRecord; needsContent: boolean }
  /**
   * Concurrent versions, the remote one wins: first rename the local path to
   * keepLocalAs (it becomes a new local file, seen and sent like any other), then apply.
   */
  | { action: 'conflict'; record: IndexRecord; keepLocalAs: string; needsContent: boolean };

/** A record from a peer, with the sender's inode removed: inodes mean nothing on another host. */
function fromRemote(r: IndexRecord, nowMs: number | undefined): IndexRecord {
  const { ino: _ino, ...entry } = r.entry;
  if (!r.deleted) return { entry, version: r.version };
  return { entry, version: r.version, deleted: { atMs: nowMs ?? r.deleted.atMs } };
}

function needsContent(local: IndexRecord | undefined, remote: IndexRecord): boolean {
  if (remote.deleted || remote.entry.kind !== 'file') return false;
  return !(isLive(local) && local.entry.kind === 'file' && local.entry.hash !== undefined && local.entry.hash === remote.entry.hash);
}

/** Same state: both tombstones, or both live with equal mirrored attributes. */
function sameState(a: IndexRecord, b: IndexRecord, opts: AttrOptions): boolean {
  if (a.deleted || b.deleted) return a.deleted !== undefined && b.deleted !== undefined;
  return sameContent(a.entry, b.entry, opts);
}

/**
 * What to do with a change that arrived from a peer, given our record of the same path.
 *  - ours equal or newer (a descendant): ignore (no echo; not relayed);
 *  - theirs descends from ours: apply (or just adopt the version if the content is the same);
 *  - concurrent: the same content merges the versions; otherwise pickWinner decides;
 *    if theirs wins and ours is content (a file or link, or a directory losing to a
 *    non-directory), ours is kept as a conflict copy named after our losing version,
 *    unless keepConflicts is false. The stored version is theirs as sent (not merged):
 *    merging would let the winner's node later send a version that looks like a
 *    descendant to a node still holding the loser, which would overwrite it unsaved.
 */
export function applyRemoteChange(
  local: IndexRecord | undefined,
  remoteIn: IndexRecord,
  opts: RemoteOptions = {},
): RemoteDecision {
  const remote = fromRemote(remoteIn, opts.nowMs);
  if (local === undefined) {
    if (remote.deleted) return { action: 'adopt', record: remote };
    return { action: 'apply', record: remote, needsContent: needsContent(undefined, remote) };
  }
  const ord = compare(local.version, remote.version);
  if (ord === 'equal') return { action: 'ignore', reason: 'equal' };
  if (ord === 'after') return { action: 'ignore', reason: 'older' };
  if (ord === 'before') {
    if (sameState(local, remote, opts)) return { action: 'adopt', record: keepLocalStat(local, remote) };
    return { action: 'apply', record: remote, needsContent: needsContent(local, remote) };
  }
  // concurrent
  if (sameState(local, remote, opts)) {
    return { action: 'adopt', record: { ...keepLocalStat(local, remote), version: merge(local.version, remote.version) } };
  }
  if (pickWinner(local.version, remote.version) === 'a') return { action: 'ignore', reason: 'concurrent-local-wins' };
  const apply: RemoteDecision = { action: 'apply', record: remote, needsContent: needsContent(local, remote) };
  if (opts.keepConflicts === false || local.deleted) return apply;
  const l = local.entry;
  // directories hold no content of their own: their children are separate records
  if (l.kind === 'dir' && (remote.deleted || remote.entry.kind === 'dir')) return apply;
  // same bytes, other attributes: nothing would be lost
  const r = remote.entry;
  if (!remote.deleted && l.kind === 'file' && r.kind === 'file' && l.hash !== undefined && l.hash === r.hash) return apply;
  const keepLocalAs = conflictName(l.path, new Date(maxCounter(local.version)), lastWriter(local.version));
  return { action: 'conflict', record: remote, keepLocalAs, needsContent: needsContent(undefined, remote) };
}

/** Adopting a remote version for content we already have: keep our stat (inode etc.). */
function keepLocalStat(local: IndexRecord, remote: IndexRecord): IndexRecord {
  if (remote.deleted) return remote;
  return { entry: { ...remote.entry, ino: local.entry.ino, uid: local.entry.uid, gid: local.entry.gid }, version: remote.version };
}

export interface RemoteMovePlan {
  from: RemoteDecision;
  to: RemoteDecision;
  /**
   * The new path's content is already here at the old path (same hash, or the same
   * directory): rename it (when the old path is being deleted anyway) or copy it,
   * instead of fetching it from the peer.
   */
  localSource?: { path: string; rename: boolean };
}

/** A move from a peer: a tombstone for the old path and a record for the new one. */
export function planRemoteMove(
  index: TreeIndex,
  fromTombstone: IndexRecord,
  toRecord: IndexRecord,
  opts: RemoteOptions = {},
): RemoteMovePlan {
  const fromPath = fromTombstone.entry.path;
  const localFrom = index.get(fromPath);
  const plan: RemoteMovePlan = {
    from: applyRemoteChange(localFrom, fromTombstone, opts),
    to: applyRemoteChange(index.get(toRecord.entry.path), toRecord, opts),
  };
  const t = plan.to;
  if ((t.action === 'apply' || t.action === 'conflict') && !t.record.deleted && isLive(localFrom)) {
    const want = t.record.entry;
    const reusable =
      (want.kind === 'file' && t.needsContent && localFrom.entry.kind === 'file' && localFrom.entry.hash === want.hash) ||
      (want.kind === 'dir' && localFrom.entry.kind === 'dir');
    if (reusable) plan.localSource = { path: fromPath, rename: plan.from.action === 'apply' };
  }
  return plan;
}

// ---------------------------------------------------------------------------------------
// Tombstones

/**
 * Tombstones older than keepMs (by the local time they were recorded): forget them.
 * A peer that stays away longer than keepMs may bring such a file back, which is why
 * the time is configurable; live records are never expired.
 */
export function expiredTombstones(index: TreeIndex, nowMs: number, keepMs: number): string[] {
  const out: string[] = [];
  if (index instanceof CompactIndex) {
    for (const [p, atMs] of index.tombstones()) if (nowMs - atMs >= keepMs) out.push(p);
    return out;
  }
  for (const [p, rec] of index) if (rec.deleted && nowMs - rec.deleted.atMs >= keepMs) out.push(p);
  return out;
}

/** Live files in the index (what `omirr status` shows); a CompactIndex keeps the count. */
export function liveFileCount(index: TreeIndex): number {
  if (index instanceof CompactIndex) return index.fileCount();
  let n = 0;
  for (const r of index.values()) if (!r.deleted && r.entry.kind === 'file') n++;
  return n;
}

/** Stores records in the index (by their entry path); returns the index for chaining. */
export function putRecords(index: TreeIndex, records: Iterable<IndexRecord>): TreeIndex {
  for (const r of records) index.set(r.entry.path, r);
  return index;
}
