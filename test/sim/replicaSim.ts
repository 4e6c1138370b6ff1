// The deterministic simulation of the replica (issue 9): three or more replicas run the
// REAL planner (src/replica/planner.ts, and through it the version and conflict rules of
// src/core) and the REAL executor (src/replica/executor.ts, with the placing code of
// src/replica/placement.ts) over in-memory file systems (memFs.ts, a ReplicaFs), with a
// simulated clock and a seeded scheduler that interleaves: users' writes (replacing and in
// place), renames, deletes, mkdirs and chmods; watcher events; batch deliveries between any
// pair (each sender's outbox in order, the senders interleaved), duplicates, cut links (lost
// acknowledgements); user writes between the planning and the change of a record (the
// executor's round yields there); crashes at any step (what is not durable is lost: the
// index since its last save, the watcher's pending paths, batches in flight); injected
// EPERM and ENOSPC that clear later; clock skew between nodes.
//
// After quiescence it asserts:
//  - identical trees on every node;
//  - every file's content is one a user wrote;
//  - every content a user wrote and nobody replaced or deleted while seeing it (a user's
//    own later write to the same path on the same node) still exists somewhere (the winner,
//    or a conflict copy): no lost write;
//  - no temporary names (.omirr-part.*) left, no out-of-sync items left.
//
// What is the daemon's own code here: the planner, the executor's rounds (plan, journal
// check, re-check and change, conflict copies, failed items), the placing primitives, the
// journal replay, FailedItems. What mirrors src/daemon/treeReplica.ts around them: the
// freshness ingest, the journal appends, the staging (the transport is simpler: a record
// carries its content, hash = content), the store with the local stat, the relay, the
// index save and the restart; and there are no workers (everything is synchronous between
// the scheduler's steps).
import { diffScan, expectOf, putRecords, type IndexRecord, type TreeIndex } from '../../src/core/treeIndex.js';
import type { Entry } from '../../src/core/entry.js';
import { rng } from '../../src/core/random.js';
import { lastPerPath, planLocalBatch, planRemoteRecord, replayJournal, type LocalObservation, type RemoteAction } from '../../src/replica/planner.js';
import { recoverAside, settleReplaced, tidyAside } from '../../src/replica/placement.js';
import { emptyOutcome, PLACE_ROUNDS, ReplicaExecutor, type RoundContext } from '../../src/replica/executor.js';
import { versionKey } from '../../src/core/version.js';
import { FailedItems, type FailedItem } from '../../src/replica/failures.js';
import { MemFs } from './memFs.js';

const ROOT = '/t';
const TEMP = '.omirr-part.';

/** A journalled record's key within a batch (its path and version), as TreeReplica keeps it. */
function journalKey(r: IndexRecord): string {
  return `${r.entry.path}\0${versionKey(r.version)}`;
}

interface OutRec {
  seq: number;
  rec: IndexRecord;
}

interface Flight {
  from: string;
  to: string;
  last: number;
  gen: Generator<void, boolean>;
  /** A crash of either end or a cut link since it started: no acknowledgement. */
  lost: boolean;
  /** Its first step ran: the receiver's queue is busy with it until it returns. */
  started?: boolean;
}

export interface SimOptions {
  nodes?: number;
  steps?: number;
  /** Print every step (a failing seed's replay). */
  trace?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  violations: string[];
  stats: { userOps: number; deliveries: number; crashes: number; conflicts: number; failures: number; replans: number };
}

function clone(ix: TreeIndex): TreeIndex {
  return new Map([...ix].map(([k, v]) => [k, structuredClone(v)]));
}

function wire(r: IndexRecord): IndexRecord {
  const { ino: _ino, uid: _u, gid: _g, ...entry } = r.entry;
  return { entry, version: r.version, ...(r.deleted ? { deleted: r.deleted } : {}) };
}

function isTempPath(p: string): boolean {
  return p.split('/').some((s) => s.startsWith(TEMP));
}

