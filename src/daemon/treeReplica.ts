// One mirrored tree of the daemon: its index (versions and tombstones), its LocalTree (every
// byte through the worker pools) and the rules that join local and remote changes.
//
//   local change (watcher batch or scan) -> stat (+ hash only what changed) -> version tick
//     -> index -> every peer's outbox that shares the tree
//   remote change (peer.changes) -> freshness check (unseen local edits become versions
//     first) -> applyRemoteChange decision -> write through the LocalTree (content fetched
//     from the sender as one tar stream; conflict copy when concurrent) -> index updated
//     with the local stat -> relayed to the other peers' outboxes
//
// Everything that reads or writes the index runs on one serial queue, so a remote write is
// in the index (with its new inode, size and mtime) before the watcher's event for it is
// processed: that event then finds nothing new, and the change is not echoed back.
// The pure decisions are in src/core/treeIndex.ts; the lifecycle (load, watch, scan, live,
// rescan) is the machine in src/machines/treeReplica.ts. See docs/daemon-design.md.
import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, lstat, readlink, rename, stat, symlink, unlink, utimes } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Entry } from '../core/entry.js';
import type { Expected, PackRequest, TreeOp } from '../core/tree.js';
import type { MovePair, SeenPath } from '../core/movePairs.js';
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
}

export interface ReplicaStats {
  localChanges: number;
  remoteApplied: number;
  conflicts: number;
  scans: number;
  filesReceived: number;
  bytesReceived: number;
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

export class TreeReplica implements ReplicaPort {
  readonly name: string;
  /** The path as configured (the replica is remade when a reload changes it). */
  readonly configuredRoot: string;
  readonly root: string;
  readonly tree: LocalTree;
  index: TreeIndex = new Map();
  lastChangeAt: number | null = null;
  loaded = false;
  readonly stats: ReplicaStats = { localChanges: 0, remoteApplied: 0, conflicts: 0, scans: 0, filesReceived: 0, bytesReceived: 0 };
  private readonly node: string;
  private readonly log: Logger;
  private readonly opts: TreeReplicaOptions;
  private chain: Promise<unknown> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private closing = false;
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

