// The watcher's aggregator: everything the tree watcher DECIDES, with no I/O (Syncthing
// splits lib/fs, the OS notification backend, from lib/watchaggregator the same way). The
// backend (src/actors/watcher.ts) owns the fs.watch handles, the timers and the lstat
// calls; it feeds this module raw events, event-loop turn counts, lstat results and the
// time, and carries out what comes back: the paths to lstat, the rescans to ask for, the
// watches to drop, the directories to arm and list, the batch to report.
//
//   raw event (dir, name) -> pending paths (coalesced per path) -> takePending() -> lstat
//     -> classify(paths, stats) -> { changes, moves } + watches to drop + new directories
//   a rescan request -> pending rescans (a subtree covers everything below it)
//   events per inotify read >= overflowSuspectEvents -> doubt -> once quiet: rescan ''
import { pairMoves, type MovePair, type SeenPath, type WatchKind } from '../core/movePairs.js';

/** omirr's own files (temporary files of transfers, state) are never reported. */
export function isOmirrOwnName(name: string): boolean {
  return name.startsWith('.omirr-');
}

export interface StatLite {
  kind: Exclude<WatchKind, 'gone'>;
  ino: number;
  /** A file's size and mtime, where the backend's lstat gives them (for `ownEcho`). */
  size?: number;
  mtimeMs?: number;
  mtimeNs?: number;
}

/** Result of a batched lstat: StatLite, 'gone' (ENOENT/ENOTDIR) or an error code. */
export type StatResult = StatLite | 'gone' | { error: string };

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

export function inSubtree(p: string, root: string): boolean {
  return root === '' || p === root || p.startsWith(root + '/');
}

/**
 * What the aggregator needs to know of the backend's watches while it classifies a batch.
 * `dropSubtree` is called as soon as a path turns out to be gone or replaced, so that the
 * rest of the same batch sees the watches as they are after it (a replaced directory is
 * then a new directory to arm).
 */
export interface WatchTable {
  /** The inode of the watched directory `dir`, or undefined when it is not watched. */
  watchedIno(dir: string): number | undefined;
  /** `dir` is recorded as unwatched (could not be armed). */
  isUnwatched(dir: string): boolean;
  /** Retire every watch (and unwatched mark) in the subtree of `dir`. */
  dropSubtree(dir: string): void;
}

export interface Classified {
  /** The batch to report (apply moves first); undefined when nothing was seen. */
  report?: { changes: SeenPath[]; moves: MovePair[] };
  /** Directories to arm (then list: nothing created in them before the watch is missed). */
  newDirs: Array<{ dir: string; ino: number }>;
  /** The root's own base name vanished: the backend checks whether the root is still the same. */
  rootInDoubt: boolean;
}

export interface AggregatorOptions {
  /** The root's base name (the root's own deletion or move is reported under it). */
  rootName: string;
  /** Events in one inotify read at or above this count raise the overflow doubt. */
  overflowSuspectEvents: number;
  /** A burst is over after this long without events. */
  quietMs: number;
  /** Names to ignore besides omirr's own '.omirr-*'. */
  ignoreName?: (name: string) => boolean;
  /** The inode a path had before it vanished (the daemon's index): pairs renames. */
  inodeOf?: (path: string) => number | undefined;
  /**
   * A file as lstat'ed after its event is exactly what the daemon itself just placed there
   * for a peer (inode, size, mtime to the microsecond): the event is the echo of that write
   * and is not reported. Asked once per event batch and path; the daemon forgets the write
   * when asked, so a later event on the path is reported (and checked as a local change).
   */
  ownEcho?: (path: string, st: StatLite) => boolean;
}

/** Bounded memory of inodes the watcher saw, for pairing renames the index cannot. */
export const INODE_CACHE_MAX = 200_000;

export class WatchAggregator {
  private pending = new Set<string>();
  private readonly pendingRescans = new Map<string, string>();
  private readonly inoCache = new Map<string, number>();
  private lastEventAt = 0;
  private doubt: string | null = null;
  /** Paths not reported because they were the echo of the daemon's own placing (ownEcho). */
  echoes = 0;

  constructor(private readonly opts: AggregatorOptions) {}

  ignored(name: string): boolean {
    return isOmirrOwnName(name) || (this.opts.ignoreName?.(name) ?? false);
  }

  /**
   * A raw event in the watched directory `dir` at time `now`. Returns false when it adds
   * nothing (an ignored name). An event without a name (libuv gives none only when it
   * cannot) asks for a rescan of the directory.
   */
  event(dir: string, filename: string | null | undefined, now: number): boolean {
    this.lastEventAt = now;
    if (filename === null || filename === undefined) {
      this.requestRescan(dir, 'event without a file name');
      return true;
    }
    if (this.ignored(filename)) return false;
    this.addPending(joinRel(dir, filename));
    return true;
  }

  addPending(path: string): void {
    this.pending.add(path);
  }

  /**
   * Empty regular files held back once (holdEmpty): a file is empty between its writer's
   * open(2) and first write(2), and reporting it then made a version of the empty file,
   * placed on every peer and replaced there by the written one moments later (two versions,
   * two placings per peer, the first parked as a replaced file: the slow tail of the
   * 16-peer bench). Held, the write's own event usually comes first and the file is
   * reported once, written; a file that stays empty is reported when the hold ends.
   */
  private readonly heldEmpty = new Set<string>();

