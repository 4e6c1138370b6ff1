// One mirrored tree of the daemon: its index (versions and tombstones), its LocalTree (every
// byte through the worker pools) and the rules that join local and remote changes.
//
//   local change (watcher batch or scan) -> stat (+ hash only what changed) -> version tick
//     -> index -> every peer's outbox that shares the tree
//   remote change (peer.changes) -> freshness check (unseen local edits become versions
//     first) -> applyRemoteChange decision -> write through the LocalTree (conflict copy
//     when concurrent) -> index updated with the local stat -> relayed to the other peers'
//     outboxes. File contents are fetched from the sender OFF the queue, into a staging
//     directory, and decided again when they are put in place (applyRemote).
//
// Everything that reads or writes the index runs on one serial queue, so a remote write is
// in the index (with its new inode, size and mtime) before the watcher's event for it is
// processed: that event then finds nothing new, and the change is not echoed back. Only
// the network wait for contents is outside it: a slow sender never holds up the tree.
// The pure decisions are in src/core/treeIndex.ts; the lifecycle (load, watch, scan, live,
// rescan) is the machine in src/machines/treeReplica.ts. The wiring of a remote batch around
// the executor (freshness, journal, rounds, store, relay) and the restart's journal replay
// are src/replica/replica.ts, which the simulation (test/sim/) runs too; this file gives it
// its ports (src/replica/ports.ts: node:fs, the system clock, the journal file, the outboxes)
// and the host's async parts (stat and hashing in the workers, the inline cache, the fetches).
// Beside this file: conflict copies (planned by src/replica/planner.ts, carried out by the
// executor, src/replica/executor.ts, with the placing of src/replica/placement.ts), the fetch
// staging (contentStaging.ts), the apply journal (src/replica/journal.ts), the failed items
// (src/replica/failures.ts), the write and send order (src/replica/recordOrder.ts).
// See docs/daemon-design.md and docs/daemon-internals.md.
import { statSync } from 'node:fs';
import { lstat, rename, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { sameMtime, type Entry } from '../core/entry.js';
import { CompactIndex } from '../core/compactIndex.js';
import type { DeltaRequest, PackRequest } from '../core/tree.js';
import type { MovePair, SeenPath } from '../core/movePairs.js';
import {
  applyLocalChange,
  applyLocalDelete,
  applyLocalMove,
  applyRemoteChange,
  diffScan,
  liveFileCount,
  expiredTombstones,
  inSubtree,
  isLive,
  putRecords,
  expectOf,
  type IndexRecord,
  type KeepName,
  type RemoteDecision,
  type TreeIndex,
} from '../core/treeIndex.js';
import { loadIndex, saveIndex, type LoadResult } from '../actors/indexStore.js';
import { LocalTree } from '../engine/localTree.js';
import { forEachSliced, mapSliced } from '../engine/turns.js';
import { assertRealDirChain, assertSafeRelPath, fsPath, parentOf } from '../engine/paths.js';
import { silentLogger, type Logger } from '../log.js';
import { lastPerPath, planRemoteRecord } from '../replica/planner.js';
import { ContentStager } from './contentStaging.js';
import { INLINE_CACHE_MAX, INLINE_ENTRY_OVERHEAD, INLINE_FILE_MAX, type InlineContentCache } from './inlineContent.js';
import { FailedItems, type FailedItem } from '../replica/failures.js';
import { ModeLedger } from '../replica/modes.js';
import type { TreeMode } from '../core/config.js';
import { EMPTY_VERSION, lastWriter } from '../core/version.js';
import { ApplyJournal } from '../replica/journal.js';
import { saveWait } from '../core/savePacing.js';
import { moveObject, removeObject } from '../replica/placement.js';
import { emptyOutcome } from '../replica/executor.js';
import { journalKey, Replica, runSteps, type DiskState, type ReplicaHost } from '../replica/replica.js';
import { nodeClock, nodeReplicaFs, type Clock, type Outbox, type RelayMoves, type ReplicaFs } from '../replica/ports.js';
import { ReplacedFiles } from '../replica/replacedFiles.js';
import { toWireRecord, type ContentFetcher, type ReplicaPort, type WireChange } from './peerProtocol.js';
import { sendOrder } from '../replica/recordOrder.js';
import { lostRootReason, TreeRootChangedError } from '../replica/rootGuard.js';
import { skipShadow } from '../core/plan.js';
import { statPaths } from './statPaths.js';

export const DEFAULT_TOMBSTONE_KEEP_MS = 30 * 24 * 3600 * 1000;

export interface TreeReplicaOptions {
  name: string;
  root: string;
  node: string;
  stateDir: string;
  log?: Logger;
  /** Keep the loser of a concurrent change as NAME.omirr-conflict-... (default true). */
  keepConflicts?: boolean;
  /** Mirror owner and group (only takes effect when running as root). */
  owner?: boolean;
  /** Tombstones are forgotten after this long (default 30 days). */
  tombstoneKeepMs?: number;
  /** Queue changes for the tree's peers (all of them, or all but `except`); resolves once durable. */
  send: (changes: WireChange[], except?: string) => Promise<void>;
  /** Whether `send(changes, except)` would reach any outbox (false: a relay has nothing to build). Default: true. */
  sendsBeyond?: (except: string) => boolean;
  /** The index is saved this long after a change (default 1000 ms), and on close. */
  saveDelayMs?: number;
  /**
   * The current keepConflicts / owner / tombstoneKeepMs, asked at each use (they follow the
   * configuration's `conflicts`, `owner` and `tombstones` across reloads); overrides the above.
   */
  settings?: () => ReplicaSettings;
  /**
   * Where small files' contents wait for their records to be delivered (sent inline, no
   * fetch round trip: src/daemon/inlineContent.ts). Without it every content is fetched.
   */
  inline?: InlineContentCache;
  /**
   * A way to fetch content from a connected peer that shares the tree: `preferred` when it
   * is connected, else another (revert, and retries before a peer has sent anything).
   */
  fetcher?: (preferred: string) => { peer: string; fetch: ContentFetcher } | undefined;
}

export interface ReplicaSettings {
  /** send-receive (default), send-only, receive-only: src/replica/modes.ts. */
  mode?: TreeMode;
  keepConflicts?: boolean;
  owner?: boolean;
  tombstoneKeepMs?: number;
}

export interface ReplicaStats {
  localChanges: number;
  remoteApplied: number;
  conflicts: number;
  scans: number;
  filesReceived: number;
  bytesReceived: number;
  /** Files and bytes received, by the peer they came from (the per-peer metrics). */
  receivedFrom: Record<string, { files: number; bytes: number }>;
  /** Scans by reason: initial (at start), burst (a watcher batch too large), requested (watcher doubt, RESCAN). */
  scansBy: Record<string, number>;
  /** peer.fetch requests made (content fetched from a sender). */
  fetches: number;
  /** Directories a peer renamed that were renamed here in one step (their contents carried along). */
  dirsMoved: number;
  /** Files a peer renamed that were renamed (or carried) here instead of fetched. */
  filesRenamed: number;
  /** Files whose content came inline with their change record (no fetch). */
  filesInline: number;
  /** Watcher events dropped as the echo of our own placing (TreeReplica.ownEcho). */
  echoesDropped: number;
  /** Records from peers that could not be applied, by reason (errno code or 'other'). */
  applyFailures: Record<string, number>;
}

/** The device of `root` now (undefined when it cannot be stat'ed). */
function rootDevice(root: string): number | undefined {
  try {
    return statSync(root).dev;
  } catch {
    return undefined;
  }
}

/** A burst's rescan reads its small files' bytes (for the inline cache) this much at a time. */
const KEEP_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * A burst's rescan sends its new files this many at a time, as each part is hashed (one
 * peer delivery's worth, daemon.ts batchRecords): the peers apply the first part while the
 * rest is hashed, rather than all of them waiting for the whole tree's hashing.
 */
export const BURST_SEND_FILES = 1024;

/**
 * How long a peer's batch waits for the index to load before it is refused (and sent again
 * after the sender's backoff): an index of a million files loads in a few seconds.
 */
const LOAD_WAIT_MS = 30_000;

/**
 * A scan walks this many entries on the main thread before the io threads take the rest
 * (LocalTreeOptions.scanHereEntries): a few ms of lstat, so a small tree's scan (every
 * daemon's at start) starts no io thread, ~0.1 s of CPU that an idle daemon spent to list an
 * empty or small tree; a big tree's walk stays on the threads, the event loop free for peers.
 */
const SCAN_HERE_ENTRIES = 2000;

/** Watcher batches larger than this are handled as one rescan (a worker walk beats many lstats). */
const RESCAN_INSTEAD_OF_BATCH = 4000;
/** Owners are mirrored only by root; the daemon's uid does not change while it runs (asked once, not per placing). */
const IS_ROOT = process.getuid?.() === 0;

interface BatchStart {
  /** Records whose content is staged in step 2 and decided again in step 3. */
  deferred: IndexRecord[];
  /** Those of them whose content came inline (staged without a fetch). */
  inline: Map<string, Buffer>;
  /** Paths that kept changing locally while being written: the batch is refused, sent again. */
  unsettled: string[];
  /** New path -> old path of the batch's paired renames. */
  movedFrom: Map<string, string>;
  /** Paths relayed in step 1. */
  relayed: Set<string>;
}

export class TreeReplica implements ReplicaPort {
  readonly name: string;
  /** The path as configured (the replica is remade when a reload changes it). */
  readonly configuredRoot: string;
  readonly root: string;
  readonly tree: LocalTree;
  index: TreeIndex = new Map();
  lastChangeAt: number | null = null;
  loaded = false;
  /** Peers' batches that came before the index was loaded, waiting for it (untilLoaded). */
  private loadWaiters: Array<() => void> = [];
  /** The device the root was on when the index was saved or a scan last took it (src/replica/rootGuard.ts). */
  private rootDev: number | undefined;
  /** A scan or change found the root on another file system: remote batches are refused until a scan takes it. */
  private rootLost: string | undefined;
  readonly stats: ReplicaStats = { localChanges: 0, remoteApplied: 0, conflicts: 0, scans: 0, filesReceived: 0, bytesReceived: 0, receivedFrom: {}, scansBy: {}, fetches: 0, dirsMoved: 0, filesRenamed: 0, filesInline: 0, echoesDropped: 0, applyFailures: {} };
  private readonly node: string;
  private readonly log: Logger;
  private readonly opts: TreeReplicaOptions;
  private chain: Promise<unknown> = Promise.resolve();
  private saveTimer: unknown;
  private saving: Promise<void> | undefined;
  private dirty = false;
  /** When the index first became dirty since its last save, and when it last changed (saveWait). */
  private firstDirtyAt = 0;
  private lastDirtyAt = 0;
  private closed = false;
  private closing = false;
  /** Batches between their first and last step (close waits for them). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Step 2 of remote batches: contents from the senders, off the queue (close breaks them off: the batches are sent again later). */
  private readonly stager: ContentStager;
  /** The watcher batch waiting its turn on the queue, which later batches join (localChanges). */
  private waitingLocal: { changes: SeenPath[]; moves: MovePair[]; done: Promise<void> } | undefined;
  /** Records from peers that could not be applied here yet (out of sync), retried. */
  readonly failures = new FailedItems();
  /** What the tree's mode kept aside: remote changes ignored (send-only), local changes not sent (receive-only). */
  readonly modes = new ModeLedger();
  /** Records from peers, durable before they are applied (acknowledged without waiting for the index save). */
  private readonly journal: ApplyJournal;
  /** The file system calls placing uses (src/replica/placement.ts, src/replica/ports.ts). */
  private readonly fs: ReplicaFs = nodeReplicaFs;
  /** Time for versions, failed items and the save and retry timers (src/replica/ports.ts). */
  private readonly clock: Clock = nodeClock;
  /**
   * The wiring of remote batches and of the journal replay, around the executor (which
   * carries out the planner's actions, re-checking each path as it changes it): the code the
   * simulation runs too (src/replica/replica.ts).
   */
  private readonly core: Replica;
  private retryTimer: unknown;
  /** Files replaced for peers, parked for a grace period (a local process may still write to them). */
  private readonly replaced: ReplacedFiles;
  /** The latest way to fetch content from each peer (a failed item's retry fetches from there). */
  private readonly fetchers = new Map<string, ContentFetcher>();
  /** Files written from peers whose watcher event has not come back yet: path -> stat. */
  private readonly ownWrites = new Map<string, { ino: number; size: number; mtimeMs: number; mtimeNs?: number }>();

  constructor(opts: TreeReplicaOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.configuredRoot = opts.root;
    this.node = opts.node;
    this.log = (opts.log ?? silentLogger).child({ tree: opts.name });
    this.tree = new LocalTree(opts.root, { writable: true, create: true, log: this.log, scanHereEntries: SCAN_HERE_ENTRIES });
    this.root = this.tree.root;
    this.journal = new ApplyJournal(opts.stateDir, opts.name);
    this.replaced = new ReplacedFiles({
      fs: this.fs,
      clock: this.clock,
      root: this.root,
      node: this.node,
      log: this.log,
      enqueue: (fn) => this.enqueue(fn),
      // written after they were replaced: local versions (counted as conflicts, the copies they are)
      kept: (paths) => {
        this.stats.conflicts += paths.length;
        return this.localBatch(paths.map((path) => ({ path, kind: 'file' })), []);
      },
    });
    this.core = new Replica(this.host(), { fs: this.fs, clock: this.clock, journal: this.journal, outbox: this.outbox() }, this.root, () => this.owner);
    this.stager = new ContentStager({ tree: this.name, root: this.root, log: this.log, owner: () => this.owner, onFetch: () => this.stats.fetches++ });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The settings as made from the latest `opts.settings()` (the same object until a reload). */
  private settingsMemo: { from: unknown; value: ReplicaSettings } | undefined;

  private get settings(): ReplicaSettings {
    const o = this.opts;
    const from = o.settings?.();
    if (this.settingsMemo === undefined || this.settingsMemo.from !== from) {
      this.settingsMemo = { from, value: { keepConflicts: o.keepConflicts, owner: o.owner, tombstoneKeepMs: o.tombstoneKeepMs, ...from } };
    }
    return this.settingsMemo.value;
  }

  private get owner(): boolean {
    return this.settings.owner === true && IS_ROOT;
  }

  /** Live files in the index (what `omirr status` shows). */
  fileCount(): number {
    return liveFileCount(this.index);
  }

  /** The inode a path had, for the watcher's rename pairing. */
  inodeOf(path: string): number | undefined {
    const r = this.index.get(path);
    return isLive(r) ? r.entry.ino : undefined;
  }

  /** Runs `fn` after everything queued before it: the one writer of the index. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Waits until the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const c = this.chain;
      await c;
      if (c === this.chain) return;
    }
  }

  async load(): Promise<LoadResult> {
    try {
      return await this.loadIndexed();
    } finally {
      // batches waiting for the load go on at once: applied if it went through, refused if not
      for (const wake of this.loadWaiters.splice(0)) wake();
    }
  }

  private async loadIndexed(): Promise<LoadResult> {
    const r = await loadIndex(this.opts.stateDir, this.name);
    const rootStat = await stat(this.root).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    const rootMissing = rootStat === undefined;
    // the device the index was saved on; an index that did not say takes today's
    this.rootDev = r.meta?.rootDev ?? rootStat?.dev;
    // An index with files and no root: a missing mount, not a deleted tree. Scanning it would
    // send a delete of every file to every peer, so the tree fails instead (and is retried).
    if (rootMissing && [...r.index.values()].some((x) => !x.deleted)) throw new Error(`${this.root}: the tree's directory is missing (index has files); not starting it`);
    if (r.status === 'corrupt') this.log.warn({ error: r.error, path: r.path }, 'index unusable: every file is rehashed');
    if (r.meta?.node && r.meta.node !== this.node) this.log.warn({ indexNode: r.meta.node }, 'index written by another node');
    this.index = r.index;
    if (r.format === 1) this.dirty = true; // rewritten in the current format at the first save
    if (Array.isArray(r.meta?.failed)) this.failures.load(r.meta.failed as FailedItem[]);
    this.modes.load(r.meta?.modes);
    // objects a crash left moved aside mid-placement: back to their paths, or kept as
    // conflict copies (the initial scan then sees them like any other local file); then the
    // records journalled since the last index save (src/replica/replica.ts, recover)
    const j = await runSteps(this.core.recover());
    // staging directories a crash left empty (one is kept between a sender's batches)
    await this.stager.tidyEmpty();
    if (j.journalled > 0) {
      this.dirty = true;
      this.log.info({ journalled: j.journalled, adopted: j.adopted, retried: j.retried, resent: j.resent }, 'apply journal recovered after a crash');
    }
    this.loaded = true;
    this.scheduleRetry();
    this.log.info({ status: r.status, records: r.index.size, ms: Math.round(r.ms) }, 'index loaded');
    return r;
  }

  /** The journalled paths as they are on disk, files hashed (the journal replay after a crash). */
  private async observe(paths: string[]): Promise<Map<string, DiskState>> {
    const states = await statPaths(this.root, paths);
    const files = paths.filter((p, i) => {
      const s = states[i]!;
      return typeof s === 'object' && !('error' in s) && s.kind === 'file';
    });
    const hashes = files.length > 0 ? await this.tree.hashFiles(files) : new Map<string, string>();
    return new Map(
      paths.map((p, i): [string, DiskState] => {
        const s = states[i]!;
        if (s === 'gone') return [p, 'gone'];
        if (s === 'other' || 'error' in s) return [p, undefined];
        return [p, s.kind === 'file' ? { ...s, hash: hashes.get(p) } : s];
      }),
    );
  }

  /** What the shared wiring (src/replica/replica.ts) asks of this tree: its index, its workers' stat and hashing, its logs. */
  private host(): ReplicaHost {
    const self = this;
    return {
      get index() {
        return self.index;
      },
      failures: this.failures,
      ingest: (paths, now) => this.ingestPaths(paths, now),
      // the files just placed (store's stat after placing): hot in the kernel's caches
      stat: (paths) => statPaths(this.root, paths, { hot: true }),
      observe: (paths) => this.observe(paths),
      wire: (rec) => this.wire(rec),
      failed: (peer, rec, err) => this.applyFailed(peer, rec, err),
      conflict: (path, keptAs, peer) => this.noteConflict(path, keptAs, peer),
      ingested: (recs) => (this.stats.localChanges += recs.length),
      planned: (peer, r, a) => {
        if (this.log.isLevelEnabled('debug')) this.log.debug({ path: r.entry.path, from: peer, op: a.op, local: this.index.get(r.entry.path)?.version ?? null, remote: r.version }, 'remote plan (content arrived)');
      },
      ownWrite: (e) => this.rememberOwnWrite(e),
      notOwnWrite: (path) => this.ownWrites.delete(path),
      tidyAside: () => this.replaced.tidy(),
      note: (what, path, detail) => {
        if (what === 'replanned') this.log.debug({ path }, 'changed locally while being written from a peer: planned again');
        // e.g. a directory that is not empty here: the delete is recorded, and what is still
        // there comes back as a newer local version, so every node ends up with it
        else if (what === 'not-removed') this.log.info({ path }, 'delete from a peer not applied; keeping what is here');
        else if (what === 'changed-after-write') this.log.debug({ path }, 'changed locally right after it was written from a peer: checked again');
        else this.log.warn({ path, keptAs: detail }, 'recovered an object left aside by a crash');
      },
    };
  }

  /** The tree's outboxes (src/replica/ports.ts): every peer's that shares the tree, through opts.send. */
  private outbox(): Outbox {
    return {
      local: (recs) => this.sendLocal(recs.map((r) => this.wire(r))),
      resend: (recs) => this.opts.send(recs.map((r) => this.wire(r))),
      relay: (recs, from, moves) => this.relay(recs, from, moves ?? { movedFrom: new Map(), relayedBefore: new Set() }),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Local changes

  /** A full scan ('' ) or a subtree rescan: compares with the index by size, mtime and inode. */
  scan(subtree = ''): Promise<{ updates: number; unchanged: number; hashed: number }> {
    const r = this.enqueue(() => this.scanNow(subtree));
    // a rescan also retries what could not be applied (the user may have fixed the cause)
    void r.then(() => (this.failures.size > 0 ? this.retryFailed() : undefined)).catch(() => undefined);
    return r;
  }

  private async scanNow(subtree: string, reason = this.stats.scans === 0 ? 'initial' : 'requested'): Promise<{ updates: number; unchanged: number; hashed: number }> {
    const t0 = performance.now();
    this.stats.scans++;
    this.stats.scansBy[reason] = (this.stats.scansBy[reason] ?? 0) + 1;
    const now = this.clock.now();
    const devNow = (await stat(this.root)).dev;
    // packed: the entries cross from the io threads in columns and are made one at a time
    const skipped: string[] = [];
    const all = await this.tree.scanPacked({ onSkipped: (s) => skipped.push(s.path) });
    const entries = subtree === '' ? all : [...all].filter((e) => inSubtree(e.path, subtree));
    const owner = this.owner; // once: the settings behind it are built on each read
    const d = diffScan(this.index, entries, this.node, now, { subtree, owner });
    // What the walk could not read (a directory without read permission, the root itself)
    // is unknown, not gone: its indexed entries are not deleted on every peer.
    const shield = skipped.length === 0 ? undefined : skipShadow(skipped);
    const vanished = shield ? d.vanished.filter((r) => !shield(r.entry.path)) : d.vanished;
    if (vanished.length < d.vanished.length) {
      this.log.warn({ skipped: skipped.slice(0, 5), kept: d.vanished.length - vanished.length }, 'entries under what the scan could not read are kept, not deleted');
    }
    if (devNow !== this.rootDev) {
      // another file system under the tree's path: its deletes are taken only if it is
      // still the tree (src/replica/rootGuard.ts); a missing mount is not a deleted tree
      let live = 0;
      for (const [p, rec] of this.index) if (!rec.deleted && (subtree === '' || inSubtree(p, subtree))) live++;
      const lost = lostRootReason({ devKnown: this.rootDev, devNow, live, vanished: vanished.length });
      if (lost !== null) {
        this.rootLost = lost;
        this.log.error({ root: this.root, devNow, devKnown: this.rootDev, live, vanished: vanished.length }, 'tree root is not the indexed file system: nothing deleted or sent');
        throw new TreeRootChangedError(`${this.root}: ${lost}`);
      }
      this.log.warn({ root: this.root, devNow, devKnown: this.rootDev }, "the tree's device number changed, its files are there: taking the new device");
      this.rootDev = devNow;
      this.dirty = true;
    }
    this.rootLost = undefined;
    const updates = [...d.updates];
    const refreshed = [...d.refreshed];
    let sentCount = 0;
    // Into the index and out to the peers: deletes deepest first, then parents before children.
    const emit = async (recs: IndexRecord[]): Promise<void> => {
      const sent = sendOrder(recs);
      if (sent.length === 0) return;
      await forEachSliced(sent, (r) => this.putLocal([r]));
      sentCount += sent.length;
      this.stats.localChanges += sent.length;
      this.lastChangeAt = now;
      await this.sendLocal(await mapSliced(sent, (r) => this.wire(r, owner)));
    };
    // A burst's rescan stands for the watcher batches it replaces, which would have gone out
    // as they came: what needs no hash (the deletes, the directories and links, so every file
    // sent later finds its parent) goes at once, and the files follow part by part as they
    // are hashed. Any other scan sends everything in one go, as it always did.
    const streamed = reason === 'burst';
    if (streamed) {
      await emit([...vanished, ...updates]);
      updates.length = 0;
    }
    if (d.needsHash.length > 0) {
      // a burst's rescan: its small files' bytes go to the peers inline, as a watcher
      // batch's would have (not fetched back, packed and unpacked)
      await this.hashScanned(d.needsHash, reason === 'burst' ? this.opts.inline : undefined, streamed ? BURST_SEND_FILES : Infinity, async (part, hashes) => {
        const found: IndexRecord[] = [];
        // in slices, as the stores below: a first start has every file of the tree here
        await forEachSliced(part, (e) => {
          const h = hashes.get(e.path);
          if (h === undefined) return; // vanished meanwhile: its event follows
          // a kept file's version describes the bytes hashed (its stat when they were read: ingestPaths)
          const { record, changed } = applyLocalChange(this.index.get(e.path), { ...(h.stat ?? e), hash: h.hash }, this.node, now, { owner });
          (changed ? found : refreshed).push(record);
        });
        if (streamed) await emit(found);
        else for (const r of found) updates.push(r);
      });
    }
    await forEachSliced(refreshed, (r) => this.index.set(r.entry.path, r));
    if (!streamed) await emit([...vanished, ...updates]);
    for (const p of expiredTombstones(this.index, now, this.settings.tombstoneKeepMs ?? DEFAULT_TOMBSTONE_KEEP_MS)) this.index.delete(p);
    this.scheduleSave(sentCount > 0 || refreshed.length > 0);
    const r = { updates: sentCount, unchanged: d.unchanged, hashed: d.needsHash.length };
    this.log.info({ subtree: subtree || '.', entries: entries.length, ...r, ms: Math.round(performance.now() - t0) }, 'scanned');
    return r;
  }

  /**
   * A scan's files hashed. With `cache` (a burst's rescan), the small files also come back
   * with their bytes (and their stat when read), put in the inline cache for the peers'
   * deliveries: in chunks of at most KEEP_CHUNK_BYTES (what is read is held only until it
   * is cached), and only up to the cache's size (beyond it the cache would drop the first
   * files before their deliveries; the rest is hashed as before and fetched by the peers).
   * Each part (at most `partFiles` files) goes to `each` as soon as it is hashed.
   */
  private async hashScanned(
    files: Entry[],
    cache: InlineContentCache | undefined,
    partFiles: number,
    each: (part: Entry[], hashes: Map<string, { hash: string; stat?: Entry }>) => Promise<void>,
  ): Promise<void> {
    let i = 0;
    for (let budget = cache ? INLINE_CACHE_MAX : 0; i < files.length && budget > 0; ) {
      let j = i;
      let bytes = 0;
      for (; j < files.length && j - i < partFiles && bytes < KEEP_CHUNK_BYTES && bytes < budget; j++) if (files[j]!.size <= INLINE_FILE_MAX) bytes += files[j]!.size + INLINE_ENTRY_OVERHEAD;
      const part = files.slice(i, j);
      const kept = await this.tree.hashFilesKeeping(part.map((e) => e.path), INLINE_FILE_MAX);
      const out = new Map<string, { hash: string; stat?: Entry }>();
      for (const [p, h] of kept) {
        const st = h.stat !== undefined && h.stat.kind === 'file' ? h.stat : undefined;
        if (h.data && st && h.data.length === st.size) cache!.put(this.name, p, h.hash, h.data);
        out.set(p, st ? { hash: h.hash, stat: st } : { hash: h.hash });
      }
      await each(part, out);
      budget -= bytes;
      i = j;
    }
    for (; i < files.length; ) {
      const part = files.slice(i, Math.min(files.length, i + partFiles));
      const out = new Map<string, { hash: string; stat?: Entry }>();
      for (const [p, h] of await this.tree.hashFiles(part.map((e) => e.path))) out.set(p, { hash: h });
      await each(part, out);
      i += part.length;
    }
  }

  /** A watcher batch: moves first (paired renames), then the other paths as they are now. */
  localChanges(changes: SeenPath[], moves: MovePair[]): Promise<void> {
    // Batches that arrive while one is waiting its turn join it: an idle tree handles a
    // change at once, a busy one (a burst of thousands of files coming in as many small
    // watcher batches) handles them in fewer, larger batches, paying the per-batch costs
    // (worker trips, outbox writes, one delivery per peer) once for many files.
    if (this.waitingLocal) {
      this.waitingLocal.changes.push(...changes);
      this.waitingLocal.moves.push(...moves);
      return this.waitingLocal.done;
    }
    const batch = { changes: [...changes], moves: [...moves], done: Promise.resolve() };
    this.waitingLocal = batch;
    batch.done = this.enqueue(() => {
      this.waitingLocal = undefined;
      return this.localBatch(batch.changes, batch.moves);
    });
    return batch.done;
  }

  private async localBatch(changes: SeenPath[], moves: MovePair[]): Promise<void> {
    // paths gone while the root is on another file system (an unmount under the running
    // daemon) are not the user's deletes: the tree fails and its next scan decides
    if (this.rootLost !== undefined || (changes.some((c) => c.kind === 'gone') && this.rootMoved())) {
      this.rootLost ??= "the tree's directory changed file system while watched";
      throw new TreeRootChangedError(`${this.root}: ${this.rootLost}; the batch is left to the next scan`);
    }
    if (changes.length + moves.length > RESCAN_INSTEAD_OF_BATCH) {
      await this.scanNow('', 'burst');
      return;
    }
    const now = this.clock.now();
    const out: WireChange[] = [];
    const rest = [...changes];
    for (const m of moves) {
      const mv = await this.localMove(m, now);
      if (mv) out.push(...mv);
      else rest.push({ path: m.from, kind: 'gone' }, { path: m.to, kind: m.kind, ino: m.ino });
    }
    const paths = [...new Set(rest.map((c) => c.path))];
    const recs = await this.ingestPaths(paths, now, 'own-writes');
    out.push(...recs.map((r) => this.wire(r)));
    if (out.length > 0) {
      this.stats.localChanges += out.length;
      this.lastChangeAt = now;
      await this.sendLocal(out);
      this.scheduleSave(true);
    }
  }

  private async localMove(m: MovePair, now: number): Promise<WireChange[] | null> {
    const prev = this.index.get(m.from);
    if (!isLive(prev) || prev.entry.kind !== m.kind) return null;
    const [st] = await statPaths(this.root, [m.to]);
    if (st === undefined || typeof st !== 'object' || 'error' in st || st.kind !== prev.entry.kind) return null;
    let toEntry: Entry = st;
    if (st.kind === 'file') {
      // a rename keeps the content, unless the file was also written in the same batch
      if (prev.entry.hash && st.size === prev.entry.size && st.mtimeMs === prev.entry.mtimeMs) toEntry = { ...st, hash: prev.entry.hash };
      else {
        const h = (await this.tree.hashFiles([m.to])).get(m.to);
        if (h === undefined) return null;
        toEntry = { ...st, hash: h };
      }
    }
    const mv = applyLocalMove(this.index, m.from, m.to, this.node, now, toEntry);
    if (!mv) return null;
    this.putLocal(mv.records);
    const from = new Map(mv.pairs.map((p) => [p.to, p.from]));
    // Files carry where they came from (a receiver renames instead of fetching); so does the
    // top of a moved directory (a receiver renames the whole directory in one step).
    return mv.records.map((r) => {
      const w = this.wire(r);
      const f = r.deleted ? undefined : from.get(r.entry.path);
      return f !== undefined && (r.entry.kind === 'file' || r.entry.path === m.to) ? { ...w, movedFrom: f } : w;
    });
  }

  /**
   * Brings the index up to date with `paths` as they are on disk now: new versions for what
   * changed (hashing only files whose size, mtime or inode moved), tombstones for what is
   * gone (with everything the index had below a vanished directory). Returns the records
   * that changed, in send order; stores them.
   */
  private async ingestPaths(paths: string[], now: number, trust: 'stat' | 'own-writes' = 'stat'): Promise<IndexRecord[]> {
    if (paths.length === 0) return [];
    const states = await statPaths(this.root, paths);
    const changed: IndexRecord[] = [];
    const toHash: Entry[] = [];
    const ready: Entry[] = [];
    const gone = new Set<string>();
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i]!;
      const s = states[i]!;
      if (s === 'gone' || s === 'other') {
        if (s === 'other') this.log.warn({ path: p }, 'not a regular file, directory or symlink: not mirrored');
        gone.add(p);
        continue;
      }
      if ('error' in s) {
        this.log.warn({ path: p, error: s.error }, 'cannot stat; left for the next rescan');
        continue;
      }
      if (s.kind === 'file') {
        const prev = this.index.get(p);
        // A watcher event means the file was written: stat alone cannot tell a rewrite of the
        // same size in the same microsecond (with the inode number reused, as ext4 does at
        // once), so only our own writes (the echo of a remote
        // change, remembered with their stat) skip the hash.
        const trusted = trust === 'own-writes' ? this.takeOwnWrite(p, s) : this.statSame(prev, s);
        if (trusted) ready.push({ ...s, hash: prev!.entry.hash! });
        else toHash.push(s);
      } else ready.push(s);
    }
    if (toHash.length > 0) {
      const cache = this.opts.inline;
      const hashes = cache ? await this.tree.hashFilesKeeping(toHash.map((e) => e.path), INLINE_FILE_MAX) : await this.tree.hashFiles(toHash.map((e) => e.path));
      for (const e of toHash) {
        const h = hashes.get(e.path);
        if (h === undefined) continue; // vanished between stat and hash; its own event reports the delete
        if (typeof h === 'string') ready.push({ ...e, hash: h });
        else {
          // A small file comes back with its stat as it was read (fstat before the read):
          // the version describes the bytes hashed. The lstat above can be older: a file
          // created and not yet written (its writer between open and write) was empty then
          // and complete now; a version of the empty file with the hash of the complete one
          // made every peer fetch it, and a second version followed for the same write.
          // (A later write still comes as an event, which is hashed again.)
          const st = h.stat !== undefined && h.stat.kind === 'file' ? h.stat : e;
          ready.push({ ...st, hash: h.hash });
          // the bytes hashed, for the peers' deliveries (a size that moved meanwhile is not a version's content)
          if (h.data && h.data.length === st.size) cache!.put(this.name, e.path, h.hash, h.data);
        }
      }
    }
    for (const p of gone) {
      const prev = this.index.get(p);
      if (!isLive(prev)) continue;
      const under: IndexRecord[] = [];
      if (prev.entry.kind === 'dir') {
        // a directory moved out of the tree reports only itself: its contents are gone too
        for (const [q, r] of this.index) if (q !== p && isLive(r) && inSubtree(q, p)) under.push(r);
      }
      for (const r of [...under, prev]) {
        const t = applyLocalDelete(r, this.node, now);
        if (t) changed.push(t);
      }
    }
    for (const e of ready) {
      const prev = this.index.get(e.path);
      const { record, changed: moved } = applyLocalChange(prev, e, this.node, now, { owner: this.owner });
      if (moved) changed.push(record);
      else this.index.set(e.path, record); // same version, fresh stat (inode after rename-into-place)
    }
    const ordered = sendOrder(changed);
    if (this.log.isLevelEnabled('debug')) for (const r of ordered) this.log.debug({ path: r.entry.path, v: r.version, hash: r.entry.hash?.slice(0, 12) ?? null, deleted: r.deleted !== undefined, ino: r.entry.ino, trust }, 'local version');
    this.putLocal(ordered);
    return ordered;
  }

  // ---------------------------------------------------------------------------------------
  // Remote changes

  /**
   * A batch of changes from `peer`, in three steps so that a slow sender never holds up the
   * tree's other work (local changes, other peers' batches):
   *  1. on the queue: decide every record, write what needs no content from the sender
   *     (directories, renames, deletes, links, attributes), store and relay it;
   *  2. off the queue: the contents the decisions asked for go into a staging directory of
   *     this tree (written from the inline data that came with the records, or fetched from
   *     the sender; hash-verified, mode and mtime set), one staging at a time per sender;
   *  3. on the queue again: decide each staged file once more against the index as it is
   *     now (another peer's newer version, or a local edit, may have arrived meanwhile) and
   *     put the winners in place; store and relay them.
   * Every write re-checks its path as it places (src/workers/safeWrite.ts, placeObject): a
   * local change not seen yet becomes a local version and the record is decided again.
   * A record that cannot be applied (EACCES, ENOSPC, ...) becomes a failed item (retried
   * later; `omirr status` shows it) and does not hold up the rest.
   * Resolves once all of it is durable, the index included (the sender's acknowledgement);
   * rejects when anything must be sent again.
   */
  applyRemote(peer: string, changes: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }> {
    if (!this.closed && !this.closing) this.fetchers.set(peer, fetch);
    return this.applyBatch(peer, changes, fetch);
  }

  /** applyRemote, with the contents fetched through `fetch` (the sender's connection, or another peer's on a retry). */
  private applyBatch(peer: string, changes: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }> {
    // refused (not acknowledged) until the index is here and after a stop: the sender keeps
    // the changes in its outbox and sends them again
    if (this.closed || this.closing) return Promise.reject(new Error(`tree ${this.name} is stopping`));
    // nothing written into a directory that is not the tree (a missing mount): sent again
    // later. Asked of the root each time, not remembered: once the mount is back, the
    // batches go in again (only a scan or a watcher batch stops the tree).
    const elsewhere = this.rootLost ?? (this.rootMoved() ? "the tree's directory is on another file system than its index (a mount that is missing?)" : undefined);
    if (elsewhere !== undefined) return Promise.reject(new Error(`tree ${this.name}: ${elsewhere}`));
    const run = (async () => {
      // A peer's batch that comes while the index still loads (a restart: peers dial in at
      // once) waits for it rather than being refused: a refusal ends the sender's connection
      // and sends its link into its whole backoff, and this end, already connected to that
      // peer, has nothing left to wake it (up to 30 s of changes held; daemonReconnect saw it)
      if (!this.loaded) await this.untilLoaded(LOAD_WAIT_MS);
      const a = await this.enqueue(async () => {
        if (this.closed || this.closing) throw new Error(`tree ${this.name} is stopping`);
        if (!this.loaded) throw new Error(`tree ${this.name} is not loaded yet`);
        return this.remoteBatch(peer, changes);
      });
      let files = 0;
      let bytes = 0;
      let broken: string | undefined;
      let unsettled = a.unsettled;
      if (a.deferred.length > 0) {
        // staged and placed as one unit per sender: its next batch (several are in flight)
        // stages into the same directory only after this one's files are placed
        const c = await this.stager.stageAndPlace(peer, a.deferred, fetch, a.inline, (staged) =>
          this.enqueue(() => this.placeStaged(peer, a.deferred, staged, a.movedFrom, a.relayed, a.inline)),
        );
        files += c.files;
        bytes += c.bytes;
        unsettled = [...unsettled, ...c.unsettled];
        broken = c.aborted;
      }
      // durability before acknowledgement (issue 9, item 2): every record this batch applied
      // or adopted was journalled (fsync'ed) before the disk changed; see journal.ts
      if (broken) throw new Error(`transfer from ${peer} broken off: ${broken}`);
      if (unsettled.length > 0) throw new Error(`${unsettled.length} path(s) kept changing locally while being written (${unsettled.slice(0, 3).join(', ')}); the batch will be sent again`);
      return { files, bytes };
    })();
    this.inflight.add(run);
    void run.then(
      () => this.inflight.delete(run),
      () => this.inflight.delete(run),
    );
    return run;
  }

  /** Step 3 (on the queue): the staged files that still win go into place. */
  private async placeStaged(
    peer: string,
    recs: IndexRecord[],
    staged: { root: string; written: Set<string> },
    movedFrom: Map<string, string>,
    relayedBefore: Set<string>,
    inline: Map<string, Buffer>,
  ): Promise<{ files: number; bytes: number; unsettled: string[]; placedAll: boolean }> {
    const pending = recs.filter((r) => staged.written.has(r.entry.path));
    let files = 0;
    let inlined = 0;
    const remote = { keepConflicts: this.settings.keepConflicts !== false, owner: this.owner };
    const r = await runSteps(
      this.core.applyStaged(peer, pending, (p) => (staged.written.has(p) ? `${staged.root}/${p}` : undefined), remote, { movedFrom, relayedBefore }, ({ applied }) => {
        files = applied.length;
        for (const rec of applied) {
          const data = inline.get(rec.entry.path);
          if (data === undefined) continue;
          inlined++;
          // a relaying node sends on the bytes it was sent
          if (rec.entry.hash !== undefined) this.opts.inline?.put(this.name, rec.entry.path, rec.entry.hash, data);
        }
      }),
    );
    const applied = r.out.applied;
    const bytes = applied.reduce((n, x) => n + x.entry.size, 0);
    this.stats.filesInline += inlined;
    if (r.relay.length > 0) {
      this.stats.remoteApplied += r.stored.length;
      this.stats.filesReceived += files;
      this.stats.bytesReceived += bytes;
      const from = (this.stats.receivedFrom[peer] ??= { files: 0, bytes: 0 });
      from.files += files;
      from.bytes += bytes;
      this.lastChangeAt = r.now;
    }
    this.scheduleSave(r.relay.length > 0 || r.local.length > 0 || r.fresh.length > 0 || applied.length > 0);
    // every staged file went into place: the staging directory is empty (ContentStager keeps it for the next batch)
    return { files, bytes, unsettled: r.unsettled, placedAll: applied.length === staged.written.size };
  }

  /** Retries the failed items after a backoff (doubling with their attempts). */
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed || this.closing || this.failures.size === 0) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryFailed();
    }, this.failures.retryDelayMs());
  }

  /**
   * Applies the failed items again, as the batches they came in. Done on a backoff timer and
   * on every rescan. The contents come from where they can: small files from the inline
   * cache (the bytes another batch brought), the rest from the peer that sent them when it
   * is linked, else over its last connection, else from any other linked peer sharing the
   * tree (the content is hash-verified when staged: a peer holding other bytes at the path
   * fails that file, which stays out of sync). So a sender that went away does not keep an
   * item out of sync while another peer has its content.
   */
  async retryFailed(): Promise<void> {
    if (this.closed || this.closing) return;
    for (const [peer, items] of this.failures.byPeer()) {
      const linked = this.opts.fetcher?.(peer);
      const last = this.fetchers.get(peer);
      const sources: Array<{ via: string; fetch: ContentFetcher }> = [];
      if (linked?.peer === peer) sources.push({ via: peer, fetch: linked.fetch });
      if (last && last !== linked?.fetch) sources.push({ via: peer, fetch: last });
      if (linked && linked.peer !== peer) sources.push({ via: linked.peer, fetch: linked.fetch });
      if (sources.length === 0) {
        sources.push({
          via: peer,
          fetch: () => {
            throw new Error(`no connection from ${peer} yet`);
          },
        });
      }
      const changes = items.map((i) => this.withInlineContent(i.change));
      for (const src of sources) {
        try {
          await this.applyBatch(peer, changes, src.fetch);
          break;
        } catch (err) {
          this.log.debug({ peer, via: src.via, err: (err as Error).message }, 'retry of failed items did not complete');
        }
        const failing = new Set(this.failures.list().map((x) => x.path));
        if (!items.some((i) => failing.has(i.path)) || this.closed || this.closing) break;
      }
      // an item that failed again was re-added by applyFailed (its attempts counted)
      for (const i of items) {
        const now = this.failures.list().find((x) => x.path === i.path);
        if (now && now.attempts === i.attempts) this.failures.add(peer, i.change, now.error, now.reason, this.clock.now());
      }
    }
    this.scheduleRetry();
  }

  /** A live file's change with its bytes from the inline cache, when it holds them (no fetch needed). */
  private withInlineContent(c: WireChange): WireChange {
    const e = c.rec.entry;
    if (c.data || c.rec.deleted || e.kind !== 'file' || e.hash === undefined) return c;
    const data = this.opts.inline?.get(this.name, e.path, e.hash);
    return data && data.length === e.size ? { ...c, data } : c;
  }

  /** The out-of-sync items (status, metrics). */
  outOfSync(): FailedItem[] {
    return this.failures.list();
  }

  /** Counts and logs a kept conflict loser. */
  private noteConflict(path: string, keptAs: string, peer: string): void {
    this.stats.conflicts++;
    this.log.info({ path, keptAs, from: peer }, 'conflict: the local version lost and is kept beside the winner');
  }

  /** A record that could not be applied: a failed item (status, metrics), retried later; never holds up the rest. */
  private applyFailed(peer: string, rec: IndexRecord, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const error = e.message ?? String(err);
    const first = this.failures.add(peer, this.wire(rec), error, e.code ?? 'other', this.clock.now());
    this.stats.applyFailures[e.code ?? 'other'] = (this.stats.applyFailures[e.code ?? 'other'] ?? 0) + 1;
    this.dirty = true;
    if (first) this.log.warn({ path: rec.entry.path, from: peer, error }, 'could not apply a change from a peer: out of sync until it can (retried)');
    this.scheduleRetry();
  }

  /** Step 1 (on the queue): decide, write what needs no content, store, relay; returns the files to stage. */
  private async remoteBatch(peer: string, changesAll: WireChange[]): Promise<BatchStart> {
    const now = this.clock.now();
    const changesIn = this.mode === 'send-only' ? this.ignoreRemote(peer, changesAll, now) : changesAll;
    if (changesIn.length === 0) return { deferred: [], inline: new Map(), unsettled: [], movedFrom: new Map(), relayed: new Set() };
    // One record per path: the winning one (a sender's stream can repeat an older record
    // after a newer one, e.g. its own records sent again after a crash).
    const changes = lastPerPath(changesIn);
    const last = new Map(changes.map((c) => [c.rec.entry.path, c]));
    /** Small files' contents that came with their records: staged without a fetch. */
    const inline = new Map<string, Buffer>();
    for (const c of changes) if (c.data && c.data.length === c.rec.entry.size) inline.set(c.rec.entry.path, c.data);

    // 1. Freshness: a local edit the watcher has not reported yet becomes a version now, so
    //    the decision sees it (and keeps it as a conflict copy) instead of overwriting it.
    // 2. Decide, and make durable before anything changes (issue 9, item 2) what this batch
    //    will apply or adopt, so a crash before the index save cannot turn it into local
    //    changes (see journal.ts): src/replica/replica.ts, admit.
    const opts = { keepConflicts: this.settings.keepConflicts !== false, owner: this.owner, nowMs: now };
    const admitted = await runSteps(this.core.admit(peer, changes.map((c) => c.rec), opts));
    let fresh = admitted.fresh;
    const { decisions, journalled } = admitted;
    if (this.log.isLevelEnabled('debug')) {
      for (const c of changes) {
        // the trace a convergence failure is debugged from: who sent what, against what we had
        const local = this.index.get(c.rec.entry.path);
        const d = decisions.get(c.rec.entry.path)!;
        this.log.debug(
          {
            path: c.rec.entry.path,
            from: peer,
            action: d.action,
            ...(d.action === 'ignore' ? { reason: d.reason } : {}),
            ...(d.action === 'conflict' ? { keepLocalAs: d.keepLocalAs } : {}),
            local: local ? { v: local.version, hash: local.entry.hash?.slice(0, 12), deleted: local.deleted !== undefined } : null,
            remote: { v: c.rec.version, hash: c.rec.entry.hash?.slice(0, 12), deleted: c.rec.deleted !== undefined },
          },
          'remote decision',
        );
      }
    }
    // Moved directories: renamed here in one step when everything we have below them moves
    // along unchanged; their records then need no write at all (`carried`).
    const carried = new Set<string>();
    for (const c of changes) {
      if (c.movedFrom === undefined || c.rec.entry.kind !== 'dir') continue;
      const moved = await this.moveDirIfWhole(c.movedFrom, c.rec.entry.path, decisions, carried);
      if (moved) {
        for (const p of moved) carried.add(p);
        this.stats.dirsMoved++;
      }
    }
    // Paired renames: the new path's content is the old path's, which is being deleted: rename.
    const renames: Array<{ from: IndexRecord; to: IndexRecord; fromRemote: IndexRecord }> = [];
    const renameSources = new Set<string>(carried);
    for (const c of changes) {
      if (c.movedFrom === undefined || carried.has(c.rec.entry.path) || c.rec.entry.kind !== 'file') continue;
      const dTo = decisions.get(c.rec.entry.path)!;
      const dFrom = decisions.get(c.movedFrom);
      const src = this.index.get(c.movedFrom);
      if (dTo.action !== 'apply' || !dTo.needsContent || dFrom?.action !== 'apply' || !dFrom.record.deleted) continue;
      if (!isLive(src) || src.entry.kind !== 'file' || src.entry.hash !== dTo.record.entry.hash || renameSources.has(c.movedFrom)) continue;
      renames.push({ from: dFrom.record, to: dTo.record, fromRemote: last.get(c.movedFrom)!.rec });
      renameSources.add(c.movedFrom);
    }
    const renameTargets = new Set(renames.map((r) => r.to.entry.path));
    const out = emptyOutcome();
    const { applied, adopted, fetches, kept } = out;
    /** Records written directly (no content from the sender), decided again after a local change. */
    const direct: IndexRecord[] = [];
    for (const c of changes) {
      const path = c.rec.entry.path;
      const d = decisions.get(path)!;
      if (d.action === 'ignore') continue;
      if (d.action === 'adopt') {
        adopted.push(this.core.adopt(path, d.record));
        this.failures.resolved(path, d.record.version);
        continue;
      }
      if (carried.has(path)) {
        applied.push(d.record);
        continue;
      }
      if (renameSources.has(path) || renameTargets.has(path)) continue;
      // contents come in step 3, which decides again (and keeps the loser) then
      if (!d.record.deleted && d.record.entry.kind === 'file' && d.needsContent) fetches.push(d.record);
      else direct.push(c.rec);
    }
    this.stats.filesRenamed += applied.filter((r) => !r.deleted && r.entry.kind === 'file').length;

    // 3. Write: renames, then the direct records; each path re-checked as it is changed.
    const setattrs: IndexRecord[] = [];
    for (const { from, to, fromRemote } of renames) {
      try {
        assertSafeRelPath(to.entry.path);
        assertRealDirChain(this.root, parentOf(to.entry.path), new Set(), true);
        const moved = moveObject(this.fs, this.root, from.entry.path, expectOf(this.index.get(from.entry.path)), to.entry.path, expectOf(this.index.get(to.entry.path)));
        if (!moved.done) throw new Error(moved.changed);
        this.stats.filesRenamed++;
        applied.push(from);
        // the sender may have touched it too (same bytes): its mode and mtime are the record's
        const src = this.index.get(from.entry.path)?.entry;
        if (src && (src.mode !== to.entry.mode || src.mtimeMs !== to.entry.mtimeMs)) setattrs.push(to);
        else applied.push(to);
      } catch (err) {
        this.log.debug({ from: from.entry.path, to: to.entry.path, err: (err as Error).message }, 'rename not possible here; fetching instead');
        direct.push(fromRemote);
        fetches.push(to);
      }
    }
    const ctx = this.core.roundContext(peer, (r) => planRemoteRecord(this.index, r, opts), () => undefined, journalled);
    const rounds = await runSteps(this.core.rounds(peer, direct, ctx, journalled, now, out));
    fresh = [...fresh, ...rounds.fresh];
    for (const r of setattrs) {
      try {
        this.core.exec.setAttrs(r);
        applied.push(r);
        this.failures.resolved(r.entry.path, r.version);
      } catch (err) {
        this.applyFailed(peer, r, err);
      }
    }

    // 4. Deletes not done (a directory not empty here) are recorded, and what is still there
    //    comes back as a newer local version. Store with the local stat (inode, owner): the
    //    watcher's event for these writes finds them unchanged, which is what stops the echo.
    // 5. What this batch made local: conflict copies, deletes that could not be done.
    // 6. Relay to the other peers (durably, before the sender gets its acknowledgement).
    const movedFrom = new Map<string, string>();
    for (const c of changes) if (c.movedFrom !== undefined) movedFrom.set(c.rec.entry.path, c.movedFrom);
    const relayed = new Set<string>();
    const { stored, local, relay } = await runSteps(this.core.settle(peer, out, [], now, { movedFrom, relayedBefore: relayed }));
    if (relay.length > 0) {
      this.stats.remoteApplied += stored.length;
      this.lastChangeAt = now;
    }
    this.scheduleSave(relay.length > 0 || local.length > 0 || fresh.length > 0);
    const fetchInline = new Map<string, Buffer>();
    for (const r of fetches) if (inline.has(r.entry.path)) fetchInline.set(r.entry.path, inline.get(r.entry.path)!);
    return { deferred: fetches, unsettled: rounds.unsettled, movedFrom, relayed, inline: fetchInline };
  }

  /**
   * Local versions to every peer: journalled first (issue 9, item 2: once a version is in a
   * peer's hands, a crash must not let this node forget it; the journal brings it back into
   * the index at the next start: src/replica/replica.ts, recover), then into the outboxes.
   */
  private async sendLocal(changes: WireChange[]): Promise<void> {
    if (this.mode === 'receive-only') return this.keepLocal(changes);
    if (this.mode === 'send-only') for (const c of changes) this.modes.localWins(c.rec);
    await this.journal.append('', changes.map((c) => c.rec));
    await this.opts.send(changes);
  }

  /** Appends what was applied to the other peers' outboxes; a rename stays a rename down a chain. */
  private async relay(recs: IndexRecord[], peer: string, { movedFrom, relayedBefore }: RelayMoves): Promise<void> {
    const relayed = new Set(recs.map((r) => r.entry.path));
    for (const p of relayed) this.modes.received(p); // the peers' version is here now
    // the sender is the tree's only peer (a leaf of a star or a tree of hubs): nobody to relay to
    if (this.opts.sendsBeyond?.(peer) === false) {
      for (const p of relayed) relayedBefore.add(p);
      return;
    }
    await this.opts.send(
      sendOrder(recs).map((r) => {
        const f = r.deleted ? undefined : movedFrom.get(r.entry.path);
        return f !== undefined && (relayed.has(f) || relayedBefore.has(f)) ? { ...this.wire(r), movedFrom: f } : this.wire(r);
      }),
      peer,
    );
    for (const p of relayed) relayedBefore.add(p);
  }

  private get mode(): TreeMode {
    return this.settings.mode ?? 'send-receive';
  }

  /** Local versions into the index; a receive-only tree first notes what the peers gave (revert restores it). */
  private putLocal(recs: IndexRecord[]): void {
    if (this.mode === 'receive-only') for (const r of recs) this.modes.noteBase(r.entry.path, this.index.get(r.entry.path));
    putRecords(this.index, recs);
  }

  /**
   * Receive-only: local versions are not sent. Each is stored with a version that loses to
   * any newer one from the peers (src/replica/modes.ts) and listed as locally changed.
   */
  private keepLocal(changes: WireChange[]): void {
    const now = this.clock.now();
    for (const c of changes) {
      const path = c.rec.entry.path;
      const rec = this.index.get(path);
      if (!rec) continue;
      const { record, first } = this.modes.markLocal(rec, this.node, now);
      this.index.set(path, record);
      if (first) this.log.warn({ path }, 'changed locally in a receive-only tree: not sent (omirr revert TREE restores what the peers gave)');
    }
    this.dirty = true;
  }

  /**
   * Send-only: the peer's records that would change something here are neither applied nor
   * relayed; they are listed (status, metric) and warned about once per path.
   */
  private ignoreRemote(peer: string, changes: WireChange[], now: number): WireChange[] {
    const opts = { keepConflicts: true, owner: this.owner, nowMs: now };
    let noted = false;
    for (const c of changes) {
      const path = c.rec.entry.path;
      this.failures.resolved(path); // an item left from before a switch to send-only
      const d = applyRemoteChange(this.index.get(path), c.rec, opts);
      if (d.action !== 'apply' && d.action !== 'conflict') continue;
      if (this.modes.noteIgnored(peer, c.rec, now)) this.log.warn({ path, from: peer }, 'a peer changed a send-only tree: not applied here (the peer keeps its version)');
      noted = true;
    }
    this.scheduleSave(noted);
    return [];
  }

  /**
   * `omirr revert TREE` on a receive-only tree: local additions are removed, local changes
   * and deletes are replaced by what the peers last gave (fetched again from the peer that
   * wrote it, else any peer that sent this tree something). Returns what it did; paths that
   * changed again meanwhile, or whose content cannot be fetched, stay listed (out of sync
   * items for the latter, retried).
   */
  async revert(): Promise<{ removed: string[]; restoring: string[]; kept: string[] }> {
    if (this.mode !== 'receive-only') throw new Error(`tree ${this.name} is ${this.mode}: only a receive-only tree has local changes to revert`);
    const plan = await this.enqueue(async () => {
      const removed: string[] = [];
      const kept: string[] = [];
      const restore = new Map<string, IndexRecord[]>();
      const items = [...this.modes.local.values()].sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0)); // deepest first
      for (const item of items) {
        const cur = this.index.get(item.path);
        const base = item.base;
        if (!base || base.deleted) {
          // a local addition: removed (a directory only once empty: its contents are additions too)
          if (isLive(cur)) {
            let done: boolean;
            try {
              // re-checked as it is removed (I1): a file changed again meanwhile stays, still listed
              done = cur.entry.kind === 'dir' ? (await this.tree.apply([{ op: 'remove', path: item.path }]))[0]!.ok : removeObject(this.fs, this.root, item.path, expectOf(cur)).done;
            } catch (err) {
              this.log.warn({ path: item.path, err: (err as Error).message }, 'revert: could not remove a local addition');
              done = false;
            }
            if (!done) {
              kept.push(item.path);
              continue;
            }
          }
          if (base) this.index.set(item.path, base);
          else this.index.delete(item.path);
          this.modes.received(item.path);
          removed.push(item.path);
          continue;
        }
        // changed or deleted here: the peers' record is applied again over a version it beats
        if (isLive(cur)) this.index.set(item.path, { entry: cur.entry, version: EMPTY_VERSION });
        else this.index.delete(item.path);
        const writer = lastWriter(base.version);
        const from = this.fetchers.has(writer) ? writer : (this.opts.fetcher?.(writer)?.peer ?? [...this.fetchers.keys()][0] ?? writer);
        restore.set(from, [...(restore.get(from) ?? []), base]);
      }
      this.scheduleSave(true);
      return { removed, kept, restore };
    });
    const restoring: string[] = [];
    for (const [peer, recs] of plan.restore) {
      const fetch = this.fetchers.get(peer) ?? this.opts.fetcher?.(peer)?.fetch ?? (() => {
        throw new Error(`no connection from ${peer} yet`);
      });
      restoring.push(...recs.map((r) => r.entry.path));
      await this.applyRemote(peer, sendOrder(recs).map((r) => this.wire(r)), fetch).catch((err) => {
        this.log.warn({ peer, err: (err as Error).message }, 'revert: restoring from a peer did not complete (retried)');
      });
    }
    this.log.info({ removed: plan.removed.length, restoring: restoring.length, kept: plan.kept.length }, 'local changes reverted');
    return { removed: plan.removed, restoring, kept: plan.kept };
  }

  pack(files: PackRequest[]): Readable {
    return this.tree.pack(files);
  }

  /** A peer's delta fetch (src/daemon/deltaFetch.ts). */
  packDelta(files: DeltaRequest[]): Readable {
    return this.tree.delta.pack(files);
  }

  /**
   * A directory a peer renamed (`from` -> `to`, the top of the move): renamed here in one
   * rename(2) when that is exactly what the batch asks for: `from` is a live directory
   * here, `to` is free, and every live record we have below `from` is deleted by the batch
   * and re-created under `to` with the same kind, content, mode and mtime. Returns the paths
   * (old and new) whose records are then already true on disk, or null (nothing done: the
   * records are applied one by one, files renamed or fetched as usual).
   */
  private async moveDirIfWhole(from: string, to: string, decisions: Map<string, RemoteDecision>, done: Set<string>): Promise<string[] | null> {
    if (done.has(from) || done.has(to) || inSubtree(to, from) || inSubtree(from, to)) return null;
    const top = this.index.get(from);
    const dTop = decisions.get(to);
    if (!isLive(top) || top.entry.kind !== 'dir' || isLive(this.index.get(to))) return null;
    if (dTop?.action !== 'apply' || dTop.record.deleted || dTop.record.entry.kind !== 'dir' || dTop.record.entry.mode !== top.entry.mode) return null;
    const paths: string[] = [];
    for (const [p, rec] of this.index) {
      if (!isLive(rec) || !inSubtree(p, from)) continue;
      const np = to + p.slice(from.length);
      const dOld = decisions.get(p);
      const dNew = decisions.get(np);
      if (dOld?.action !== 'apply' || !dOld.record.deleted || dNew?.action !== 'apply' || dNew.record.deleted) return null;
      const a = rec.entry;
      const b = dNew.record.entry;
      const same =
        a.kind === b.kind &&
        (a.kind === 'dir'
          ? a.mode === b.mode
          : a.kind === 'symlink'
            ? a.target === b.target
            : a.hash !== undefined && a.hash === b.hash && a.size === b.size && a.mode === b.mode && a.mtimeMs === b.mtimeMs);
      if (!same) return null;
      paths.push(p, np);
    }
    try {
      assertSafeRelPath(to);
      assertRealDirChain(this.root, parentOf(to), new Set(), false);
      const free = await lstat(fsPath(`${this.root}/${to}`)).then(
        () => false,
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      );
      if (!free) return null;
      await rename(fsPath(`${this.root}/${from}`), fsPath(`${this.root}/${to}`));
    } catch (err) {
      this.log.debug({ from, to, err: (err as Error).message }, 'directory rename not possible here; applying its records one by one');
      return null;
    }
    this.log.debug({ from, to, records: paths.length }, 'directory moved in one rename');
    return paths;
  }

  /**
   * The root is now on another device than the indexed one (or gone): one stat, a
   * microsecond or two, synchronous (no thread trip for a batch's check). Before the
   * first device is known (a tree that did not exist at load) nothing has moved.
   */
  private rootMoved(): boolean {
    return this.rootDev !== undefined && rootDevice(this.root) !== this.rootDev;
  }

  /** The index holds `s` as it is: a file with a hash, same size, mtime and inode. */
  private statSame(prev: IndexRecord | undefined, s: { size: number; mtimeMs: number; mtimeNs?: number; ino?: number }): boolean {
    return isLive(prev) && prev.entry.kind === 'file' && prev.entry.hash !== undefined && prev.entry.size === s.size && sameMtime(prev.entry, s) && prev.entry.ino === s.ino;
  }

  /**
   * `path`, stat'ed after a watcher event, is exactly the file we placed there for a peer
   * (remembered by store) and the index still holds: the event is our own write's echo.
   * The write is forgotten either way: a later event on the path is a user's.
   */
  private takeOwnWrite(path: string, s: { size: number; mtimeMs: number; mtimeNs?: number; ino?: number }): boolean {
    const w = this.ownWrites.get(path);
    if (w === undefined) return false;
    this.ownWrites.delete(path);
    if (w.ino !== s.ino || w.size !== s.size || !sameMtime(w, s)) return false;
    // on the index's columns where it has them: once per placed file in a burst, where get()
    // built the whole record (its hash as hex, its version) only to compare four fields
    const index = this.index;
    return index instanceof CompactIndex ? index.holdsFileStat(path, s) : this.statSame(index.get(path), s);
  }

  /**
   * The watcher's early check (src/replica/watchAggregator.ts, ownEcho): a file event whose
   * lstat (taken after the event) is exactly our own placing is dropped before it becomes a
   * batch (no machine event, no queue turn, no second stat). The same check as a batch's
   * ingest makes: a user's write after the placing has another inode, size or mtime (to
   * the microsecond) and is reported; a stat without size or mtime is reported.
   */
  ownEcho(path: string, st: { kind: string; ino: number; size?: number; mtimeMs?: number; mtimeNs?: number }): boolean {
    if (st.kind !== 'file' || st.size === undefined || st.mtimeMs === undefined || !this.loaded || this.closed) return false;
    // (size and mtimeMs checked above; the stat itself is compared, no copy of it made)
    if (!this.takeOwnWrite(path, st as { ino: number; size: number; mtimeMs: number; mtimeNs?: number })) return false;
    this.stats.echoesDropped++;
    return true;
  }

  /** A file we just wrote for a peer: its watcher event is ours, not a user's edit. */
  private rememberOwnWrite(e: Entry): void {
    if (this.ownWrites.size >= 200_000) this.ownWrites.clear(); // events long gone; only costs rehashing
    this.ownWrites.set(e.path, { ino: e.ino!, size: e.size, mtimeMs: e.mtimeMs, mtimeNs: e.mtimeNs });
  }

  private wire(r: IndexRecord, owner = this.owner): WireChange {
    return { tree: this.name, rec: toWireRecord(r, owner) };
  }

  // ---------------------------------------------------------------------------------------
  // Persistence

  private scheduleSave(changed: boolean): void {
    if (changed) {
      const now = this.clock.now();
      if (!this.dirty) this.firstDirtyAt = now;
      this.lastDirtyAt = now;
      this.dirty = true;
    }
    if (!this.dirty || this.saveTimer || this.closed) return;
    this.armSave(this.opts.saveDelayMs ?? 1000);
  }

  private armSave(ms: number): void {
    this.saveTimer = this.clock.setTimeout(() => {
      this.saveTimer = undefined;
      if (this.closed) return;
      // while changes keep coming (a burst), the save (a whole-index encode) waits for a
      // pause, up to a bound: the journal holds the records meanwhile (src/core/savePacing.ts)
      const wait = saveWait(this.clock.now(), this.firstDirtyAt, this.lastDirtyAt, this.opts.saveDelayMs ?? 1000);
      if (wait > 0 && this.dirty) return this.armSave(wait);
      // on the queue: the journal rotation and the index snapshot never fall between a
      // record's journal append and its store (a record acknowledged but in neither)
      void this.enqueue(() => this.beginSave()).catch((err) => this.log.error({ err: (err as Error).message }, 'index save failed'));
    }, ms);
  }

  /**
   * On the queue: rotates the journal and takes the index's snapshot (saveIndex encodes it
   * before its first await); the write and its fsyncs then go on OFF the queue, so batches
   * are applied and acknowledged meanwhile (their records are in the new journal). Holding
   * the queue for the write made every batch that fell on a save wait for a whole-index
   * write and two fsyncs: with 16 peers each saving once a second, a tail of the 16-peer
   * latency (docs/scale.md). `.old` is removed only once the saved index is durable.
   */
  private async beginSave(): Promise<void> {
    if (this.saving) {
      // the previous write is still going: this one starts after it (the index stays dirty)
      void this.saving.then(
        () => this.scheduleSave(false),
        () => this.scheduleSave(false),
      );
      return;
    }
    if (!this.dirty) return;
    this.dirty = false;
    const done = await this.journal.rotate();
    const write = saveIndex(this.opts.stateDir, this.index, { tree: this.name, node: this.node, failed: this.failures.toJSON(), modes: this.modes.toJSON(), ...(this.rootDev !== undefined ? { rootDev: this.rootDev } : {}) });
    const saving = write
      .then(async (r) => {
        await done(); // the saved index covers every journalled record
        this.log.debug({ records: r.records, bytes: r.bytes, ms: Math.round(r.ms) }, 'index saved');
      })
      .catch((err: unknown) => {
        // .old stays (the next rotation keeps its records); saved again at the next chance
        this.dirty = true;
        throw err;
      })
      .finally(() => {
        if (this.saving === saving) this.saving = undefined;
      });
    this.saving = saving;
    saving.catch((err) => this.log.error({ err: (err as Error).message }, 'index save failed'));
  }

  /** Saves the index now (atomic replace), unless nothing changed since the last save; durable on return. */
  async save(): Promise<void> {
    while (this.saving) await this.saving.catch(() => undefined);
    await this.beginSave();
    await this.saving;
  }

  /** Resolves when the index is loaded, the tree stops, or `ms` have passed (the caller looks at `loaded` again). */
  private untilLoaded(ms: number): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      this.loadWaiters.push(done);
    });
  }

  /** Finishes queued work (in-flight writes complete), saves the index. */
  async close(): Promise<void> {
    this.closing = true;
    for (const wake of this.loadWaiters.splice(0)) wake();
    // contents still on their way are not waited for (a stopped sender would hold the stop):
    // their batches are not acknowledged and come again; complete files are still placed
    this.stager.abortAll(new Error(`tree ${this.name} is stopping`));
    await Promise.allSettled([...this.inflight]);
    await this.idle();
    await this.stager.idle();
    this.closed = true;
    this.clock.clearTimeout(this.saveTimer);
    this.clock.clearTimeout(this.retryTimer);
    this.replaced.stop();
    this.saveTimer = undefined;
    await this.save();
    await this.journal.close();
    await this.tree.close();
  }
}