class World {
  now = 1_700_000_000_000;
  readonly replicas = new Map<string, Replica>();
  readonly linksDown = new Set<string>();
  readonly flights: Flight[] = [];
  /** Contents users wrote, and those a user replaced or deleted while seeing them. */
  readonly written = new Set<string>();
  readonly superseded = new Set<string>();
  readonly stats = { userOps: 0, deliveries: 0, crashes: 0, conflicts: 0, failures: 0, replans: 0 };
  constructor(readonly trace?: (line: string) => void) {}
  log(s: string): void {
    this.trace?.(`[${this.now - 1_700_000_000_000}] ${s}`);
  }
}

class Replica {
  readonly fs = new MemFs(ROOT);
  /** The daemon's executor (src/replica/executor.ts) over this node's file system. */
  readonly exec = new ReplicaExecutor(this.fs, ROOT);
  index: TreeIndex = new Map();
  saved: TreeIndex = new Map();
  journal: Array<{ peer: string; rec: IndexRecord }> = [];
  /** The out-of-sync items: the daemon's own FailedItems (what supersedes what is its rule). */
  failed = new FailedItems();
  savedFailed: FailedItem[] = [];
  readonly out = new Map<string, { recs: OutRec[]; acked: number; next: number }>();
  dirty = new Set<string>();
  epoch = 0;

  constructor(readonly w: World, readonly node: string, readonly skew: number, peers: string[]) {
    for (const p of peers) this.out.set(p, { recs: [], acked: 0, next: 1 });
  }

  get nowMs(): number {
    return this.w.now + this.skew;
  }

