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
// rescan) is the machine in src/machines/treeReplica.ts. See docs/daemon-design.md.
import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, lstat, readlink, rename, rm, stat, symlink, unlink, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Entry } from '../core/entry.js';
import type { Expected, PackRequest, TreeOp } from '../core/tree.js';
import type { MovePair, SeenPath } from '../core/movePairs.js';
import { conflictName } from '../core/conflict.js';
import { lastWriter, maxCounter } from '../core/version.js';
import {
  applyLocalChange,
  applyLocalDelete,
  applyLocalMove,
  applyRemoteChange,
  diffScan,
  expiredTombstones,
  inSubtree,
  isLive,
  putRecords,
  type IndexRecord,
  type RemoteDecision,
  type TreeIndex,
} from '../core/treeIndex.js';
import { loadIndex, saveIndex, type LoadResult } from '../actors/indexStore.js';
import { LocalTree } from '../engine/localTree.js';
import { assertRealDirChain, assertSafeRelPath, parentOf } from '../engine/paths.js';
import { silentLogger, type Logger } from '../log.js';
import { toWireRecord, type ContentFetcher, type ReplicaPort, type WireChange } from './peerProtocol.js';
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
  /** The index is saved this long after a change (default 1000 ms), and on close. */
  saveDelayMs?: number;
  /**
   * The current keepConflicts / owner / tombstoneKeepMs, asked at each use (they follow the
   * configuration's `conflicts`, `owner` and `tombstones` across reloads); overrides the above.
   */
  settings?: () => ReplicaSettings;
}

export interface ReplicaSettings {
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
}

/** Watcher batches larger than this are handled as one rescan (a worker walk beats many lstats). */
const RESCAN_INSTEAD_OF_BATCH = 4000;

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}
const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const deepestFirst = (a: IndexRecord, b: IndexRecord): number => depth(b.entry.path) - depth(a.entry.path) || byPath(a.entry.path, b.entry.path);
const parentsFirst = (a: IndexRecord, b: IndexRecord): number => depth(a.entry.path) - depth(b.entry.path) || byPath(a.entry.path, b.entry.path);

/** Deletes deepest first, then everything else parents first: the order a receiver can apply. */
function sendOrder(records: IndexRecord[]): IndexRecord[] {
  const dead = records.filter((r) => r.deleted).sort(deepestFirst);
  const live = records.filter((r) => !r.deleted).sort(parentsFirst);
  return [...dead, ...live];
}

/** Contents fetched from one peer are staged here, inside the tree (same file system; ignored by scans and the watcher). */
const STAGE_PREFIX = '.omirr-part.stage-';

interface Staged {
  root: string;
  written: Set<string>;
  aborted?: string;
}

interface BatchStart {
  /** Records whose content is fetched in step 2 and decided again in step 3. */
  deferred: IndexRecord[];
  /** Winners not applied because the loser could not be kept. */
  unkept: string[];
  /** New path -> old path of the batch's paired renames. */
  movedFrom: Map<string, string>;
  /** Paths relayed in step 1. */
  relayed: Set<string>;
  broken?: string;
}

/** How a conflict's loser was kept: copied, renamed aside (a directory), or already there. */
type KeepHow = 'copied' | 'renamed' | 'existed';

