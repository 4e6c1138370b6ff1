// The replica's executor: carries out the planner's actions (src/replica/planner.ts) on a
// tree, through the small file-system interface of ports.ts (node:fs in the daemon, the
// simulation's in-memory file system in test/sim/), with the no-clobber primitives of
// placement.ts. The daemon (src/daemon/treeReplica.ts) and the simulation run this same
// code; what they wire around it (the index store, the watcher, the outboxes, the fetches)
// differs.
//
// One round plans every pending record against the index and carries it out at once:
//   plan (I2: after the freshness ingest) -> [the sim's user may act here] -> journalled?
//   -> re-check and change the path (I1) -> applied / adopted / kept / changed / failed
// Records whose path changed locally meanwhile ('changed') are ingested by the caller as
// local versions and planned again in the next round (up to PLACE_ROUNDS).
//
// The round is a synchronous generator: it yields (the path) after each plan, before the
// action. The daemon drains it in one go (nothing runs between a plan and its placing: the
// index cannot move under it); the simulation steps it, letting users write, and nodes
// crash, between the plan and the change, which the re-check (I1) must catch.
import type { IndexRecord, TreeIndex } from '../core/treeIndex.js';
import { assertSafeRelPath, parentOf } from '../engine/paths.js';
import type { RemoteAction } from './planner.js';
import { keepDirAside, matchesExpect, placeObject, placeSymlink, realDirChain, removeObject, type PlaceOutcome } from './placement.js';
import type { ReplicaFs } from './ports.js';
import { deepestFirst } from './recordOrder.js';

/**
 * A record whose path keeps changing locally while it is being placed is decided again
 * (after the local change became a version) up to this many times in one batch; past that
 * the batch is refused and sent again later.
 */
export const PLACE_ROUNDS = 5;

/** What the caller of a round provides: the plan, the index, and where the outcomes go. */
export interface RoundContext {
  index: TreeIndex;
  /** planRemoteRecord with the tree's options (the content staged or not). */
  plan(rec: IndexRecord): RemoteAction;
  /** The staged content of a file record at `path` (an absolute path), or undefined: fetch it first. */
  staged(path: string): string | undefined;
  /** Is this record in the apply journal already? Nothing changes the disk before it is (durability). */
  journalled(rec: IndexRecord): boolean;
  /** An 'adopt': store the record as ours (keeping the local inode); returns what was stored. */
  adopt(path: string, rec: IndexRecord): IndexRecord;
  /** The path's failed item (if any) is settled by `by`, when `by` beats it (FailedItems.resolved). */
  resolved(path: string, by: IndexRecord['version'] | undefined): void;
  /** The record could not be applied: a failed item, retried later; never holds up the rest. */
  failed(rec: IndexRecord, err: unknown): void;
  /** A local loser was kept under `keptAs` (it becomes a local version). */
  conflict(path: string, keptAs: string): void;
}

/** What a round did (accumulated over rounds by passing the same object). */
export interface RoundOutcome {
  /** Records now true on disk: stored with the local stat and relayed by the caller. */
  applied: IndexRecord[];
  /** Records adopted (nothing to write): relayed. */
  adopted: IndexRecord[];
  /** File records whose bytes must be staged first (I5). */
  fetches: IndexRecord[];
  /** Conflict copies made: local versions now. */
  kept: string[];
  /** Directory deletes not done (not empty here): stored as received, then the path is ingested again. */
  notRemoved: IndexRecord[];
  /** Records of paths that changed locally meanwhile: ingest them, then plan again. */
  changed: IndexRecord[];
  /** Records that now change the disk but were not journalled (their planned record): journal it, then plan again. */
  unjournalled: IndexRecord[];
}

export function emptyOutcome(): RoundOutcome {
  return { applied: [], adopted: [], fetches: [], kept: [], notRemoved: [], changed: [], unjournalled: [] };
}

export class ReplicaExecutor {
  constructor(
    readonly fs: ReplicaFs,
    /** The tree root (absolute). */
    readonly root: string,
    /** Mirror owner and group (asked at each use: it follows the configuration). */
    private readonly owner: () => boolean = () => false,
  ) {}

  /**
   * One round over `pending` (deletes after the rest: a directory's contents leave before
   * it does); `changed` and `unjournalled` of `out` are this round's, the caller takes them
   * for the next. Yields each path between its plan and its change.
   */
  *round(pending: IndexRecord[], ctx: RoundContext, out: RoundOutcome): Generator<string, void> {
    out.changed = [];
    out.unjournalled = [];
    const rmdirs: IndexRecord[] = [];
    for (const r of [...pending].sort((a, b) => (a.deleted ? 1 : 0) - (b.deleted ? 1 : 0))) {
      const path = r.entry.path;
      const a = ctx.plan(r);
      yield path; // planned; the path may change before it is carried out (re-checked: I1)
      if (a.op === 'ignore') {
        ctx.resolved(path, ctx.index.get(path)?.version);
        continue;
      }
      if (a.op === 'adopt') {
        out.adopted.push(ctx.adopt(path, a.record));
        ctx.resolved(path, a.record.version);
        continue;
      }
      if (a.op === 'fetch' || (a.op === 'place' && a.record.entry.kind === 'file' && ctx.staged(path) === undefined)) {
        out.fetches.push(a.record); // the bytes first; planned again with them (I5)
        continue;
      }
      // durability before change: a record planned 'ignore' when the batch was journalled
      // may change the disk after a local change was ingested (a directory's tombstones)
      if (!ctx.journalled(a.record)) {
        out.unjournalled.push(r);
        continue;
      }
      if (a.op === 'rmdir') {
        rmdirs.push(a.record); // after the round, deepest first
        continue;
      }
      try {
        const o = this.execute(a, ctx, out.kept);
        if (!o.done) {
          out.changed.push(r);
          continue;
        }
        out.applied.push(a.record);
        ctx.resolved(path, a.record.version);
      } catch (err) {
        ctx.failed(a.record, err);
      }
    }
    for (const r of rmdirs.sort(deepestFirst)) {
      const o = this.removeDir(r.entry.path);
      if (o === 'not-empty') out.notRemoved.push(r);
      else if (o instanceof Error) ctx.failed(r, o);
      else {
        out.applied.push(r);
        ctx.resolved(r.entry.path, r.version);
      }
    }
  }