  /**
   * Splits a stat'ed batch: the empty regular files seen for the first time are held back
   * (returned in `held`: the backend adds them to the pending paths after EMPTY_HOLD_MS);
   * everything else, and a held path seen again (its next event, or the hold's end), goes
   * on to classify now.
   */
  holdEmpty(paths: string[], stats: StatResult[]): { paths: string[]; stats: StatResult[]; held: string[] } {
    const held: string[] = [];
    const outPaths: string[] = [];
    const outStats: StatResult[] = [];
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i]!;
      const st = stats[i]!;
      if (this.heldEmpty.delete(p)) {
        // held once already: reported now, whatever it is
      } else if (typeof st === 'object' && !('error' in st) && st.kind === 'file' && st.size === 0) {
        this.heldEmpty.add(p);
        held.push(p);
        continue;
      }
      outPaths.push(p);
      outStats.push(st);
    }
    return held.length === 0 ? { paths, stats, held } : { paths: outPaths, stats: outStats, held };
  }

  /** The hold of `path` ended: pending again unless an event for it has been reported since. */
  releaseHeld(path: string): void {
    if (this.heldEmpty.has(path)) this.addPending(path);
  }

  /** The coalesced paths to lstat now (each once, in the order first seen). */
  takePending(): string[] {
    const paths = [...this.pending];
    this.pending = new Set();
    return paths;
  }

  hasWork(): boolean {
    return this.pending.size > 0 || this.pendingRescans.size > 0;
  }

  /** Asks for a rescan of `path`'s subtree; a pending rescan above it covers it, one below is replaced. */
  requestRescan(path: string, reason: string): void {
    for (const p of this.pendingRescans.keys()) if (inSubtree(path, p)) return; // already covered
    for (const p of [...this.pendingRescans.keys()]) if (inSubtree(p, path)) this.pendingRescans.delete(p);
    this.pendingRescans.set(path, reason);
  }

  /** The rescans to ask for now, each subtree once. */
  takeRescans(): Array<{ path: string; reason: string }> {
    const out = [...this.pendingRescans].map(([path, reason]) => ({ path, reason }));
    this.pendingRescans.clear();
    return out;
  }

  /**
   * One event-loop turn read `n` inotify events (every watcher of the process shares the
   * queue). Returns the doubt's reason when `n` says the kernel queue may have overflowed
   * (libuv drops IN_Q_OVERFLOW silently), and remembers it until quietCheck turns it into
   * a rescan of the whole tree.
   */
  turn(n: number, watching: boolean): string | null {
    if (n < this.opts.overflowSuspectEvents || !watching) return null;
    this.doubt = `${n} inotify events in one read: the kernel queue may have overflowed`;
    return this.doubt;
  }

  /**
   * While in doubt: 'rescan' (the whole tree, requested here) once quietMs passed without
   * events, else the time to wait before asking again; null when there is no doubt.
   */
  quietCheck(now: number): { waitMs: number } | 'rescan' | null {
    if (this.doubt === null) return null;
    const idle = now - this.lastEventAt;
    if (idle < this.opts.quietMs) return { waitMs: this.opts.quietMs - idle + 1 };
    const why = this.doubt;
    this.doubt = null;
    this.requestRescan('', why);
    return 'rescan';
  }

  /**
   * The lstat results of `paths` (taken by takePending): the batch to report, the watches
   * to drop (through `watches.dropSubtree`), the new directories to arm, the rescans to ask
   * for (an lstat error is never a delete: the parent is rescanned), and the renames paired
   * by inode (the old inode from the index, or from the inodes reported before).
   */
  classify(paths: string[], stats: StatResult[], watches: WatchTable): Classified {
    const changes: SeenPath[] = [];
    const newDirs: Array<{ dir: string; ino: number }> = [];
    let rootInDoubt = false;
    const known = (p: string) => watches.watchedIno(p) !== undefined || watches.isUnwatched(p);
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!;
      const st = stats[i]!;
      if (st === 'gone') {
        // the root's own deletion or move is reported under its base name
        if (path === this.opts.rootName) rootInDoubt = true;
        if (known(path)) watches.dropSubtree(path);
        changes.push({ path, kind: 'gone' });
        continue;
      }
      if ('error' in st) {
        // cannot tell what the path is: never report it as deleted; look again by rescan
        const slash = path.lastIndexOf('/');
        this.requestRescan(slash < 0 ? '' : path.slice(0, slash), `lstat ${path}: ${st.error}`);
        continue;
      }
      if (st.kind === 'dir') {
        const ino = watches.watchedIno(path);
        if (ino !== undefined && ino !== st.ino) watches.dropSubtree(path); // replaced by another directory
        if (!known(path)) newDirs.push({ dir: path, ino: st.ino });
      } else if (known(path)) {
        watches.dropSubtree(path); // a directory replaced by a file or link
      }
      // our own placing seen by the watcher: nothing to report (the watches are dropped
      // above all the same; the inode is remembered for pairing a later rename of it)
      if (st.kind === 'file' && this.opts.ownEcho?.(path, st)) {
        this.echoes++;
        this.rememberIno(path, st.ino);
        continue;
      }
      changes.push({ path, kind: st.kind, ino: st.ino });
    }
    if (changes.length === 0) return { newDirs, rootInDoubt };
    const { moves, rest } = pairMoves(changes, (p) => this.opts.inodeOf?.(p) ?? this.inoCache.get(p));
    for (const c of changes) {
      if (c.kind === 'gone') this.inoCache.delete(c.path);
      else if (c.ino !== undefined) this.rememberIno(c.path, c.ino);
    }
    return { report: { changes: rest, moves }, newDirs, rootInDoubt };
  }

  private rememberIno(path: string, ino: number): void {
    if (this.inoCache.size >= INODE_CACHE_MAX && !this.inoCache.has(path)) {
      const oldest = this.inoCache.keys().next().value;
      if (oldest !== undefined) this.inoCache.delete(oldest);
    }
    this.inoCache.set(path, ino);
  }
}