/** The loser's conflict name with a tag after the node: `a.omirr-conflict-…-NODE-TAG.txt` (shortened like any conflict name). */
function taggedConflictName(path: string, loser: IndexRecord, tag: string): string {
  return conflictName(path, new Date(maxCounter(loser.version)), `${lastWriter(loser.version)}-${tag}`);
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
  readonly stats: ReplicaStats = { localChanges: 0, remoteApplied: 0, conflicts: 0, scans: 0, filesReceived: 0, bytesReceived: 0, receivedFrom: {}, scansBy: {}, fetches: 0, dirsMoved: 0, filesRenamed: 0 };
  private readonly node: string;
  private readonly log: Logger;
  private readonly opts: TreeReplicaOptions;
  private chain: Promise<unknown> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private closing = false;
  /** Batches between their first and last step (close waits for them). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Content streams being received (close breaks them off: the batches are sent again later). */
  private readonly fetching = new Set<Readable>();
  /** Per sender: the tail of its staging chain. */
  private readonly fetchChains = new Map<string, Promise<void>>();
  /** Files written from peers whose watcher event has not come back yet: path -> stat. */
  private readonly ownWrites = new Map<string, { ino: number; size: number; mtimeMs: number }>();

  constructor(opts: TreeReplicaOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.configuredRoot = opts.root;
    this.node = opts.node;
    this.log = (opts.log ?? silentLogger).child({ tree: opts.name });
    this.tree = new LocalTree(opts.root, { writable: true, create: true, log: this.log });
    this.root = this.tree.root;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private get settings(): ReplicaSettings {
    const o = this.opts;
    return { keepConflicts: o.keepConflicts, owner: o.owner, tombstoneKeepMs: o.tombstoneKeepMs, ...o.settings?.() };
  }

  private get owner(): boolean {
    return this.settings.owner === true && process.getuid?.() === 0;
  }

  /** Live files in the index (what `omirr status` shows). */
  fileCount(): number {
    let n = 0;
    for (const r of this.index.values()) if (!r.deleted && r.entry.kind === 'file') n++;
    return n;
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
    const r = await loadIndex(this.opts.stateDir, this.name);
    const rootMissing = await stat(this.root).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    // An index with files and no root: a missing mount, not a deleted tree. Scanning it would
    // send a delete of every file to every peer, so the tree fails instead (and is retried).
    if (rootMissing && [...r.index.values()].some((x) => !x.deleted)) throw new Error(`${this.root}: the tree's directory is missing (index has files); not starting it`);
    if (r.status === 'corrupt') this.log.warn({ error: r.error, path: r.path }, 'index unusable: every file is rehashed');
    if (r.meta?.node && r.meta.node !== this.node) this.log.warn({ indexNode: r.meta.node }, 'index written by another node');
    this.index = r.index;
    this.loaded = true;
    this.log.info({ status: r.status, records: r.index.size, ms: Math.round(r.ms) }, 'index loaded');
    return r;
  }

  // ---------------------------------------------------------------------------------------
  // Local changes

  /** A full scan ('' ) or a subtree rescan: compares with the index by size, mtime and inode. */
  scan(subtree = ''): Promise<{ updates: number; unchanged: number; hashed: number }> {
    return this.enqueue(() => this.scanNow(subtree));
  }

  private async scanNow(subtree: string, reason = this.stats.scans === 0 ? 'initial' : 'requested'): Promise<{ updates: number; unchanged: number; hashed: number }> {
    const t0 = performance.now();
    this.stats.scans++;
    this.stats.scansBy[reason] = (this.stats.scansBy[reason] ?? 0) + 1;
    const now = Date.now();
    const all = await this.tree.scan();
    const entries = subtree === '' ? all : all.filter((e) => inSubtree(e.path, subtree));
    const d = diffScan(this.index, entries, this.node, now, { subtree, owner: this.owner });
    const updates = [...d.updates];
    const refreshed = [...d.refreshed];
    if (d.needsHash.length > 0) {
      const hashes = await this.tree.hashFiles(d.needsHash.map((e) => e.path));
      for (const e of d.needsHash) {
        const h = hashes.get(e.path);
        if (h === undefined) continue; // vanished meanwhile: its event follows
        const { record, changed } = applyLocalChange(this.index.get(e.path), { ...e, hash: h }, this.node, now, { owner: this.owner });
        (changed ? updates : refreshed).push(record);
      }
    }
    putRecords(this.index, refreshed);
    const sent = sendOrder([...d.vanished, ...updates]);
    putRecords(this.index, sent);
    for (const p of expiredTombstones(this.index, now, this.settings.tombstoneKeepMs ?? DEFAULT_TOMBSTONE_KEEP_MS)) this.index.delete(p);
    if (sent.length > 0) {
      this.stats.localChanges += sent.length;
      this.lastChangeAt = now;
      await this.opts.send(sent.map((r) => this.wire(r)));
    }
    this.scheduleSave(sent.length > 0 || refreshed.length > 0);
    const r = { updates: sent.length, unchanged: d.unchanged, hashed: d.needsHash.length };
    this.log.info({ subtree: subtree || '.', entries: entries.length, ...r, ms: Math.round(performance.now() - t0) }, 'scanned');
    return r;
  }

  /** A watcher batch: moves first (paired renames), then the other paths as they are now. */
  localChanges(changes: SeenPath[], moves: MovePair[]): Promise<void> {
    return this.enqueue(async () => {
      if (changes.length + moves.length > RESCAN_INSTEAD_OF_BATCH) {
        await this.scanNow('', 'burst');
        return;
      }
      const now = Date.now();
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
        await this.opts.send(out);
        this.scheduleSave(true);
      }
    });
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
    putRecords(this.index, mv.records);
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
        const statSame =
          isLive(prev) && prev.entry.kind === 'file' && prev.entry.hash !== undefined && prev.entry.size === s.size && prev.entry.mtimeMs === s.mtimeMs && prev.entry.ino === s.ino;
        // A watcher event means the file was written: stat alone cannot tell a rewrite of the
        // same size in the same millisecond, so only our own writes (the echo of a remote
        // change, remembered with their stat) skip the hash.
        let trusted = statSame;
        if (trust === 'own-writes') {
          const w = this.ownWrites.get(p);
          this.ownWrites.delete(p);
          trusted = statSame && w !== undefined && w.ino === s.ino && w.size === s.size && w.mtimeMs === s.mtimeMs;
        }
        if (trusted) ready.push({ ...s, hash: prev!.entry.hash! });
        else toHash.push(s);
      } else ready.push(s);
    }
    if (toHash.length > 0) {
      const hashes = await this.tree.hashFiles(toHash.map((e) => e.path));
      for (const e of toHash) {
        const h = hashes.get(e.path);
        if (h !== undefined) ready.push({ ...e, hash: h });
        // else: vanished between stat and hash; its own event reports the delete
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
    putRecords(this.index, ordered);
    return ordered;
  }

  // ---------------------------------------------------------------------------------------
  // Remote changes

  /**
   * A batch of changes from `peer`, in three steps so that a slow sender never holds up the
   * tree's other work (local changes, other peers' batches):
   *  1. on the queue: decide every record, write what needs no content from the sender
   *     (directories, renames, deletes, links, attributes), store and relay it;
   *  2. off the queue: fetch the contents the decisions asked for from the sender into a
   *     staging directory of this tree (hash-verified, mode and mtime set), one fetch at a
   *     time per sender;
   *  3. on the queue again: decide each fetched file once more against the index as it is
   *     now (another peer's newer version, or a local edit, may have arrived meanwhile) and
   *     rename the winners into place; store and relay them.
   * Resolves once all of it is durable (the sender's acknowledgement); rejects when anything
   * must be sent again.
   */
  applyRemote(peer: string, changes: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }> {
    // refused (not acknowledged) until the index is here and after a stop: the sender keeps
    // the changes in its outbox and sends them again
    if (this.closed || this.closing) return Promise.reject(new Error(`tree ${this.name} is stopping`));
    const run = (async () => {
      const a = await this.enqueue(async () => {
        if (!this.loaded) throw new Error(`tree ${this.name} is not loaded yet`);
        return this.remoteBatch(peer, changes);
      });
      let files = 0;
      let bytes = 0;
      let broken = a.broken;
      let unkept = a.unkept;
      if (a.deferred.length > 0) {
        const staged = await this.serialPerPeer(peer, () => this.stage(peer, a.deferred, fetch));
        try {
          const c = await this.enqueue(() => this.placeStaged(peer, a.deferred, staged, a.movedFrom, a.relayed));
          files = c.files;
          bytes = c.bytes;
          unkept = [...unkept, ...c.unkept];
        } finally {
          // what was not placed (an older version by now) goes; partial large files stay for
          // a resume when the transfer broke off
          if (!staged.aborted) await rm(staged.root, { recursive: true, force: true }).catch(() => undefined);
        }
        broken ??= staged.aborted;
      }
      if (broken) throw new Error(`transfer from ${peer} broken off: ${broken}`);
      if (unkept.length > 0) throw new Error(`conflict copies could not be made for ${unkept.length} path(s) (${unkept.slice(0, 3).join(', ')}); the batch will be sent again`);
      return { files, bytes };
    })();
    this.inflight.add(run);
    void run.then(
      () => this.inflight.delete(run),
      () => this.inflight.delete(run),
    );
    return run;
  }

  /** Runs `fn` after the previous staging from the same peer (one staging directory each). */
  private serialPerPeer<T>(peer: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.fetchChains.get(peer) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.fetchChains.set(peer, tail);
    void tail.then(() => {
      if (this.fetchChains.get(peer) === tail) this.fetchChains.delete(peer);
    });
    return run;
  }

  /** Step 2 (off the queue): the contents of `recs`, from `peer`, into the staging directory. */
  private async stage(peer: string, recs: IndexRecord[], fetch: ContentFetcher): Promise<Staged> {
    const root = `${this.root}/${STAGE_PREFIX}${peer}`;
    const tree = new LocalTree(root, { writable: true, create: true, log: this.log });
    const expect: Expected[] = recs.map((r) => {
      const { uid, gid, ino: _ino, ...e } = r.entry;
      return { ...e, ...(this.owner && uid !== undefined ? { uid } : {}), ...(this.owner && gid !== undefined ? { gid } : {}), kind: 'file' } as Expected;
    });
    const offsets = await tree.resumeOffsets(expect);
    this.stats.fetches++;
    const tar = fetch(this.name, expect.map((e) => ({ path: e.path, ...(offsets.get(e.path) ? { offset: offsets.get(e.path) } : {}) })));
    this.fetching.add(tar);
    try {
      const res = await tree.unpack(tar, expect);
      for (const f of res.failed) this.log.debug({ path: f.path, error: f.error }, 'content not taken (a newer version follows)');
      return { root, written: new Set(res.written), ...(res.aborted ? { aborted: res.aborted } : {}) };
    } finally {
      this.fetching.delete(tar);
    }
  }

  /** Step 3 (on the queue): the staged files that still win go into place. */
  private async placeStaged(
    peer: string,
    recs: IndexRecord[],
    staged: Staged,
    movedFrom: Map<string, string>,
    relayedBefore: Set<string>,
  ): Promise<{ files: number; bytes: number; unkept: string[] }> {
    const now = Date.now();
    const arrived = recs.filter((r) => staged.written.has(r.entry.path));
    // freshness again: a local edit made while the content was on its way is a version first
    const fresh = await this.ingestPaths(
      arrived.map((r) => r.entry.path),
      now,
    );
    if (fresh.length > 0) {
      this.stats.localChanges += fresh.length;
      await this.opts.send(fresh.map((r) => this.wire(r)));
    }
    const opts = { keepConflicts: this.settings.keepConflicts !== false, owner: this.owner, nowMs: now };
    const applied: IndexRecord[] = [];
    const adopted: IndexRecord[] = [];
    const conflictCopies: Array<{ path: string; copy: string; how: KeepHow }> = [];
    const unkept: string[] = [];
    let files = 0;
    for (const r of arrived) {
      const path = r.entry.path;
      const local = this.index.get(path);
      const d = applyRemoteChange(local, r, opts);
      if (this.log.isLevelEnabled('debug')) {
        this.log.debug({ path, from: peer, action: d.action, ...(d.action === 'ignore' ? { reason: d.reason } : {}), local: local?.version ?? null, remote: r.version }, 'remote decision (content arrived)');
      }
      if (d.action === 'ignore') continue;
      if (d.action === 'adopt') {
        const rec = !d.record.deleted && isLive(local) ? { ...d.record, entry: { ...d.record.entry, ino: local.entry.ino } } : d.record;
        this.index.set(path, rec);
        adopted.push(rec);
        continue;
      }
      if (d.record.deleted || d.record.entry.kind !== 'file') continue;
      if (d.action === 'conflict') {
        try {
          assertSafeRelPath(d.keepLocalAs);
          const kept = await this.keepLoser(path, d.keepLocalAs, local);
          conflictCopies.push({ path, copy: kept.copy, how: kept.how });
          this.stats.conflicts++;
          this.log.info({ path, keptAs: kept.copy, how: kept.how, from: peer }, 'conflict: the local version lost and is kept beside the winner');
        } catch (err) {
          this.log.warn({ path, err: (err as Error).message }, 'conflict copy failed; the winner is retried later');
          unkept.push(path);
          continue;
        }
      }
      try {
        assertRealDirChain(this.root, parentOf(path), new Set(), true);
        await rename(`${staged.root}/${path}`, `${this.root}/${path}`);
        applied.push(d.record);
        files++;
      } catch (err) {
        this.log.warn({ path, err: (err as Error).message }, 'could not put a file from a peer in place');
      }
    }
    const recheck: string[] = [];
    const stored = await this.storeApplied(applied, recheck);
    const appliedPaths = new Set(applied.map((r) => r.entry.path));
    const kept: string[] = [];
    for (const k of conflictCopies) {
      if (appliedPaths.has(k.path)) kept.push(k.copy);
      else await this.undoKeepLoser(k.path, k.copy, k.how);
    }
    const local = await this.ingestPaths([...kept, ...recheck], now);
    if (local.length > 0) await this.opts.send(local.map((r) => this.wire(r)));
    const bytes = applied.reduce((n, r) => n + r.entry.size, 0);
    const relay = [...adopted, ...stored];
    if (relay.length > 0) {
      this.stats.remoteApplied += stored.length;
      this.stats.filesReceived += files;
      this.stats.bytesReceived += bytes;
      const from = (this.stats.receivedFrom[peer] ??= { files: 0, bytes: 0 });
      from.files += files;
      from.bytes += bytes;
      this.lastChangeAt = now;
      await this.relay(relay, peer, movedFrom, relayedBefore);
    }
    this.scheduleSave(relay.length > 0 || local.length > 0 || fresh.length > 0);
    return { files, bytes, unkept };
  }

  /** Appends what was applied to the other peers' outboxes; a rename stays a rename down a chain. */
  private async relay(recs: IndexRecord[], peer: string, movedFrom: Map<string, string>, relayedBefore: Set<string>): Promise<void> {
    const relayed = new Set(recs.map((r) => r.entry.path));
    await this.opts.send(
      sendOrder(recs).map((r) => {
        const f = r.deleted ? undefined : movedFrom.get(r.entry.path);
        return f !== undefined && (relayed.has(f) || relayedBefore.has(f)) ? { ...this.wire(r), movedFrom: f } : this.wire(r);
      }),
      peer,
    );
    for (const p of relayed) relayedBefore.add(p);
  }

  pack(files: PackRequest[]): Readable {
    return this.tree.pack(files);
  }

  /** Step 1 (on the queue): decide, write what needs no content, store, relay; returns the files to fetch. */
  private async remoteBatch(peer: string, changesIn: WireChange[]): Promise<BatchStart> {
    const now = Date.now();
    // A later record of the same path from the same sender supersedes an earlier one.
    const last = new Map<string, WireChange>();
    for (const c of changesIn) {
      last.delete(c.rec.entry.path);
      last.set(c.rec.entry.path, c);
    }
    const changes = [...last.values()];

    // 1. Freshness: a local edit the watcher has not reported yet becomes a version now, so
    //    the decision below sees it (and keeps it as a conflict copy) instead of overwriting it.
    const fresh = await this.ingestPaths([...last.keys()], now);
    if (fresh.length > 0) {
      this.stats.localChanges += fresh.length;
      await this.opts.send(fresh.map((r) => this.wire(r)));
    }

    // 2. Decide.
    const opts = { keepConflicts: this.settings.keepConflicts !== false, owner: this.owner, nowMs: now };
    const adopted: IndexRecord[] = [];
    const removes: IndexRecord[] = [];
    const mkdirs: IndexRecord[] = [];
    const symlinks: IndexRecord[] = [];
    const setattrs: IndexRecord[] = [];
    const fetches: IndexRecord[] = [];
    const conflictCopies: Array<{ path: string; copy: string; how: KeepHow }> = [];
    /** Winners not applied because the local loser could not be kept: the batch is refused after the rest is done. */
    const unkept: string[] = [];
    const decisions = new Map<string, RemoteDecision>();
    const debug = this.log.isLevelEnabled('debug');
    for (const c of changes) {
      const local = this.index.get(c.rec.entry.path);
      const d = applyRemoteChange(local, c.rec, opts);
      decisions.set(c.rec.entry.path, d);
      // the trace a convergence failure is debugged from: who sent what, against what we had
      if (debug) {
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
    const renames: Array<{ from: IndexRecord; to: IndexRecord }> = [];
    const renameSources = new Set<string>(carried);
    for (const c of changes) {
      if (c.movedFrom === undefined || carried.has(c.rec.entry.path) || c.rec.entry.kind !== 'file') continue;
      const dTo = decisions.get(c.rec.entry.path)!;
      const dFrom = decisions.get(c.movedFrom);
      const src = this.index.get(c.movedFrom);
      if (dTo.action !== 'apply' || !dTo.needsContent || dFrom?.action !== 'apply' || !dFrom.record.deleted) continue;
      if (!isLive(src) || src.entry.kind !== 'file' || src.entry.hash !== dTo.record.entry.hash || renameSources.has(c.movedFrom)) continue;
      renames.push({ from: dFrom.record, to: dTo.record });
      renameSources.add(c.movedFrom);
    }
    const renameTargets = new Set(renames.map((r) => r.to.entry.path));
    const carriedRecs: IndexRecord[] = [];
    for (const c of changes) {
      const path = c.rec.entry.path;
      const d = decisions.get(path)!;
      if (d.action === 'ignore') continue;
      if (d.action === 'adopt') {
        const prev = this.index.get(path);
        const rec = !d.record.deleted && isLive(prev) ? { ...d.record, entry: { ...d.record.entry, ino: prev.entry.ino } } : d.record;
        this.index.set(path, rec);
        adopted.push(rec);
        continue;
      }
      if (carried.has(path)) {
        carriedRecs.push(d.record);
        continue;
      }
      if (renameSources.has(path) || renameTargets.has(path)) continue;
      // contents come in step 3, which decides again (and makes the conflict copy) then
      if (!d.record.deleted && d.record.entry.kind === 'file' && d.needsContent) {
        fetches.push(d.record);
        continue;
      }
      if (d.action === 'conflict') {
        try {
          assertSafeRelPath(d.keepLocalAs);
          const kept = await this.keepLoser(path, d.keepLocalAs, this.index.get(path));
          conflictCopies.push({ path, copy: kept.copy, how: kept.how });
          this.stats.conflicts++;
          this.log.info({ path, keptAs: kept.copy, how: kept.how, from: peer }, 'conflict: the local version lost and is kept beside the winner');
        } catch (err) {
          // The local version cannot be kept: it is not destroyed, and the winner is not
          // dropped either (acknowledging it unapplied would leave this node different from
          // the others for good): the batch is refused once the rest is applied, and the
          // sender sends it again.
          this.log.warn({ path, err: (err as Error).message }, 'conflict copy failed; the winner is retried later');
          unkept.push(path);
          continue;
        }
      }
      const rec = d.record;
      if (rec.deleted) removes.push(rec);
      else if (rec.entry.kind === 'dir') mkdirs.push(rec);
      else if (rec.entry.kind === 'symlink') symlinks.push(rec);
      else if (d.needsContent) fetches.push(rec);
      else setattrs.push(rec);
    }

    // 3. Write: directories (parents first), renames, deletes (deepest first), links, attributes
    //    (file contents: steps 2 and 3 of applyRemote).
    const applied: IndexRecord[] = [...carriedRecs];
    this.stats.filesRenamed += carriedRecs.filter((r) => !r.deleted && r.entry.kind === 'file').length;
    const recheck: string[] = [];
    const runOps = async (recs: IndexRecord[], toOp: (r: IndexRecord) => TreeOp, onFail?: (r: IndexRecord, error: string) => void): Promise<void> => {
      if (recs.length === 0) return;
      const res = await this.tree.apply(recs.map(toOp));
      for (let i = 0; i < recs.length; i++) {
        if (res[i]!.ok) applied.push(recs[i]!);
        else if (onFail) onFail(recs[i]!, res[i]!.error ?? 'failed');
        else this.log.warn({ path: recs[i]!.entry.path, error: res[i]!.error }, 'could not apply a change from a peer');
      }
    };
    await runOps(mkdirs.sort(parentsFirst), (r) => ({ op: 'mkdir', path: r.entry.path, mode: r.entry.mode }));
    for (const { from, to } of renames) {
      try {
        assertRealDirChain(this.root, parentOf(to.entry.path), new Set(), true);
        await rename(`${this.root}/${from.entry.path}`, `${this.root}/${to.entry.path}`);
        this.stats.filesRenamed++;
        applied.push(from);
        // the sender may have touched it too (same bytes): its mode and mtime are the record's
        const src = this.index.get(from.entry.path)?.entry;
        if (src && (src.mode !== to.entry.mode || src.mtimeMs !== to.entry.mtimeMs)) setattrs.push(to);
        else applied.push(to);
      } catch (err) {
        this.log.debug({ from: from.entry.path, to: to.entry.path, err: (err as Error).message }, 'rename failed; fetching instead');
        removes.push(from);
        fetches.push(to);
      }
    }
    await runOps(removes.sort(deepestFirst), (r) => ({ op: 'remove', path: r.entry.path }), (r, error) => {
      // e.g. a directory that is not empty here: the delete is recorded, and what is still
      // there comes back as a newer local version, so every node ends up with it
      this.log.info({ path: r.entry.path, error }, 'delete from a peer not applied; keeping what is here');
      this.index.set(r.entry.path, r);
      recheck.push(r.entry.path);
    });
    await runOps(symlinks, (r) => ({ op: 'symlink', path: r.entry.path, target: r.entry.target ?? '' }));
    await runOps(setattrs, (r) => ({
      op: 'setattr',
      path: r.entry.path,
      mode: r.entry.mode,
      mtimeMs: r.entry.mtimeMs,
      ...(this.owner ? { uid: r.entry.uid, gid: r.entry.gid } : {}),
    }));

    // 4. Store with the local stat (inode, owner): the watcher's event for these writes finds
    //    them unchanged, which is what stops the echo.
    const stored = await this.storeApplied(applied, recheck);

    // 5. What this batch made local: conflict copies, deletes that could not be done. A
    //    conflict whose winner could not be written (the sender changed it meanwhile; its
    //    newer version follows) is undone, so the loser is neither lost nor duplicated.
    const appliedPaths = new Set(applied.map((r) => r.entry.path));
    const kept: string[] = [];
    for (const k of conflictCopies) {
      if (appliedPaths.has(k.path)) kept.push(k.copy);
      else await this.undoKeepLoser(k.path, k.copy, k.how);
    }
    const local = await this.ingestPaths([...kept, ...recheck], now);
    if (local.length > 0) await this.opts.send(local.map((r) => this.wire(r)));

    // 6. Relay to the other peers (durably, before the sender gets its acknowledgement).
    const relay = [...adopted, ...stored];
    const movedFrom = new Map<string, string>();
    for (const c of changes) if (c.movedFrom !== undefined) movedFrom.set(c.rec.entry.path, c.movedFrom);
    const relayed = new Set<string>();
    if (relay.length > 0) {
      this.stats.remoteApplied += stored.length;
      this.lastChangeAt = now;
      await this.relay(relay, peer, movedFrom, relayed);
    }
    this.scheduleSave(relay.length > 0 || local.length > 0 || fresh.length > 0);
    return { deferred: fetches, unkept, movedFrom, relayed };
  }

  /** Stores written records with the local stat (inode, owner) and remembers our own writes. */
  private async storeApplied(applied: IndexRecord[], recheck: string[]): Promise<IndexRecord[]> {
    const live = applied.filter((r) => !r.deleted);
    const states = await statPaths(this.root, live.map((r) => r.entry.path));
    const stored: IndexRecord[] = [];
    for (const r of applied.filter((x) => x.deleted)) {
      this.index.set(r.entry.path, r);
      stored.push(r);
    }
    live.forEach((r, i) => {
      const s = states[i]!;
      const ok = typeof s === 'object' && !('error' in s);
      // A user's write between our rename-into-place and this stat (same inode, written in
      // place) must not be taken for our own: with its stat stored and remembered, its event
      // would skip the hash and the new content would never be sent. So the stat is trusted
      // only when it is what we wrote (size, mtime); otherwise the record keeps no inode (any
      // scan rehashes it) and the path is checked again below, as a local change.
      const asWritten = ok && (r.entry.kind !== 'file' || (s.kind === 'file' && s.size === r.entry.size && s.mtimeMs === r.entry.mtimeMs));
      const entry: Entry = ok && asWritten ? { ...r.entry, ino: s.ino, uid: s.uid, gid: s.gid } : r.entry;
      const rec: IndexRecord = { entry, version: r.version };
      if (entry.kind === 'file' && entry.ino !== undefined) this.rememberOwnWrite(entry);
      else if (ok && !asWritten) {
        this.ownWrites.delete(r.entry.path);
        recheck.push(r.entry.path);
        this.log.debug({ path: r.entry.path }, 'changed locally right after it was written from a peer: checked again');
      }
      this.index.set(r.entry.path, rec);
      stored.push(rec);
    });

    return stored;
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
      const free = await lstat(`${this.root}/${to}`).then(
        () => false,
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      );
      if (!free) return null;
      await rename(`${this.root}/${from}`, `${this.root}/${to}`);
    } catch (err) {
      this.log.debug({ from, to, err: (err as Error).message }, 'directory rename not possible here; applying its records one by one');
      return null;
    }
    this.log.debug({ from, to, records: paths.length }, 'directory moved in one rename');
    return paths;
  }

  /**
   * Keeps the local loser of a conflict beside the winner before the winner is written:
   * files and links are copied (the original stays in place until the winner replaces it,
   * so a failed transfer loses nothing), a directory losing to a non-directory is renamed.
   *
   * The name (`copy`, from the losing version's second and writer) can already be taken:
   *  - by the same content: the copy another node made of this very loser, mirrored here
   *    already. Nothing to copy ('existed');
   *  - by other content: another loser of the same writer in the same second. The copy
   *    then gets the loser's content hash in its name (…-NODE-HASH8.EXT), which every node
   *    facing the same collision derives alike.
   * Throws when no name is free (the caller refuses the batch, nothing is lost).
   */
  private async keepLoser(path: string, copy: string, loser: IndexRecord | undefined): Promise<{ copy: string; how: KeepHow }> {
    const abs = `${this.root}/${path}`;
    const st = await lstat(abs);
    const target = st.isSymbolicLink() ? await readlink(abs) : undefined;
    const hash = st.isFile() && isLive(loser) && loser.entry.kind === 'file' ? loser.entry.hash : undefined;
    const names = [copy];
    if (hash !== undefined) names.push(taggedConflictName(path, loser!, hash.slice(0, 8)), taggedConflictName(path, loser!, hash.slice(0, 16)));
    for (const name of names) {
      assertSafeRelPath(name);
      const dst = `${this.root}/${name}`;
      const there = await lstat(dst).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (there) {
        if (await this.sameLoser(name, there, st, target, hash)) return { copy: name, how: 'existed' };
        continue;
      }
      if (st.isDirectory()) {
        await rename(abs, dst);
        return { copy: name, how: 'renamed' };
      }
      if (target !== undefined) await symlink(target, dst);
      else {
        await copyFile(abs, dst, fsConstants.COPYFILE_EXCL);
        await chmod(dst, st.mode & 0o7777);
        // the index's (rounded) mtime, not the sub-millisecond one: every node's copy of this
        // loser then has the same mtime, and the copies merge instead of conflicting again
        const mtimeMs = isLive(loser) ? loser.entry.mtimeMs : Math.round(st.mtimeMs);
        await utimes(dst, st.atime, new Date(mtimeMs));
      }
      return { copy: name, how: 'copied' };
    }
    throw new Error(`${path}: every conflict name is taken by other content (${names.join(', ')})`);
  }

  /** Is the existing `name` already a copy of the loser (same bytes, or the same link)? */
  private async sameLoser(name: string, there: Stats, st: Stats, target: string | undefined, hash: string | undefined): Promise<boolean> {
    if (target !== undefined) return there.isSymbolicLink() && (await readlink(`${this.root}/${name}`)) === target;
    if (!st.isFile() || !there.isFile() || hash === undefined || there.size !== st.size) return false;
    return (await this.tree.hashFiles([name])).get(name) === hash;
  }

  private async undoKeepLoser(path: string, copy: string, how: KeepHow): Promise<void> {
    if (how === 'existed') return; // not ours to remove: it was there before
    try {
      if (how === 'renamed') await rename(`${this.root}/${copy}`, `${this.root}/${path}`);
      else await unlink(`${this.root}/${copy}`);
    } catch (err) {
      this.log.warn({ path, copy, err: (err as Error).message }, 'could not undo a conflict copy');
    }
  }

  /** A file we just wrote for a peer: its watcher event is ours, not a user's edit. */
  private rememberOwnWrite(e: Entry): void {
    if (this.ownWrites.size >= 200_000) this.ownWrites.clear(); // events long gone; only costs rehashing
    this.ownWrites.set(e.path, { ino: e.ino!, size: e.size, mtimeMs: e.mtimeMs });
  }

  private wire(r: IndexRecord): WireChange {
    return { tree: this.name, rec: toWireRecord(r, this.owner) };
  }

  // ---------------------------------------------------------------------------------------
  // Persistence

  private scheduleSave(changed: boolean): void {
    if (changed) this.dirty = true;
    if (!this.dirty || this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save().catch((err) => this.log.error({ err: (err as Error).message }, 'index save failed'));
    }, this.opts.saveDelayMs ?? 1000);
    this.saveTimer.unref();
  }

  /** Saves the index now (atomic replace), unless nothing changed since the last save. */
  async save(): Promise<void> {
    while (this.saving) await this.saving;
    if (!this.dirty) return;
    this.dirty = false;
    this.saving = saveIndex(this.opts.stateDir, this.index, { tree: this.name, node: this.node })
      .then((r) => this.log.debug({ records: r.records, bytes: r.bytes, ms: Math.round(r.ms) }, 'index saved'))
      .finally(() => (this.saving = undefined));
    await this.saving;
  }

  /** Finishes queued work (in-flight writes complete), saves the index. */
  async close(): Promise<void> {
    this.closing = true;
    // contents still on their way are not waited for (a stopped sender would hold the stop):
    // their batches are not acknowledged and come again; complete files are still placed
    for (const t of this.fetching) t.destroy(new Error(`tree ${this.name} is stopping`));
    await Promise.allSettled([...this.inflight]);
    await this.idle();
    this.closed = true;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.save();
    await this.tree.close();
  }
}
