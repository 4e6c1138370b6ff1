// The replica's planner: pure functions from (the index, what is on disk, the incoming
// records, the time) to the actions that carry them out. No I/O: the executor
// (src/daemon/treeReplica.ts over node:fs, test/sim/ over an in-memory file system)
// performs the actions with the no-clobber primitives of src/replica/placement.ts.
//
// Invariants the executor relies on (each one is asserted by the simulation, test/sim/):
//  I1. An action that changes a path carries `expect`, the state the index says the path is
//      in. The executor re-checks it at the moment of the change (after moving the old
//      object aside); a mismatch means a local change not seen yet: the action is not
//      performed, the path is ingested as a local version, and the record planned again.
//      So no local write is ever replaced or removed unseen.
//  I2. A record is planned against the index AFTER every local change the executor saw is
//      in it; 'ignore' is never relayed, everything else is (after it is done).
//  I3. A concurrent remote winner over local content plans `keep`: the loser's names, the
//      shared conflict name first (every node derives the same, so copies merge), numbered
//      fallbacks after it (keepAside): a loser always has a name, nothing ever waits for one.
//  I4. Planning is deterministic: the same index and record give the same action on every
//      node (the tie-breaks are pickWinner's total order and the derived conflict names).
//  I5. A file whose bytes are not here (`fetch`) is planned again once they are (the index
//      may have moved on while they travelled).
import { conflictName } from '../core/conflict.js';
import {
  applyLocalChange,
  applyLocalDelete,
  applyRemoteChange,
  expectOf,
  inSubtree,
  isLive,
  numberedName,
  type AttrOptions,
  type IndexRecord,
  type KeepName,
  type PathExpect,
  type RemoteDecision,
  type RemoteOptions,
  type TreeIndex,
} from '../core/treeIndex.js';
import type { Entry } from '../core/entry.js';
import { compare, lastWriter, maxCounter, orderKeyCompare, pickWinner } from '../core/version.js';
import { assertSafeRelPath } from '../engine/paths.js';

export type RemoteAction =
  /** Nothing to do or relay (equal, older, or ours wins a conflict). */
  | { op: 'ignore'; path: string; reason: string }
  /** Same state here already: store the record (keeping the local inode), relay it. */
  | { op: 'adopt'; path: string; record: IndexRecord }
  /** The file's bytes are needed first: stage them, then plan again (I5). */
  | { op: 'fetch'; path: string; record: IndexRecord }
  /**
   * Put the staged file (or the new symlink) at `path`, which must be `expect`; `keep`:
   * the local loser's names; `dirAside`: a directory in the way is renamed to one of these
   * names first (with its subtree).
   */
  | { op: 'place'; path: string; record: IndexRecord; expect: PathExpect; keep?: KeepName[]; dirAside?: KeepName[] }
  /** Remove the file or symlink at `path` (must be `expect`); `keep`: keep it under a conflict name instead. */
  | { op: 'remove'; path: string; record: IndexRecord; expect: PathExpect; keep?: KeepName[] }
  /** Remove the directory at `path` if it is empty (otherwise what is in it comes back as local versions). */
  | { op: 'rmdir'; path: string; record: IndexRecord }
  /** Make the directory (a file or link in the way is removed first, or kept with `keep`). */
  | { op: 'mkdir'; path: string; record: IndexRecord; expect: PathExpect; keep?: KeepName[] }
  /** Same bytes, other mode or mtime. */
  | { op: 'setattr'; path: string; record: IndexRecord; expect: PathExpect };

/** The conflict name every node derives for `loser` at `path` (its time and writer). */
export function sharedConflictName(path: string, loser: IndexRecord): string {
  return conflictName(path, new Date(maxCounter(loser.version)), lastWriter(loser.version));
}

/** The loser's conflict name with a tag after the node (shortened like any conflict name). */
function taggedConflictName(path: string, loser: IndexRecord, tag: string): string {
  return conflictName(path, new Date(maxCounter(loser.version)), `${lastWriter(loser.version)}-${tag}`);
}