  private get owner(): boolean {
    return this.opts.owner === true && process.getuid?.() === 0;
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

  private async scanNow(subtree: string): Promise<{ updates: number; unchanged: number; hashed: number }> {
    const t0 = performance.now();
    this.stats.scans++;
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
    for (const p of expiredTombstones(this.index, now, this.opts.tombstoneKeepMs ?? DEFAULT_TOMBSTONE_KEEP_MS)) this.index.delete(p);
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
        await this.scanNow('');
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
    return mv.records.map((r) => {
      const w = this.wire(r);
      const f = r.deleted ? undefined : from.get(r.entry.path);
      return f !== undefined && r.entry.kind === 'file' ? { ...w, movedFrom: f } : w;
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

  applyRemote(peer: string, changes: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }> {
    // refused (not acknowledged) until the index is here and after a stop: the sender keeps
    // the changes in its outbox and sends them again
    if (this.closed || this.closing) return Promise.reject(new Error(`tree ${this.name} is stopping`));
    return this.enqueue(async () => {
      if (!this.loaded) throw new Error(`tree ${this.name} is not loaded yet`);
      return this.remoteBatch(peer, changes, fetch);
    });
  }

  pack(files: PackRequest[]): Readable {
    return this.tree.pack(files);
  }

  private async remoteBatch(peer: string, changesIn: WireChange[], fetch: ContentFetcher): Promise<{ files: number; bytes: number }> {
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
    const opts = { keepConflicts: this.opts.keepConflicts !== false, owner: this.owner, nowMs: now };
    const adopted: IndexRecord[] = [];
    const removes: IndexRecord[] = [];
    const mkdirs: IndexRecord[] = [];
    const symlinks: IndexRecord[] = [];
    const setattrs: IndexRecord[] = [];
    const fetches: IndexRecord[] = [];
    const conflictCopies: Array<{ path: string; copy: string; how: 'copied' | 'renamed' }> = [];
    const decisions = new Map<string, RemoteDecision>();
    for (const c of changes) decisions.set(c.rec.entry.path, applyRemoteChange(this.index.get(c.rec.entry.path), c.rec, opts));
    // Paired renames: the new path's content is the old path's, which is being deleted: rename.
    const renames: Array<{ from: IndexRecord; to: IndexRecord }> = [];
    const renameSources = new Set<string>();
    for (const c of changes) {
      if (c.movedFrom === undefined) continue;
      const dTo = decisions.get(c.rec.entry.path)!;
      const dFrom = decisions.get(c.movedFrom);
      const src = this.index.get(c.movedFrom);
      if (dTo.action !== 'apply' || !dTo.needsContent || dFrom?.action !== 'apply' || !dFrom.record.deleted) continue;
      if (!isLive(src) || src.entry.kind !== 'file' || src.entry.hash !== dTo.record.entry.hash || renameSources.has(c.movedFrom)) continue;
      renames.push({ from: dFrom.record, to: dTo.record });
      renameSources.add(c.movedFrom);
    }
    const renameTargets = new Set(renames.map((r) => r.to.entry.path));
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
      if (renameSources.has(path) || renameTargets.has(path)) continue;
      if (d.action === 'conflict') {
        try {
          assertSafeRelPath(d.keepLocalAs);
          const how = await this.keepLoser(path, d.keepLocalAs);
          conflictCopies.push({ path, copy: d.keepLocalAs, how });
          this.stats.conflicts++;
          this.log.info({ path, keptAs: d.keepLocalAs, from: peer }, 'conflict: the local version lost and is kept beside the winner');
        } catch (err) {
          // the local version cannot be kept: do not destroy it either; ours stays, theirs is dropped
          this.log.warn({ path, err: (err as Error).message }, 'conflict copy failed; keeping the local version');
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

    // 3. Write: directories (parents first), renames, deletes (deepest first), contents, links, attributes.
    const applied: IndexRecord[] = [];
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
        applied.push(from, to);
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
    let files = 0;
    let bytes = 0;
    let broken: string | undefined;
    if (fetches.length > 0) {
      const expect: Expected[] = fetches.map((r) => {
        const { uid, gid, ino: _ino, ...e } = r.entry;
        return { ...e, ...(this.owner && uid !== undefined ? { uid } : {}), ...(this.owner && gid !== undefined ? { gid } : {}), kind: 'file' } as Expected;
      });
      const offsets = await this.tree.resumeOffsets(expect);
      const tar = fetch(this.name, expect.map((e) => ({ path: e.path, ...(offsets.get(e.path) ? { offset: offsets.get(e.path) } : {}) })));
      const res = await this.tree.unpack(tar, expect);
      const written = new Set(res.written);
      for (const r of fetches) if (written.has(r.entry.path)) applied.push(r);
      for (const f of res.failed) this.log.debug({ path: f.path, error: f.error }, 'content not taken (a newer version follows)');
      files = res.written.length;
      bytes = res.bytes;
      if (res.aborted) broken = res.aborted;
    }
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
    const live = applied.filter((r) => !r.deleted);
    const states = await statPaths(this.root, live.map((r) => r.entry.path));
    const stored: IndexRecord[] = [];
    for (const r of applied.filter((x) => x.deleted)) {
      this.index.set(r.entry.path, r);
      stored.push(r);
    }
    live.forEach((r, i) => {
      const s = states[i]!;
      const entry: Entry = typeof s === 'object' && !('error' in s) ? { ...r.entry, ino: s.ino, uid: s.uid, gid: s.gid } : r.entry;
      const rec: IndexRecord = { entry, version: r.version };
      if (entry.kind === 'file' && entry.ino !== undefined) this.rememberOwnWrite(entry);
      this.index.set(r.entry.path, rec);
      stored.push(rec);
    });

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
    if (relay.length > 0) {
      this.stats.remoteApplied += stored.length;
      this.stats.filesReceived += files;
      this.stats.bytesReceived += bytes;
      this.lastChangeAt = now;
      await this.opts.send(sendOrder(relay).map((r) => this.wire(r)), peer);
    }
    this.scheduleSave(relay.length > 0 || local.length > 0 || fresh.length > 0);
    if (broken) throw new Error(`transfer from ${peer} broken off: ${broken}`);
    return { files, bytes };
  }

  /**
   * Keeps the local loser of a conflict as `copy` before the winner is written: files and
   * links are copied (the original stays in place until the winner replaces it, so a
   * failed transfer loses nothing), a directory losing to a non-directory is renamed.
   */
  private async keepLoser(path: string, copy: string): Promise<'copied' | 'renamed'> {
    const abs = `${this.root}/${path}`;
    const dst = `${this.root}/${copy}`;
    const st = await lstat(abs);
    if (st.isDirectory()) {
      await rename(abs, dst);
      return 'renamed';
    }
    if (st.isSymbolicLink()) await symlink(await readlink(abs), dst);
    else {
      await copyFile(abs, dst, fsConstants.COPYFILE_EXCL);
      await chmod(dst, st.mode & 0o7777);
      await utimes(dst, st.atime, st.mtime);
    }
    return 'copied';
  }

  private async undoKeepLoser(path: string, copy: string, how: 'copied' | 'renamed'): Promise<void> {
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
    await this.idle();
    this.closed = true;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.save();
    await this.tree.close();
  }
}