  /**
   * Carries out one action that changes the path ('place', 'remove', 'mkdir', 'setattr'),
   * re-checking it as it changes it (I1). `kept` receives the conflict copies made.
   */
  execute(a: Exclude<RemoteAction, { op: 'ignore' | 'adopt' | 'fetch' | 'rmdir' }>, ctx: Pick<RoundContext, 'staged' | 'conflict'>, kept: string[]): PlaceOutcome {
    const { fs, root } = this;
    const path = a.path;
    assertSafeRelPath(path);
    const keep = 'keep' in a && a.keep ? () => a.keep! : undefined;
    const note = (o: PlaceOutcome): PlaceOutcome => {
      if (o.done && o.keptAs !== undefined) {
        kept.push(o.keptAs);
        ctx.conflict(path, o.keptAs);
      }
      return o;
    };
    switch (a.op) {
      case 'remove':
        if (!realParents(fs, root, path)) return { done: true }; // gone with its parent
        return note(removeObject(fs, root, path, a.expect, keep));
      case 'mkdir': {
        // a file or link losing to a directory: removed, or kept under a conflict name
        if (a.expect.kind !== 'dir' && a.expect.kind !== 'absent') {
          const o = note(removeObject(fs, root, path, a.expect, keep));
          if (!o.done) return o;
        }
        realDirChain(fs, root, parentOf(path));
        const abs = `${root}/${path}`;
        try {
          fs.mkdir(abs, { mode: 0o700 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          // something is there already: a directory is what we want; anything else is a
          // local create, never removed unseen (I1)
          if (!matchesExpect(fs, abs, { kind: 'dir' })) return { done: false, changed: 'appeared' };
        }
        fs.setAttrs(abs, { mode: a.record.entry.mode });
        return { done: true };
      }
      case 'setattr': {
        if (!realParents(fs, root, path)) return { done: false, changed: 'vanished' };
        const abs = `${root}/${path}`;
        if (!matchesExpect(fs, abs, a.expect)) return { done: false, changed: 'edited' };
        this.setAttrs(a.record);
        return { done: true };
      }
      case 'place': {
        if (a.dirAside) {
          // a directory in the way, losing to a file or link: renamed aside with its subtree
          const dirKept = keepDirAside(fs, root, path, a.dirAside);
          kept.push(dirKept);
          ctx.conflict(path, dirKept);
        }
        const e = a.record.entry;
        if (e.kind === 'symlink') return note(placeSymlink(fs, root, path, e.target ?? '', a.expect, keep));
        return note(placeObject(fs, root, path, ctx.staged(path)!, a.expect, keep));
      }
    }
  }

  /** The record's mode and mtime (and owner, when mirrored) on the object at its path, unchecked. */
  setAttrs(r: IndexRecord): void {
    const e = r.entry;
    this.fs.setAttrs(`${this.root}/${e.path}`, {
      mode: e.mode,
      mtimeMs: e.mtimeMs,
      ...(e.mtimeNs !== undefined ? { mtimeNs: e.mtimeNs } : {}),
      ...(this.owner() ? { uid: e.uid, gid: e.gid } : {}),
    });
  }

  /** A directory delete: done, 'not-empty' (what is in it stays, and comes back as local versions), or the error. */
  removeDir(path: string): 'done' | 'not-empty' | Error {
    try {
      assertSafeRelPath(path);
      const abs = `${this.root}/${path}`;
      let st;
      try {
        st = this.fs.lstat(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'done';
        throw err;
      }
      // replaced by a file or link meanwhile: a local change, kept (it becomes a version)
      if (!st.isDirectory()) return 'not-empty';
      this.fs.rmdir(abs);
      return 'done';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'not-empty';
      if (code === 'ENOENT') return 'done';
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}

/**
 * Is every directory above `rel` a real directory? False when one is missing or is not a
 * directory (then `rel` cannot exist); throws when one is a symlink: nothing is changed
 * through a link planted in the tree. Unlike realDirChain, makes none.
 */
function realParents(fs: ReplicaFs, root: string, rel: string): boolean {
  for (let i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
    let st;
    try {
      st = fs.lstat(`${root}/${rel.slice(0, i)}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw err;
    }
    if (st.isSymbolicLink()) throw Object.assign(new Error(`${rel.slice(0, i)}: is a symlink in the destination`), { code: 'ENOTDIR' });
    if (!st.isDirectory()) return false;
  }
  return true;
}

/** Runs a round to its end without stopping between plan and change (the daemon). */
export function drain(g: Generator<string, void>): void {
  for (let s = g.next(); !s.done; s = g.next());
}

