// The watcher of one mirrored tree: one fs.watch handle (one inotify watch) per
// directory, armed before the directory is listed, so a file created at any moment is
// either seen by its event or found by the listing. It reports batches of changed paths
// (coalesced per path, kinds and inodes from a quick lstat, renames paired by inode) and
// asks for a rescan of a subtree whenever it cannot vouch for it: a watch that could not
// be armed (watch limit, EMFILE), a watch that failed, or a burst so large that the
// kernel queue may have overflowed unseen (libuv drops IN_Q_OVERFLOW silently).
// Why not fs.watch({ recursive: true }) and not a native watcher: docs/daemon-internals.md.
// This is the OS backend only: what to report, coalesce, rescan and doubt is decided by
// the pure aggregator (src/replica/watchAggregator.ts), which this module feeds.
import { lstat, lstatSync, readFileSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fromCallback, type EventObject } from 'xstate';
import type { MovePair, SeenPath, WatchKind } from '../core/movePairs.js';
import { inSubtree, isOmirrOwnName, joinRel, WatchAggregator, type StatLite, type StatResult, type WatchTable } from '../replica/watchAggregator.js';
import { decodeName, fsPath } from '../core/names.js';

export type { MovePair, SeenPath, WatchKind, StatLite, StatResult };
export { isOmirrOwnName };

export interface WatcherStatus {
  /** starting: arming watches; watching: every directory watched; degraded: some subtrees are not; failed: the root is gone. */
  state: 'starting' | 'watching' | 'degraded' | 'failed' | 'closed';
  watched: number;
  /** Top directories of subtrees without watches (tree-relative; '' is the root). */
  unwatched: string[];
  /** Why the watcher is degraded or failed, or the last doubt that led to a rescan. */
  reason?: string;
  events: number;
  rescans: number;
}

export type WatcherEvent =
  /** Every directory present at start is watched (or listed as unwatched): now scan the tree. */
  | { type: 'watch.ready'; watched: number; ms: number }
  /** A batch of changes: apply `moves` first, then `changes` (a path's state at lstat time). */
  | { type: 'watch.changes'; changes: SeenPath[]; moves: MovePair[] }
  /** Rescan this subtree ('' = the whole tree): the watcher cannot vouch for its events there. */
  | { type: 'watch.rescan'; path: string; reason: string }
  | { type: 'watch.status'; status: WatcherStatus }
  /** The tree root itself is gone or unwatchable: the watcher stops. */
  | { type: 'watch.failed'; error: string };

export interface WatcherOptions {
  /** Absolute path of the tree root. */
  root: string;
  /** At most this many directories are watched; beyond it arming fails like ENOSPC (tests; a budget per tree). */
  maxWatches?: number;
  /**
   * Events are collected this long before one lstat batch and one report. Default 0:
   * right after the current inotify read (lowest latency; bursts still batch up while
   * the previous batch is being stat'ed).
   */
  coalesceMs?: number;
  /**
   * Events read in one event-loop turn at or above this count mean the kernel queue was
   * (nearly) full and may have overflowed: the whole tree is rescanned once the burst is
   * quiet. Default: half of /proc/sys/fs/inotify/max_queued_events (16384 -> 8192).
   */
  overflowSuspectEvents?: number;
  /** A burst is over after this long without events (default 200 ms). */
  quietMs?: number;
  /** Retry arming unwatched subtrees, and ask for a rescan of them (polling), this often (default 30 s). */
  retryMs?: number;
  /** The inode a path had before it vanished (the daemon's index): pairs renames. */
  inodeOf?: (path: string) => number | undefined;
  /** Batched lstat of absolute paths (e.g. in a worker); default: async lstat, 64 at a time. */
  statBatch?: (absPaths: string[]) => Promise<StatResult[]>;
  /** Names to ignore besides omirr's own '.omirr-*'. */
  ignoreName?: (name: string) => boolean;
  /** A file event that is the echo of the daemon's own placing, as stat'ed after the event (the aggregator's ownEcho). */
  ownEcho?: (path: string, st: StatLite) => boolean;
  /** Keep the process alive while watching (default true; fs.watch's persistent). */
  persistent?: boolean;
}