/**
 * The names to keep `loser` (our record of `path`) under, best first (I3):
 *  - `copy`, the name every node derives from the losing version;
 *  - for a file, the same with the first 8 then 16 hex digits of its hash after the node:
 *    another loser of the same writer in the same second took `copy`, and every node facing
 *    that collision derives these alike.
 * A name already holding exactly this loser (the copy another node made, mirrored here, as
 * our index knows it) counts as kept. Past these, keepAside numbers its names.
 */
export function conflictKeepNames(index: TreeIndex, path: string, copy: string, loser: IndexRecord | undefined): KeepName[] {
  const names = [copy];
  const hash = isLive(loser) && loser.entry.kind === 'file' ? loser.entry.hash : undefined;
  if (hash !== undefined) names.push(taggedConflictName(path, loser!, hash.slice(0, 8)), taggedConflictName(path, loser!, hash.slice(0, 16)));
  return names.map((name) => {
    assertSafeRelPath(name);
    const there = index.get(name);
    const same =
      isLive(there) &&
      isLive(loser) &&
      there.entry.kind === loser.entry.kind &&
      (loser.entry.kind === 'file' ? there.entry.hash !== undefined && there.entry.hash === hash && there.entry.size === loser.entry.size : there.entry.target === loser.entry.target);
    return same ? { name, sameIf: expectOf(there) } : { name };
  });
}

/** The names a directory losing to a file or link is moved to (always: deleting it is never done). */
function dirAsideNames(index: TreeIndex, path: string, d: RemoteDecision, local: IndexRecord): KeepName[] {
  const copy = d.action === 'conflict' ? d.keepLocalAs : sharedConflictName(path, local);
  return [{ name: copy }, ...Array.from({ length: 3 }, (_, i) => ({ name: numberedName(path, i + 2) }))].filter((k) => !isLive(index.get(k.name)));
}

/**
 * One record from a peer against our index: what to do (I1-I5). `staged`: its bytes are
 * here (a file's content was written to the staging area), so a file can be placed.
 */
export function planRemoteRecord(index: TreeIndex, remote: IndexRecord, opts: RemoteOptions, staged = false): RemoteAction {
  const path = remote.entry.path;
  const local = index.get(path);
  const d = applyRemoteChange(local, remote, opts);
  if (d.action === 'ignore') return { op: 'ignore', path, reason: d.reason };
  if (d.action === 'adopt') return { op: 'adopt', path, record: adoptRecord(local, d.record) };
  const record = d.record;
  const expect = expectOf(local);
  const keep = d.action === 'conflict' ? conflictKeepNames(index, path, d.keepLocalAs, local) : undefined;
  if (record.deleted) {
    if (expect.kind === 'dir') return { op: 'rmdir', path, record };
    if (expect.kind === 'absent') return { op: 'adopt', path, record };
    return { op: 'remove', path, record, expect, ...(keep ? { keep } : {}) };
  }
  const kind = record.entry.kind;
  if (kind === 'dir') return { op: 'mkdir', path, record, expect, ...(keep ? { keep } : {}) };
  if (kind === 'file' && !d.needsContent) return { op: 'setattr', path, record, expect };
  if (kind === 'file' && !staged) return { op: 'fetch', path, record };
  return {
    op: 'place',
    path,
    record,
    expect: expect.kind === 'dir' ? { kind: 'absent' } : expect,
    ...(keep ? { keep } : {}),
    ...(expect.kind === 'dir' ? { dirAside: keep ?? dirAsideNames(index, path, d, local!) } : {}),
  };
}

/** An adopted record keeps the local inode (what the disk has is ours). */
function adoptRecord(local: IndexRecord | undefined, record: IndexRecord): IndexRecord {
  return !record.deleted && isLive(local) ? { ...record, entry: { ...record.entry, ino: local.entry.ino } } : record;
}

/**
 * One record per path from a sender's batch: the one that wins by pickWinner's order (of
 * equal versions the later), at the place it came in. In a sender's normal stream a later
 * record of a path always beats the earlier ones (each is a descendant of, or a conflict
 * winner over, what its index held), so this is the last one. But a stream can repeat an
 * older record after a newer one: a node sends its journalled own records again after a
 * crash (replayJournal's `ours`), after the records it relayed since. Taking the last one
 * then would plan a stale record and silently drop the winner in the same batch, which the
 * sender counts as delivered: the simulation's seed 8214 (a peer's symlink, batched between
 * the sender's older write and delete of the same path, never reached the third node).
 */