  private observe(path: string): LocalObservation | null {
    let st;
    try {
      st = this.fs.lstat(`${ROOT}/${path}`);
    } catch {
      return { path, gone: true };
    }
    const entry: Entry = { path, kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file', size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, ino: st.ino };
    if (entry.kind === 'file') entry.hash = this.fs.content(`${ROOT}/${path}`);
    if (entry.kind === 'symlink') entry.target = this.fs.readlink(`${ROOT}/${path}`);
    return { path, entry };
  }

  /** The watcher / freshness ingest: paths as they are on disk now become versions, stored and sent. */
  ingest(paths: Iterable<string>): IndexRecord[] {
    const obs: LocalObservation[] = [];
    for (const p of paths) {
      if (isTempPath(p)) continue;
      const o = this.observe(p);
      if (o) obs.push(o);
    }
    const recs = planLocalBatch(this.index, obs, this.node, this.nowMs);
    // a fresh stat of an unchanged path (a new inode after placing) refreshes the entry
    for (const o of obs) if (!('gone' in o) && !recs.some((r) => r.entry.path === o.path)) {
      const prev = this.index.get(o.path);
      if (prev && !prev.deleted) this.index.set(o.path, { ...prev, entry: { ...prev.entry, ino: o.entry.ino } });
    }
    putRecords(this.index, recs);
    this.journalLocal(recs);
    this.send(recs);
    return recs;
  }

  /** Local versions are journalled before they are sent (TreeReplica.sendLocal). */
  journalLocal(recs: IndexRecord[]): void {
    for (const r of recs) this.journal.push({ peer: '', rec: wire(r) });
  }

  send(recs: IndexRecord[], except?: string): void {
    if (recs.length === 0) return;
    for (const [peer, box] of this.out) {
      if (peer === except) continue;
      for (const r of recs) box.recs.push({ seq: box.next++, rec: wire(r) });
    }
  }

  /** A full scan (restart, quiescence): diffScan of the disk against the index. */
  scan(): number {
    const entries: Entry[] = [];
    for (const p of this.fs.walk(ROOT)) {
      if (isTempPath(p)) continue;
      const o = this.observe(p);
      if (o && !('gone' in o)) entries.push(o.entry);
    }
    const d = diffScan(this.index, entries, this.node, this.nowMs);
    const recs = [...d.vanished, ...d.updates];
    putRecords(this.index, d.refreshed);
    putRecords(this.index, recs);
    this.journalLocal(recs);
    this.send(recs);
    return recs.length;
  }

  save(): void {
    this.w.log(`${this.node}: index saved`);
    this.saved = clone(this.index);
    this.savedFailed = structuredClone(this.failed.toJSON());
    this.journal = [];
  }

  crashAndRestart(): void {
    this.epoch++;
    this.index = clone(this.saved);
    this.failed = new FailedItems();
    this.failed.load(structuredClone(this.savedFailed));
    this.dirty = new Set();
    // what the daemon does at start: staging leftovers go, objects left aside come back,
    // the journal is recovered, then the initial scan
    for (const p of this.fs.walk(ROOT)) if (p.startsWith(`${TEMP}stage-`)) this.fs.nodes.delete(`${ROOT}/${p}`);
    for (const x of recoverAside(this.fs, ROOT)) this.w.log(`${this.node}: recovered ${x.path} -> ${x.keptAs}`);
    settleReplaced(this.fs, ROOT, Infinity, () => []); // no open handles here: nothing waits out a grace period
    tidyAside(this.fs, ROOT);
    this.recoverJournal();
    this.scan();
    if (this.w.trace) this.w.log(`${this.node}: restarted; journal ${this.journal.length} entries; index ${[...this.index].map(([p, r]) => `${p}${r.deleted ? '(del)' : ''}@${JSON.stringify(r.version)}`).join(' ')}`);
  }

  /** Mirrors TreeReplica.recoverJournal. */
  private recoverJournal(): void {
    const { ours, failed, settled } = replayJournal(this.index, this.journal, (rec) => {
      const o = this.observe(rec.entry.path);
      if (o === null) return false;
      if (rec.deleted) return 'gone' in o;
      if ('gone' in o || o.entry.kind !== rec.entry.kind) return false;
      if (rec.entry.kind === 'dir') return true;
      if (rec.entry.kind === 'symlink') return o.entry.target === rec.entry.target;
      return o.entry.hash === rec.entry.hash && o.entry.mode === rec.entry.mode && o.entry.mtimeMs === rec.entry.mtimeMs;
    });
    for (const p of settled) this.failed.resolved(p, this.index.get(p)?.version);
    for (const f of failed) this.fail(f.peer, f.rec, 'not applied before a crash');
    this.send(ours); // the crash may have come between the journal and the outboxes
  }

  /**
   * One batch from `peer`, applied step by step (the scheduler runs other things at each
   * yield). Returns whether to acknowledge. The actions are carried out by the daemon's own
   * executor (src/replica/executor.ts) over this node's in-memory file system; this method
   * is the wiring TreeReplica does around it (freshness, journal, staging, store, relay).
   */
  *applyBatch(peer: string, changesIn: IndexRecord[]): Generator<void, boolean> {
    const epoch = this.epoch;
    const changes = lastPerPath(changesIn.map((rec) => ({ rec }))).map((c) => c.rec);
    const plan = (r: IndexRecord): RemoteAction => planRemoteRecord(this.index, r, { keepConflicts: true, nowMs: this.nowMs }, true);
    this.ingest(changes.map((r) => r.entry.path)); // freshness
    // journal (durable) before anything changes
    const journalled = new Set<string>();
    const journal = (recs: IndexRecord[]): void => {
      for (const r of recs) {
        this.journal.push({ peer, rec: r });
        journalled.add(journalKey(r));
      }
    };
    journal(changes.filter((r) => plan(r).op !== 'ignore'));
    yield;
    if (this.epoch !== epoch) return false;
    // the staging (TreeReplica's step 2): every file's content in the batch's staging
    // directory (here the hash is the content); one that cannot be written (ENOSPC, EPERM)
    // is a failed item, retried
    const stage = `${ROOT}/${TEMP}stage-${peer}`;
    const staged = new Set<string>();
    let pending: IndexRecord[] = [];
    for (const r of changes) {
      if (r.deleted || r.entry.kind !== 'file') {
        pending.push(r);
        continue;
      }
      try {
        const src = `${stage}/${r.entry.path}`;
        this.mkdirs(src.slice(0, src.lastIndexOf('/')));
        if (this.fs.nodes.has(src)) this.fs.unlink(src);
        this.fs.createFile(src, r.entry.hash ?? '', r.entry.mode, r.entry.mtimeMs);
        staged.add(r.entry.path);
        pending.push(r);
      } catch (err) {
        this.stagingFailed(peer, r, err);
      }
    }
    const out = emptyOutcome();
    const self = this;
    const ctx: RoundContext = {
      get index() {
        return self.index;
      },
      plan,
      staged: (path) => (staged.has(path) ? `${stage}/${path}` : undefined),
      journalled: (r) => journalled.has(journalKey(r)),
      adopt: (path, r) => {
        this.index.set(path, r);
        return r;
      },
      resolved: (path, by) => this.failed.resolved(path, by),
      failed: (r, err) => {
        const e = err as NodeJS.ErrnoException;
        this.w.stats.failures++;
        this.fail(peer, r, e.code ?? e.message);
        this.w.log(`${this.node}: ${r.entry.path} from ${peer} failed: ${e.code ?? e.message} (out of sync, retried)`);
      },
      conflict: (path, keptAs) => {
        this.w.stats.conflicts++;
        this.w.log(`${this.node}: conflict at ${path}: the local loser kept as ${keptAs}`);
      },
    };
    for (let round = 0; round < PLACE_ROUNDS && pending.length > 0; round++) {
      const g = this.exec.round(pending, ctx, out);
      for (let st = g.next(); !st.done; st = g.next()) {
        yield; // a user may change the path between the plan and the change
        if (this.epoch !== epoch) return false;
      }
      const late = out.unjournalled;
      journal(late.flatMap((r) => {
        const a = plan(r);
        return a.op === 'ignore' ? [] : [a.record];
      }));
      for (const r of out.changed) this.w.log(`${this.node}: ${r.entry.path} from ${peer} found changed: planned again`);
      this.w.stats.replans += out.changed.length;
      this.ingest(out.changed.map((r) => r.entry.path));
      pending = [...out.changed, ...late];
    }
    for (const p of this.fs.walk(ROOT)) if (p === `${TEMP}stage-${peer}` || p.startsWith(`${TEMP}stage-${peer}/`)) this.fs.nodes.delete(`${ROOT}/${p}`);
    settleReplaced(this.fs, ROOT, Infinity, () => []); // no open handles here: nothing waits out a grace period
    tidyAside(this.fs, ROOT);
    const recheck: string[] = [];
    for (const r of out.notRemoved) {
      this.index.set(r.entry.path, r);
      recheck.push(r.entry.path);
    }
    const relay = [...out.adopted, ...out.applied.map((r) => this.store(r))];
    if (this.w.trace) for (const r of out.applied) this.w.log(`${this.node}: from ${peer}: applied ${r.entry.path}${r.deleted ? '(del)' : ''}@${JSON.stringify(r.version)}`);
    this.ingest([...out.kept, ...recheck]);
    this.send(relay, peer);
    return pending.length === 0 && out.fetches.length === 0;
  }

  private store(rec: IndexRecord): IndexRecord {
    if (rec.deleted) {
      this.index.set(rec.entry.path, rec);
      return rec;
    }
    const o = this.observe(rec.entry.path);
    const stored = o && !('gone' in o) ? { entry: { ...rec.entry, ino: o.entry.ino }, version: rec.version } : rec;
    this.index.set(rec.entry.path, stored);
    return stored;
  }

  /** A content that could not be staged: a failed item (the daemon's stager fails the same way). */
  private stagingFailed(peer: string, rec: IndexRecord, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    this.w.stats.failures++;
    this.fail(peer, rec, e.code ?? e.message);
    this.w.log(`${this.node}: staging ${rec.entry.path} from ${peer} failed: ${e.code ?? e.message} (out of sync, retried)`);
  }

  /** TreeReplica.applyFailed: an out-of-sync item (the daemon's FailedItems keeps the winning record of a path). */
  private fail(peer: string, rec: IndexRecord, error: string): void {
    this.failed.add(peer, { tree: 't', rec }, error, error, this.nowMs);
  }

  private mkdirs(abs: string): void {
    if (this.fs.nodes.has(abs)) return;
    this.mkdirs(abs.slice(0, abs.lastIndexOf('/')));
    this.fs.mkdir(abs, { mode: 0o700 });
  }
}

const NAMES = ['f0.txt', 'f1.txt', 'f2', 'd0/f0.txt', 'd0/f1.txt', 'd1/g.txt'];

/** One seeded run. */
export function runSeed(seed: number, opts: SimOptions = {}): SimResult {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = opts.nodes ?? 3;
  const w = new World(opts.trace);
  const names = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
  for (const node of names) {
    const skew = rand() < 0.3 ? Math.floor((rand() - 0.5) * 6000) : 0;
    w.replicas.set(node, new Replica(w, node, skew, names.filter((x) => x !== node)));
  }
  const R = (node: string) => w.replicas.get(node)!;
  let contentSeq = 0;

  const userOp = (r: Replica): void => {
    w.stats.userOps++;
    const fs = r.fs;
    const p = pick(NAMES);
    const abs = `${ROOT}/${p}`;
    const dir = abs.slice(0, abs.lastIndexOf('/'));
    const x = rand();
    // what a user op replaces counts as superseded only once the op succeeded
    const marks: string[] = [];
    const mark = (path: string) => {
      const old = fs.content(`${ROOT}/${path}`);
      if (old !== undefined) marks.push(old);
      r.dirty.add(path);
    };
    let made: string | undefined;
    const done = () => {
      for (const m of marks) w.superseded.add(m);
      if (made !== undefined) w.written.add(made);
    };
    try {
      if (x < 0.45) {
        if (!fs.nodes.has(dir)) return;
        if (fs.nodes.get(abs)?.kind === 'dir') return;
        const content = `${r.node}${++contentSeq}`;
        made = content;
        if (fs.nodes.has(abs) && rand() < 0.4) {
          mark(p);
          fs.writeInPlace(abs, content, r.nowMs);
          done();
          w.log(`${r.node}: user writes ${p} in place = ${content}`);
        } else {
          const tmp = `${dir}/.tmp-${r.node}`;
          fs.createFile(tmp, content, 0o644, r.nowMs);
          mark(p);
          if (fs.nodes.has(abs) && fs.nodes.get(abs)!.kind !== 'file') {
            fs.unlink(tmp);
            return;
          }
          fs.rename(tmp, abs);
          done();
          w.log(`${r.node}: user replaces ${p} = ${content}`);
        }
      } else if (x < 0.6) {
        if (fs.nodes.get(abs)?.kind !== 'file' && fs.nodes.get(abs)?.kind !== 'symlink') return;
        mark(p);
        fs.unlink(abs);
        done();
        w.log(`${r.node}: user deletes ${p}`);
      } else if (x < 0.72) {
        const q = pick(NAMES);
        const qabs = `${ROOT}/${q}`;
        if (q === p || fs.nodes.get(abs)?.kind !== 'file' || !fs.nodes.has(qabs.slice(0, qabs.lastIndexOf('/'))) || (fs.nodes.has(qabs) && fs.nodes.get(qabs)!.kind !== 'file')) return;
        mark(q);
        fs.rename(abs, qabs);
        done();
        r.dirty.add(p);
        w.log(`${r.node}: user renames ${p} -> ${q}`);
      } else if (x < 0.82) {
        const d = pick(['d0', 'd1']);
        if (fs.nodes.has(`${ROOT}/${d}`)) return;
        fs.mkdir(`${ROOT}/${d}`, { mode: 0o755 });
        r.dirty.add(d);
        w.log(`${r.node}: user mkdir ${d}`);
      } else if (x < 0.88) {
        if (fs.nodes.get(abs)?.kind !== 'file') return;
        fs.setAttrs(abs, { mode: rand() < 0.5 ? 0o600 : 0o644, mtimeMs: r.nowMs });
        r.dirty.add(p);
        w.log(`${r.node}: user chmod ${p}`);
      } else if (x < 0.92) {
        if (fs.nodes.has(abs) || !fs.nodes.has(dir)) return;
        fs.symlink(pick(['f0.txt', '../x']), abs);
        r.dirty.add(p);
        w.log(`${r.node}: user symlink ${p}`);
      } else {
        const d = pick(['d0', 'd1']);
        if (fs.nodes.get(`${ROOT}/${d}`)?.kind !== 'dir' || fs.readdir(`${ROOT}/${d}`).length > 0) return;
        fs.rmdir(`${ROOT}/${d}`);
        r.dirty.add(d);
        w.log(`${r.node}: user rmdir ${d}`);
      }
    } catch (err) {
      // EPERM/ENOSPC injected, or a name in use: the user's write did not happen
      w.log(`${r.node}: user op on ${p} failed: ${(err as Error).message}`);
    }
  };

  const startDelivery = (from: string, to: string, dup = false): boolean => {
    if (w.linksDown.has(`${from}>${to}`) || w.flights.some((f) => f.from === from && f.to === to)) return false;
    const box = R(from).out.get(to)!;
    const start = dup ? Math.max(0, box.acked - 3) : box.acked;
    const recs = box.recs.filter((x) => x.seq > start).slice(0, 1 + Math.floor(rand() * 6));
    if (recs.length === 0) return false;
    w.stats.deliveries++;
    w.log(`deliver ${from} -> ${to}: ${recs.map((x) => `${x.rec.entry.path}${x.rec.deleted ? '(del)' : ''}@${JSON.stringify(x.rec.version)}`).join(' ')}`);
    w.flights.push({ from, to, last: recs[recs.length - 1]!.seq, gen: R(to).applyBatch(from, recs.map((x) => structuredClone(x.rec))), lost: false });
    return true;
  };

  const stepFlight = (picked: Flight): void => {
    // one batch at a time per receiver, in arrival order: the tree's serial queue (a user
    // may act between the steps, another batch to the same tree may not)
    const f = w.flights.find((x) => x.to === picked.to)!;
    f.started = true;
    const res = f.gen.next();
    if (!res.done) return;
    w.flights.splice(w.flights.indexOf(f), 1);
    if (res.value && !f.lost && !w.linksDown.has(`${f.from}>${f.to}`)) {
      const box = R(f.from).out.get(f.to)!;
      box.acked = Math.max(box.acked, f.last);
    }
  };

  const retryFailed = (r: Replica): void => {
    for (const [peer, items] of r.failed.byPeer()) {
      if (w.flights.some((f) => f.to === r.node && f.from === peer)) continue;
      w.flights.push({ from: peer, to: r.node, last: -1, gen: r.applyBatch(peer, items.map((i) => structuredClone(i.change.rec))), lost: true });
    }
  };

  const steps = opts.steps ?? 60;
  for (let i = 0; i < steps; i++) {
    w.now += 1 + Math.floor(rand() * 20);
    const node = pick(names);
    const r = R(node);
    const x = rand();
    if (x < 0.3) userOp(r);
    else if (x < 0.42) {
      // the watcher's batch waits its turn on the tree's queue (not inside a remote batch)
      if (r.dirty.size > 0 && !w.flights.some((f) => f.to === node && f.started)) {
        w.log(`${node}: watcher batch ${[...r.dirty].join(' ')}`);
        r.ingest(r.dirty);
        r.dirty = new Set();
      }
    } else if (x < 0.57) startDelivery(node, pick(names.filter((m) => m !== node)), rand() < 0.1);
    else if (x < 0.8) {
      if (w.flights.length > 0) stepFlight(pick(w.flights));
    } else if (x < 0.84) {
      const l = `${node}>${pick(names.filter((m) => m !== node))}`;
      if (w.linksDown.has(l)) w.linksDown.delete(l);
      else {
        w.linksDown.add(l);
        for (const f of w.flights) if (`${f.from}>${f.to}` === l) f.lost = true;
      }
      w.log(`link ${l} ${w.linksDown.has(l) ? 'cut' : 'healed'}`);
    } else if (x < 0.87) {
      w.stats.crashes++;
      w.log(`${node}: CRASH (kill -9) and restart`);
      for (const f of w.flights) if (f.to === node || f.from === node) f.lost = true;
      for (const f of [...w.flights]) if (f.to === node) w.flights.splice(w.flights.indexOf(f), 1);
      r.crashAndRestart();
    } else if (x < 0.91) {
      // the daemon saves on the tree's queue: never inside a batch's turn
      if (!w.flights.some((f) => f.to === node && f.started)) r.save();
    }
    else if (x < 0.94) {
      const d = `${ROOT}/${pick(['d0', 'd1'])}`;
      if (r.fs.locked.has(d)) r.fs.locked.delete(d);
      else r.fs.locked.add(d);
      w.log(`${node}: ${d} ${r.fs.locked.has(d) ? 'locked (EPERM)' : 'unlocked'}`);
    } else if (x < 0.96) {
      r.fs.full = !r.fs.full;
      w.log(`${node}: disk ${r.fs.full ? 'full (ENOSPC)' : 'has space again'}`);
    } else retryFailed(r);
  }

  // quiescence: faults clear, links heal, everything is delivered, rescanned and retried
  w.log('--- quiescence ---');
  w.linksDown.clear();
  for (const r of w.replicas.values()) {
    r.fs.locked.clear();
    r.fs.full = false;
  }
  const violations: string[] = [];
  let quiet = false;
  for (let round = 0; round < 60 && !quiet; round++) {
    while (w.flights.length > 0) stepFlight(w.flights[0]!);
    let busy = false;
    for (const r of w.replicas.values()) {
      if (r.dirty.size > 0) {
        r.ingest(r.dirty);
        r.dirty = new Set();
      }
      if (r.failed.size > 0) {
        busy = true;
        retryFailed(r);
      }
    }
    while (w.flights.length > 0) stepFlight(w.flights[0]!);
    for (const from of names) for (const to of names) if (from !== to) while (startDelivery(from, to)) {
      busy = true;
      while (w.flights.length > 0) stepFlight(w.flights[0]!);
    }
    if (!busy) {
      let changed = 0;
      for (const r of w.replicas.values()) changed += r.scan();
      quiet = changed === 0;
    }
  }
  if (!quiet) violations.push('no quiescence after 60 rounds');

  // invariants
  const snap = (r: Replica): Map<string, string> => {
    const m = new Map<string, string>();
    for (const p of r.fs.walk(ROOT)) {
      const node = r.fs.nodes.get(`${ROOT}/${p}`)!;
      m.set(p, node.kind === 'file' ? `file:${node.content}:${node.mode.toString(8)}:${node.mtimeMs}` : node.kind === 'dir' ? `dir:${node.mode.toString(8)}` : `link:${node.target}`);
    }
    return m;
  };
  const snaps = names.map((x) => snap(R(x)));
  const first = snaps[0]!;
  names.forEach((x, i) => {
    const s = snaps[i]!;
    for (const p of new Set([...first.keys(), ...s.keys()])) {
      if (first.get(p) !== s.get(p)) violations.push(`trees differ at ${p}: ${names[0]}=${first.get(p) ?? '(none)'} ${x}=${s.get(p) ?? '(none)'}`);
    }
    for (const p of s.keys()) if (isTempPath(p)) violations.push(`${x}: temporary left: ${p}`);
    if (R(x).failed.size > 0) violations.push(`${x}: out of sync: ${R(x).failed.list().map((i) => i.path).join(' ')}`);
  });
  const present = new Set<string>();
  for (const [p, v] of first) {
    if (!v.startsWith('file:')) continue;
    const content = v.split(':')[1]!;
    present.add(content);
    if (!w.written.has(content)) violations.push(`${p} holds ${content}, which no user wrote`);
  }
  for (const c of w.written) if (!w.superseded.has(c) && !present.has(c)) violations.push(`content ${c} was lost (written, never replaced by a user, found nowhere)`);
  return { seed, violations: violations.slice(0, 20), stats: w.stats };
}

// (exported for the tests' own checks)
export { expectOf };