const DEFAULT_QUEUE = 16384;

/**
 * How long an empty file is held back before it is reported (WatchAggregator.holdEmpty):
 * its writer's first write(2) usually comes within it, and the file then goes out once,
 * written. A file that stays empty reaches the peers this much later.
 */
export const EMPTY_HOLD_MS = 25;

function maxQueuedEvents(): number {
  try {
    const n = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : DEFAULT_QUEUE;
  } catch {
    return DEFAULT_QUEUE;
  }
}

function kindOf(st: Stats): StatLite['kind'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/** The default statBatch: lstat through libuv's thread pool, a bounded number at a time. */
export function lstatBatch(absPaths: string[], concurrency = 64): Promise<StatResult[]> {
  const out: StatResult[] = new Array(absPaths.length);
  let next = 0;
  let running = 0;
  return new Promise((resolve) => {
    if (absPaths.length === 0) return resolve(out);
    let done = 0;
    const launch = () => {
      while (running < concurrency && next < absPaths.length) {
        const i = next++;
        running++;
        lstat(fsPath(absPaths[i]!), (err, st) => {
          running--;
          if (err) out[i] = err.code === 'ENOENT' || err.code === 'ENOTDIR' ? 'gone' : { error: err.code ?? String(err) };
          else out[i] = { kind: kindOf(st), ino: st.ino };
          if (++done === absPaths.length) resolve(out);
          else launch();
        });
      }
    };
    launch();
  });
}

// Events read per event-loop turn, across every watcher of the process: libuv reads the
// one inotify descriptor until it is empty and dispatches all events before the check
// phase, so the count between two setImmediate callbacks is the queue depth it found.
// An overflow (which libuv drops without telling) can only happen when that depth
// reaches max_queued_events, and it affects every watch of the process.
const turn = { count: 0, scheduled: false, listeners: new Set<(n: number) => void>() };
function countEvent(): void {
  turn.count++;
  if (!turn.scheduled) {
    turn.scheduled = true;
    setImmediate(() => {
      const n = turn.count;
      turn.count = 0;
      turn.scheduled = false;
      for (const l of turn.listeners) l(n);
    });
  }
}

interface WatchSlot {
  handle: FSWatcher;
  ino: number;
  retired: boolean;
}

/**
 * Closing a watch is delayed: for RETIRE_MS it stays open, unref'd, and only counts its
 * events. Events already queued for it still occupy the process's one inotify queue;
 * counted, a flood of them still raises the overflow doubt of the watchers that remain,
 * and the watch list stays non-empty while the queue drains.
 */
const RETIRE_MS = 2000;
function retire(slot: WatchSlot): void {
  if (slot.retired) return;
  slot.retired = true;
  slot.handle.unref();
  setTimeout(() => slot.handle.close(), RETIRE_MS).unref();
}

class WatchLimitError extends Error {
  code = 'ENOSPC';
}

export class TreeWatcher {
  private readonly root: string;
  private readonly opts: Required<Omit<WatcherOptions, 'inodeOf' | 'maxWatches' | 'ignoreName' | 'ownEcho'>> & WatcherOptions;
  private readonly watches = new Map<string, WatchSlot>();
  private readonly unwatched = new Map<string, string>(); // dir -> reason
  /** The decisions: coalesced paths, rescans, overflow doubt, batch classification. */
  private readonly agg: WatchAggregator;
  /** The aggregator's view of the watches (it drops replaced subtrees mid-batch). */
  private readonly table: WatchTable = {
    watchedIno: (dir) => this.watches.get(dir)?.ino,
    isUnwatched: (dir) => this.unwatched.has(dir),
    dropSubtree: (dir) => this.unwatchSubtree(dir),
  };
  private flushTimer: NodeJS.Timeout | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private flushing = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private quietTimer: NodeJS.Timeout | null = null;
  /** The ends of holds of empty files (holdEmpty). */
  private readonly holdTimers = new Set<NodeJS.Timeout>();
  private state: WatcherStatus['state'] = 'starting';
  private reason: string | undefined;
  private events = 0;
  private rescans = 0;
  private closed = false;
  private readonly onTurn = (n: number) => {
    const doubt = this.agg.turn(n, this.watches.size > 0);
    if (doubt !== null) this.setDoubt(doubt);
  };

  constructor(
    opts: WatcherOptions,
    private readonly emit: (ev: WatcherEvent) => void,
  ) {
    this.root = opts.root;
    this.opts = {
      coalesceMs: 0,
      overflowSuspectEvents: Math.max(1, Math.floor(maxQueuedEvents() / 2)),
      quietMs: 200,
      retryMs: 30_000,
      statBatch: (p) => lstatBatch(p),
      persistent: true,
      ...opts,
    };
    this.agg = new WatchAggregator({
      rootName: basename(this.root),
      overflowSuspectEvents: this.opts.overflowSuspectEvents,
      quietMs: this.opts.quietMs,
      ...(opts.ignoreName ? { ignoreName: opts.ignoreName } : {}),
      ...(opts.inodeOf ? { inodeOf: opts.inodeOf } : {}),
      ...(opts.ownEcho ? { ownEcho: opts.ownEcho } : {}),
    });
  }

  /** Arms a watch on every directory (each before it is listed), then reports watch.ready. */
  async start(): Promise<void> {
    const t0 = performance.now();
    turn.listeners.add(this.onTurn);
    try {
      this.arm('');
    } catch (err) {
      this.fail(`cannot watch the tree root ${this.root}: ${(err as Error).message}`);
      return;
    }
    const queue: string[] = [''];
    while (queue.length > 0 && !this.closed) {
      const dir = queue.shift()!;
      if (!this.watches.has(dir)) continue;
      for (const sub of await this.listDirs(dir)) {
        if (this.closed) return;
        if (this.tryArm(sub, 'initial walk')) queue.push(sub);
      }
    }
    if (this.closed) return;
    this.state = this.unwatched.size > 0 ? 'degraded' : 'watching';
    this.emit({ type: 'watch.ready', watched: this.watches.size, ms: performance.now() - t0 });
    this.emitStatus();
    this.flushRescans();
  }

  status(): WatcherStatus {
    return {
      state: this.state,
      watched: this.watches.size,
      unwatched: [...this.unwatched.keys()].sort(),
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      events: this.events,
      rescans: this.rescans,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    turn.listeners.delete(this.onTurn);
    for (const w of this.watches.values()) retire(w);
    this.watches.clear();
    for (const t of [this.flushTimer, this.retryTimer, this.quietTimer, ...this.holdTimers]) if (t) clearTimeout(t);
    this.holdTimers.clear();
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.state = 'closed';
  }

  /** Try to arm unwatched subtrees now (also runs every retryMs). */
  retryNow(): void {
    if (this.closed) return;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    for (const [dir, why] of [...this.unwatched]) {
      this.unwatched.delete(dir);
      if (this.tryArm(dir, why)) {
        // armed now: list it (children go through the normal path) and rescan what was missed
        this.addPending(dir);
        this.requestRescan(dir, `watch armed again after: ${why}`);
      }
    }
    this.updateState();
    this.flushRescans();
  }

  // --- watches ------------------------------------------------------------------------

  private arm(dir: string, knownIno?: number): void {
    if (this.opts.maxWatches !== undefined && this.watches.size >= this.opts.maxWatches) {
      throw new WatchLimitError(`watch limit of ${this.opts.maxWatches} directories reached`);
    }
    const abs = dir === '' ? this.root : join(this.root, dir);
    const slot: WatchSlot = { handle: null as unknown as FSWatcher, ino: 0, retired: false };
    // names as bytes: one that is not UTF-8 is carried escaped (src/core/names.ts), not as U+FFFD
    slot.handle = watch(fsPath(abs), { persistent: this.opts.persistent, encoding: 'buffer' }, (eventType, filename) => {
      countEvent();
      if (!slot.retired) this.onEvent(dir, eventType, filename);
    });
    slot.handle.on('error', (err) => {
      if (!slot.retired) this.onWatchError(dir, err);
    });
    // the inode tells a re-created directory of the same name from the watched one
    // (one lstat per directory, not per file; skipped when the caller just stat'ed it)
    let ino = knownIno ?? 0;
    if (knownIno === undefined) {
      try {
        ino = lstatSync(fsPath(abs)).ino;
      } catch {
        // vanished right after arming: its parent's event reports it
      }
    }
    slot.ino = ino;
    this.watches.set(dir, slot);
  }

  /** Arms `dir`; on failure records it as unwatched and asks for a rescan. */
  private tryArm(dir: string, context: string, knownIno?: number): boolean {
    if (this.watches.has(dir)) return true;
    try {
      this.arm(dir, knownIno);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false; // gone again: its parent reports that
      const why = `${context}: cannot watch ${dir || '.'}: ${code ?? ''} ${(err as Error).message}`.trim();
      this.unwatched.set(dir, why);
      this.reason = why;
      this.requestRescan(dir, why);
      this.updateState();
      this.scheduleRetry();
      return false;
    }
  }

  private unwatchSubtree(dir: string): void {
    for (const [d, w] of this.watches) {
      if (inSubtree(d, dir)) {
        retire(w);
        this.watches.delete(d);
      }
    }
    for (const d of [...this.unwatched.keys()]) if (inSubtree(d, dir)) this.unwatched.delete(d);
  }

  private onWatchError(dir: string, err: Error): void {
    if (this.closed) return;
    const w = this.watches.get(dir);
    if (w) retire(w);
    this.watches.delete(dir);
    if (dir === '') {
      this.fail(`watch of the tree root failed: ${err.message}`);
      return;
    }
    const why = `watch of ${dir} failed: ${err.message}`;
    this.unwatched.set(dir, why);
    this.reason = why;
    this.requestRescan(dir, why);
    this.addPending(dir);
    this.updateState();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryNow();
    }, this.opts.retryMs);
    this.retryTimer.unref();
  }

  private async listDirs(dir: string): Promise<string[]> {
    const abs = dir === '' ? this.root : join(this.root, dir);
    try {
      const ents = await readdir(fsPath(abs), { withFileTypes: true, encoding: 'buffer' });
      const out: string[] = [];
      for (const d of ents) {
        if (!d.isDirectory()) continue; // names decoded for directories only: most entries are files
        const name = decodeName(d.name);
        if (!this.ignored(name)) out.push(joinRel(dir, name));
      }
      return out;
    } catch {
      return [];
    }
  }

  /** Lists a newly watched directory: every entry in it goes through the normal event path. */
  private async listInto(dir: string): Promise<void> {
    const abs = dir === '' ? this.root : join(this.root, dir);
    let names: string[];
    try {
      names = (await readdir(fsPath(abs), { encoding: 'buffer' })).map(decodeName);
    } catch {
      return;
    }
    if (this.closed) return;
    for (const n of names) if (!this.ignored(n)) this.addPending(joinRel(dir, n));
  }

  // --- events ---------------------------------------------------------------------------

  private ignored(name: string): boolean {
    return this.agg.ignored(name);
  }

  private onEvent(dir: string, _type: string, filename: string | Buffer | null): void {
    if (this.closed) return;
    this.events++;
    // libuv gives no name only when it cannot: the aggregator asks for a rescan of the directory
    // (a name that is not UTF-8 arrives as bytes: carried as U+DC80+byte, src/core/names.ts)
    const name = filename === null || filename === undefined ? null : typeof filename === 'string' ? filename : decodeName(filename);
    if (this.agg.event(dir, name, performance.now())) this.scheduleFlush();
  }

  private addPending(path: string): void {
    this.agg.addPending(path);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.flushImmediate || this.flushing || this.closed) return;
    const run = () => {
      this.flushTimer = null;
      this.flushImmediate = null;
      void this.flush();
    };
    // 0: flush right after the current inotify read has been dispatched (every event of
    // one read lands in one batch; while a batch's lstat runs, new events batch up anyway)
    if (this.opts.coalesceMs <= 0) this.flushImmediate = setImmediate(run);
    else this.flushTimer = setTimeout(run, this.opts.coalesceMs);
  }

  private async flush(): Promise<void> {
    if (this.closed) return;
    this.flushing = true;
    try {
      const paths = this.agg.takePending();
      if (paths.length > 0) await this.report(paths);
      this.flushRescans();
    } finally {
      this.flushing = false;
    }
    if (this.agg.hasWork()) this.scheduleFlush();
  }

  private async report(batch: string[]): Promise<void> {
    const stated = await this.opts.statBatch(batch.map((p) => join(this.root, p)));
    if (this.closed) return;
    // empty files are held back once (a writer between open and write: the aggregator's holdEmpty)
    const { paths, stats, held } = this.agg.holdEmpty(batch, stated);
    if (held.length > 0) {
      const t = setTimeout(() => {
        this.holdTimers.delete(t);
        if (this.closed) return;
        for (const p of held) this.agg.releaseHeld(p);
        if (this.agg.hasWork()) this.scheduleFlush();
      }, EMPTY_HOLD_MS);
      this.holdTimers.add(t);
    }
    if (paths.length === 0) return;
    const { report, newDirs, rootInDoubt } = this.agg.classify(paths, stats, this.table);
    if (rootInDoubt && !this.rootIsSame()) {
      this.fail(`the tree root ${this.root} was deleted or moved`);
      return;
    }
    if (report) this.emit({ type: 'watch.changes', changes: report.changes, moves: report.moves });
    // watch each new directory before listing it: nothing created in it can be missed
    for (const { dir, ino } of newDirs) {
      if (this.closed) return;
      if (this.tryArm(dir, 'new directory', ino)) await this.listInto(dir);
    }
  }

  private rootIsSame(): boolean {
    try {
      const st = lstatSync(this.root);
      return st.isDirectory() && st.ino === this.watches.get('')?.ino;
    } catch {
      return false;
    }
  }

  // --- doubt and rescans ------------------------------------------------------------------

  private requestRescan(path: string, reason: string): void {
    this.agg.requestRescan(path, reason);
    this.scheduleFlush();
  }

  private flushRescans(): void {
    if (this.state === 'starting' || this.closed) return; // the initial scan after ready covers everything
    for (const { path, reason } of this.agg.takeRescans()) {
      this.rescans++;
      this.emit({ type: 'watch.rescan', path, reason });
    }
  }

  /** The whole tree is in doubt: rescan it once the burst is over (quietMs without events). */
  private setDoubt(reason: string): void {
    this.reason = reason;
    this.emitStatus();
    if (this.quietTimer) return;
    const check = () => {
      this.quietTimer = null;
      if (this.closed) return;
      const q = this.agg.quietCheck(performance.now());
      if (q === null) return;
      if (q === 'rescan') this.scheduleFlush();
      else this.quietTimer = setTimeout(check, q.waitMs);
    };
    this.quietTimer = setTimeout(check, this.opts.quietMs);
  }

  private updateState(): void {
    if (this.state === 'starting' || this.state === 'failed' || this.state === 'closed') return;
    const next = this.unwatched.size > 0 ? 'degraded' : 'watching';
    if (next !== this.state) {
      this.state = next;
      this.emitStatus();
    }
  }

  private emitStatus(): void {
    if (!this.closed) this.emit({ type: 'watch.status', status: this.status() });
  }

  private fail(error: string): void {
    this.state = 'failed';
    this.reason = error;
    this.emitStatus();
    this.emit({ type: 'watch.failed', error });
    this.close();
    this.state = 'failed';
  }
}

export interface WatcherInput extends WatcherOptions {}

/** Events the watcher actor accepts: 'watch.retry' re-arms unwatched subtrees now. */
export type WatcherCommand = { type: 'watch.retry' };

/**
 * xstate callback actor: watches input.root and sends WatcherEvents to its parent.
 * Stopping the actor closes every watch.
 */
export const treeWatcherLogic = fromCallback<WatcherCommand | EventObject, WatcherInput>(({ input, sendBack, receive }) => {
  const w = new TreeWatcher(input, (ev) => sendBack(ev));
  receive((ev) => {
    if (ev.type === 'watch.retry') w.retryNow();
  });
  void w.start();
  return () => w.close();
});