export function lastPerPath<T extends { rec: IndexRecord }>(changes: T[]): T[] {
  const best = new Map<string, T>();
  for (const c of changes) {
    const prev = best.get(c.rec.entry.path);
    if (prev && orderKeyCompare(c.rec.version, prev.rec.version) < 0) continue;
    best.delete(c.rec.entry.path);
    best.set(c.rec.entry.path, c);
  }
  return [...best.values()];
}

/** What a local observation of one path means: a new version to store and send, or nothing. */
export type LocalObservation = { path: string; entry: Entry } | { path: string; gone: true };

/**
 * Local observations (files with their hashes) against the index: the records that changed,
 * to store and send (a vanished directory takes everything the index had below it along).
 */
export function planLocalBatch(index: TreeIndex, seen: LocalObservation[], node: string, nowMs: number, opts: AttrOptions = {}): IndexRecord[] {
  const out: IndexRecord[] = [];
  const done = new Set<string>();
  for (const o of seen) {
    if (done.has(o.path)) continue;
    done.add(o.path);
    const prev = index.get(o.path);
    if ('gone' in o) {
      if (!isLive(prev)) continue;
      const under: IndexRecord[] = [];
      if (prev.entry.kind === 'dir') for (const [q, r] of index) if (q !== o.path && isLive(r) && inSubtree(q, o.path)) under.push(r);
      for (const r of [...under, prev]) {
        const t = applyLocalDelete(r, node, nowMs);
        if (t) out.push(t);
      }
      continue;
    }
    const { record, changed } = applyLocalChange(prev, o.entry, node, nowMs, opts);
    if (changed) out.push(record);
  }
  return out;
}

/**
 * After a crash: the journalled records (src/replica/journal.ts), in journal order, against
 * the saved index. A record the index already covers (equal, older, or a concurrent loser
 * by pickWinner) is skipped. Our own (`peer` ''), already on its way to the peers, is taken
 * whatever the disk holds: the initial scan then makes what changed since a version that
 * descends from it. A peer's is taken when the disk holds exactly its state (`onDisk`): it
 * was applied; otherwise it becomes a failed item, planned again by the retry. Records are
 * stored without their inode: the initial scan rehashes those files once.
 */
export function replayJournal(
  index: TreeIndex,
  entries: Array<{ peer: string; rec: IndexRecord }>,
  onDisk: (rec: IndexRecord) => boolean,
): { ours: IndexRecord[]; failed: Array<{ peer: string; rec: IndexRecord }>; settled: string[]; adopted: number } {
  const ours: IndexRecord[] = [];
  const settled = new Set<string>();
  const failed = new Map<string, { peer: string; rec: IndexRecord }>();
  let adopted = 0;
  for (const { peer, rec } of entries) {
    const path = rec.entry.path;
    const have = index.get(path);
    if (have) {
      const c = compare(have.version, rec.version);
      if (c === 'equal' || c === 'after' || (c === 'concurrent' && pickWinner(have.version, rec.version) === 'a')) continue;
    }
    const { ino: _ino, ...entry } = rec.entry;
    const stored: IndexRecord = { ...rec, entry };
    // an earlier journalled peer record still failing goes only when this one beats it (a
    // concurrent local version that loses to it must not drop it: see FailedItems.resolved)
    const settles = (): void => {
      const f = failed.get(path);
      if (f && orderKeyCompare(rec.version, f.rec.version) < 0) return;
      failed.delete(path);
      settled.add(path);
    };
    if (peer === '') {
      index.set(path, stored);
      ours.push(rec);
      settles();
      adopted++;
    } else if (onDisk(rec)) {
      index.set(path, stored);
      settles();
      adopted++;
    } else {
      const f = failed.get(path);
      if (!f || orderKeyCompare(rec.version, f.rec.version) >= 0) failed.set(path, { peer, rec });
      settled.delete(path);
    }
  }
  // `settled`: paths whose saved out-of-sync item the journal may have superseded; the caller
  // drops that item only when the index's record now beats it (FailedItems.resolved's `by`):
  // a local version written over a received file before a crash is concurrent with the
  // received record (the index never took it), and may lose to it (seed 7182)
  return { ours, failed: [...failed.values()], settled: [...settled], adopted };
}
