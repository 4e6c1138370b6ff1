// The deterministic simulation of the replica (issue 9): three or more nodes, each running
// the daemon's own replica code over in-memory ports, under a seeded scheduler that
// interleaves: users' writes (replacing and in place), renames, deletes, mkdirs, chmods and
// symlinks; watcher events; batch deliveries between any pair (each sender's outbox in
// order, the senders interleaved), duplicates, cut links (lost acknowledgements); user
// writes between the planning and the change of a record (the executor's round yields
// there); crashes at any step (what is not durable is lost: the index since its last save,
// the watcher's pending paths, batches in flight); injected EPERM and ENOSPC that clear
// later; clock skew between nodes.
//
// After quiescence it asserts:
//  - identical trees on every node;
//  - every file's content is one a user wrote;
//  - every content a user wrote and nobody replaced or deleted while seeing it (a user's
//    own later write to the same path on the same node) still exists somewhere (the winner,
//    or a conflict copy): no lost write;
//  - no temporary names (.omirr-part.*) left, no out-of-sync items left.
//
// The daemon's own code here (what src/daemon/treeReplica.ts runs): the wiring of a batch
// from a peer, Replica.admit and Replica.applyStaged (src/replica/replica.ts: freshness ingest, journal
// appends, the executor's rounds with their re-plans, the store with the local stat, the
// conflict copies and failed items, the relay), the restart's Replica.recover (objects left
// aside, the journal replay), the executor and placing (executor.ts, placement.ts), the
// planner (planRemoteRecord, planLocalBatch, replayJournal, lastPerPath, and through them
// the version and conflict rules of src/core), FailedItems.
// What is simulated (memPorts.ts): the ports (src/replica/ports.ts) - the file system
// (memFs.ts), the clock (xstate's SimulatedClock, advanced by the scheduler, plus a per-node
// offset), the journal (an array a crash keeps and an index save empties), the outboxes
// (arrays the scheduler delivers from); and the host's I/O: the stat and the hash (hash =
// content) of the freshness ingest, the watcher (the scheduler ingests the paths users
// touched), the full scan (diffScan), the index save (a snapshot), the transport (a record
// carries its content, staged at once; the daemon fetches it off its queue, between
// Replica.admit and applyStaged). The rest of the daemon's step 1 (moved directories and
// paired renames written before the contents come) is not simulated: after admit, every
// batch goes through applyStaged. Everything runs synchronously between the scheduler's
// steps (no workers).
import { SimulatedClock } from 'xstate';
import { diffScan, putRecords, type IndexRecord, type TreeIndex } from '../../src/core/treeIndex.js';
import type { Entry } from '../../src/core/entry.js';
import { rng } from '../../src/core/random.js';
import { lastPerPath } from '../../src/replica/planner.js';
import type { FailedItem } from '../../src/replica/failures.js';
import type { Clock } from '../../src/replica/ports.js';
import { Replica, runStepsSync } from '../../src/replica/replica.js';
import { MemFs } from './memFs.js';
import { isTempPath, MemHost, MemJournal, MemOutbox, skewedClock, TEMP } from './memPorts.js';

const ROOT = '/t';
/** The simulated clock starts here (versions and conflict names carry real-looking times). */
const EPOCH_MS = 1_700_000_000_000;

/**
 * What a batch's next step needs, as the daemon runs it (src/daemon/treeReplica.ts,
 * applyBatch): 'queue', the receiver's tree queue, free (step 1, the decisions; step 3, the
 * placing); 'held', the queue it already holds (the rest of step 3); 'stage', no queue but
 * its sender's turn (step 2, the staging: one batch per sender at a time, from its staging
 * until its files are placed, src/daemon/contentStaging.ts).
 */
type Need = 'queue' | 'held' | 'stage';

interface Flight {
  from: string;
  to: string;
  last: number;
  gen: Generator<Need, boolean>;
  /** What its next step needs. */
  need: Need;
  /** Its step 1 ran (a sender's batches take step 1 in arrival order). */
  admitted?: boolean;
  /** A crash of either end or a cut link since it started: no acknowledgement. */
  lost: boolean;
  /** Answered: applied and durable (ok), or refused. */
  done?: boolean;
  ok?: boolean;
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
  stats: { userOps: number; deliveries: number; pipelined: number; overlapped: number; watchedBetween: number; crashes: number; conflicts: number; failures: number; replans: number };
}

function clone(ix: TreeIndex): TreeIndex {
  return new Map([...ix].map(([k, v]) => [k, structuredClone(v)]));
}

class World {
  /** The one time of the simulation (xstate's); each node reads it through its skewed Clock. */
  readonly clock = new SimulatedClock();
  readonly nodes = new Map<string, SimNode>();
  readonly linksDown = new Set<string>();
  readonly flights: Flight[] = [];
  /** Contents users wrote, and those a user replaced or deleted while seeing them. */
  readonly written = new Set<string>();
  readonly superseded = new Set<string>();
  readonly stats = { userOps: 0, deliveries: 0, pipelined: 0, overlapped: 0, watchedBetween: 0, crashes: 0, conflicts: 0, failures: 0, replans: 0 };
  constructor(readonly trace?: (line: string) => void) {
    this.clock.set(EPOCH_MS);
  }
  log(s: string): void {
    this.trace?.(`[${this.clock.now() - EPOCH_MS}] ${s}`);
  }
}

class SimNode {
  readonly fs = new MemFs(ROOT);
  /** This node's time: the world's SimulatedClock plus its skew. */
  readonly clock: Clock;
  readonly journal = new MemJournal();
  readonly outbox: MemOutbox;
  /** The index's owner (memPorts.ts): stat and hash of the in-memory disk, the failed items. */
  readonly host: MemHost;
  /** The daemon's replica wiring (src/replica/replica.ts) over this node's ports. */
  readonly core: Replica;
  saved: TreeIndex = new Map();
  savedFailed: FailedItem[] = [];
  dirty = new Set<string>();
  epoch = 0;

  constructor(readonly w: World, readonly node: string, skew: number, peers: string[]) {
    this.clock = skewedClock(w.clock, skew);
    this.outbox = new MemOutbox(peers, this.journal);
    this.host = new MemHost(this.fs, ROOT, node, this.clock, {
      failed: (peer, r, e) => {
        w.stats.failures++;
        w.log(`${node}: ${r.entry.path} from ${peer} failed: ${e.code ?? e.message} (out of sync, retried)`);
      },
      conflict: (path, keptAs) => {
        w.stats.conflicts++;
        w.log(`${node}: conflict at ${path}: the local loser kept as ${keptAs}`);
      },
      note: (what, path, detail) => {
        if (what === 'replanned') w.stats.replans++;
        w.log(`${node}: ${what} ${path}${detail ? ` -> ${detail}` : ''}`);
      },
    });
    this.core = new Replica(this.host, { fs: this.fs, clock: this.clock, journal: this.journal, outbox: this.outbox }, ROOT);
  }

  get failed() {
    return this.host.failures;
  }

  /** The watcher's batch (the daemon's localBatch): versions stored and sent. */
  watched(paths: Iterable<string>): void {
    this.outbox.local(this.host.ingest(paths, this.clock.now()));
  }

  /** A full scan (restart, quiescence): diffScan of the disk against the index. */
  scan(): number {
    const entries: Entry[] = [];
    for (const p of this.fs.walk(ROOT)) {
      if (isTempPath(p)) continue;
      const o = this.host.look(p);
      if (!('gone' in o)) entries.push(o.entry);
    }
    const index = this.host.index;
    const d = diffScan(index, entries, this.node, this.clock.now());
    const recs = [...d.vanished, ...d.updates];
    putRecords(index, d.refreshed);
    putRecords(index, recs);
    this.outbox.local(recs);
    return recs.length;
  }

  save(): void {
    this.w.log(`${this.node}: index saved`);
    this.saved = clone(this.host.index);
    this.savedFailed = structuredClone(this.failed.toJSON());
    this.journal.list = [];
  }

  crashAndRestart(): void {
    this.epoch++;
    this.host.index = clone(this.saved);
    this.failed.load(structuredClone(this.savedFailed));
    this.dirty = new Set();
    // what the daemon does at start: staging leftovers go (its stager's directories), then
    // the replica's recovery (objects left aside, the journal replay), then the initial scan
    for (const p of this.fs.walk(ROOT)) if (p.startsWith(`${TEMP}stage-`)) this.fs.nodes.delete(`${ROOT}/${p}`);
    const j = runStepsSync(this.core.recover());
    this.scan();
    if (this.w.trace) this.w.log(`${this.node}: restarted; journal ${j.journalled} entries; index ${[...this.host.index].map(([p, r]) => `${p}${r.deleted ? '(del)' : ''}@${JSON.stringify(r.version)}`).join(' ')}`);
  }

  /**
   * One batch from `peer`, applied step by step (the scheduler runs other things at each
   * yield, which says what the next step needs). Returns whether to acknowledge. The
   * transport is simulated (each file's content, the record's hash, is staged at once); the
   * rest is the daemon's Replica.applyStaged, whose every step (each record between its plan
   * and its change) is a yield to the scheduler. Between step 1 and step 3 the tree's queue
   * is free: the sender's next batches take their step 1, other peers' batches and the
   * watcher's batches run, the index is saved.
   */
  *applyBatch(peer: string, changesIn: IndexRecord[]): Generator<Need, boolean> {
    const epoch = this.epoch;
    yield 'queue';
    if (this.epoch !== epoch) return false;
    const changes = lastPerPath(changesIn.map((rec) => ({ rec }))).map((c) => c.rec);
    // the daemon's step 1 begins so: freshness, decisions, journal (before the staging)
    runStepsSync(this.core.admit(peer, changes, { keepConflicts: true, nowMs: this.clock.now() }));
    yield 'stage';
    if (this.epoch !== epoch) return false;
    // the staging (the daemon's step 2): every file's content in the batch's staging
    // directory; one that cannot be written (ENOSPC, EPERM) is a failed item, retried
    const stage = `${ROOT}/${TEMP}stage-${peer}`;
    const staged = new Set<string>();
    const pending: IndexRecord[] = [];
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
        this.host.failed(peer, r, err); // the daemon's stager fails a file the same way
      }
    }
    yield 'queue';
    if (this.epoch !== epoch) return false;
    const g = this.core.applyStaged(peer, pending, (path) => (staged.has(path) ? `${stage}/${path}` : undefined), { keepConflicts: true });
    let st = g.next();
    while (!st.done) {
      if (st.value instanceof Promise) throw new Error('a simulated port answered later');
      yield 'held'; // a user may change the path between the plan and the change
      if (this.epoch !== epoch) return false;
      st = g.next();
    }
    const r = st.value;
    if (this.w.trace) for (const a of r.out.applied) this.w.log(`${this.node}: from ${peer}: applied ${a.entry.path}${a.deleted ? '(del)' : ''}@${JSON.stringify(a.version)}`);
    for (const p of this.fs.walk(ROOT)) if (p === `${TEMP}stage-${peer}` || p.startsWith(`${TEMP}stage-${peer}/`)) this.fs.nodes.delete(`${ROOT}/${p}`);
    return r.unsettled.length === 0 && r.out.fetches.length === 0;
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
    w.nodes.set(node, new SimNode(w, node, skew, names.filter((x) => x !== node)));
  }
  const R = (node: string) => w.nodes.get(node)!;
  let contentSeq = 0;

  const userOp = (r: SimNode): void => {
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
          fs.writeInPlace(abs, content, r.clock.now());
          done();
          w.log(`${r.node}: user writes ${p} in place = ${content}`);
        } else {
          const tmp = `${dir}/.tmp-${r.node}`;
          fs.createFile(tmp, content, 0o644, r.clock.now());
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
        fs.setAttrs(abs, { mode: rand() < 0.5 ? 0o600 : 0o644, mtimeMs: r.clock.now() });
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

  // A link's session sends up to IN_FLIGHT deliveries before the oldest is answered (the
  // daemon's peerSession pipelining), each from where the one before ended; answers move the
  // acknowledged cursor only in send order, and a refused one ends the session: the later
  // ones may still be applied by the receiver, but count for nothing (resent from the cursor).
  const IN_FLIGHT = 4;
  const sent = new Map<string, Flight[]>();
  const startDelivery = (from: string, to: string, dup = false): boolean => {
    const link = `${from}>${to}`;
    const session = sent.get(link) ?? [];
    if (w.linksDown.has(link) || session.length >= IN_FLIGHT) return false;
    const box = R(from).outbox.boxes.get(to)!;
    const cursor = session.length > 0 ? session[session.length - 1]!.last : box.acked;
    const start = dup ? Math.max(0, box.acked - 3) : cursor;
    const recs = box.recs.filter((x) => x.seq > start).slice(0, 1 + Math.floor(rand() * 6));
    if (recs.length === 0) return false;
    w.stats.deliveries++;
    if (session.length > 0) w.stats.pipelined++; // sent before the one before was answered
    w.log(`deliver ${from} -> ${to}: ${recs.map((x) => `${x.rec.entry.path}${x.rec.deleted ? '(del)' : ''}@${JSON.stringify(x.rec.version)}`).join(' ')}`);
    const f = flight(from, to, recs[recs.length - 1]!.seq, R(to).applyBatch(from, recs.map((x) => structuredClone(x.rec))), false);
    sent.set(link, [...session, f]);
    return true;
  };

  /** A delivery answered: acknowledgements in send order; a refusal (or a lost one) ends the link's session. */
  const answered = (f: Flight, ok: boolean): void => {
    const link = `${f.from}>${f.to}`;
    f.done = true;
    f.ok = ok && !f.lost && !w.linksDown.has(link);
    const session = sent.get(link) ?? [];
    if (!session.includes(f)) return; // a retry of failed items, or a session already ended
    if (!f.ok) {
      for (const g of session) g.lost = true;
      sent.delete(link);
      return;
    }
    const box = R(f.from).outbox.boxes.get(f.to)!;
    while (session.length > 0 && session[0]!.done && session[0]!.ok) box.acked = Math.max(box.acked, session.shift()!.last);
  };
  const endSessions = (pred: (link: string) => boolean): void => {
    for (const [link, session] of [...sent]) {
      if (!pred(link)) continue;
      for (const g of session) g.lost = true;
      sent.delete(link);
    }
  };

  // The receivers' tree queues and staging turns: the batch holding each node's queue, and
  // per link the batch between its staging and the end of its placing.
  const holder = new Map<string, Flight>();
  const turn = new Map<string, Flight>();
  const flight = (from: string, to: string, last: number, gen: Generator<Need, boolean>, lost: boolean): Flight => {
    const first = gen.next(); // up to its first need (nothing done yet)
    const f: Flight = { from, to, last, gen, need: first.done ? 'queue' : first.value, lost };
    w.flights.push(f);
    return f;
  };
  /** Whether `f`'s next step may run now. */
  const ready = (f: Flight): boolean => {
    const link = `${f.from}>${f.to}`;
    if (f.need === 'held') return true;
    if (f.need === 'stage') {
      // a sender's batches stage in the order they took step 1
      const t = turn.get(link);
      return t === undefined && w.flights.find((x) => x.from === f.from && x.to === f.to && x.need === 'stage') === f;
    }
    if (holder.has(f.to)) return false;
    // step 1 in arrival order per sender; step 3 whenever the queue is free
    return f.admitted === true || w.flights.find((x) => x.from === f.from && x.to === f.to && !x.admitted) === f;
  };
  /** One step of a ready batch (a random one; the first one in quiescence); false: none ready. */
  const stepFlight = (random: boolean): boolean => {
    const ok = w.flights.filter(ready);
    if (ok.length === 0) return false;
    const f = random ? pick(ok) : ok[0]!;
    const link = `${f.from}>${f.to}`;
    if (f.need === 'queue') {
      holder.set(f.to, f);
      // a step 1 while an earlier batch to this tree waits for its placing (the daemon's
      // pipelined batches; the simulation ran one batch at a time per tree before)
      if (!f.admitted && w.flights.some((x) => x !== f && x.to === f.to && x.admitted)) w.stats.overlapped++;
      f.admitted = true;
    } else if (f.need === 'stage') turn.set(link, f);
    const res = f.gen.next();
    if (!res.done) {
      f.need = res.value;
      if (f.need !== 'held' && holder.get(f.to) === f) holder.delete(f.to);
      return true;
    }
    if (holder.get(f.to) === f) holder.delete(f.to);
    if (turn.get(link) === f) turn.delete(link);
    w.flights.splice(w.flights.indexOf(f), 1);
    answered(f, res.value);
    return true;
  };
  const drain = (): void => {
    while (w.flights.length > 0) if (!stepFlight(false)) throw new Error(`sim: no batch can go on: ${w.flights.map((f) => `${f.from}>${f.to}:${f.need}`).join(' ')}`);
  };

  const retryFailed = (r: SimNode): void => {
    for (const [peer, items] of r.failed.byPeer()) {
      if (w.flights.some((f) => f.to === r.node && f.from === peer)) continue;
      flight(peer, r.node, -1, r.applyBatch(peer, items.map((i) => structuredClone(i.change.rec))), true);
    }
  };

  const steps = opts.steps ?? 60;
  for (let i = 0; i < steps; i++) {
    // 0 sometimes: several writes within one millisecond, as a busy writer makes them
    w.clock.increment(Math.floor(rand() * 21));
    const node = pick(names);
    const r = R(node);
    const x = rand();
    if (x < 0.3) userOp(r);
    else if (x < 0.42) {
      // the watcher's batch waits its turn on the tree's queue (not inside a remote batch)
      if (r.dirty.size > 0 && !holder.has(node)) {
        if (w.flights.some((f) => f.to === node && f.admitted)) w.stats.watchedBetween++;
        w.log(`${node}: watcher batch ${[...r.dirty].join(' ')}`);
        r.watched(r.dirty);
        r.dirty = new Set();
      }
    } else if (x < 0.57) {
      // sometimes several at once on the link (pipelined before the first is answered)
      const to = pick(names.filter((m) => m !== node));
      const n = rand() < 0.3 ? 2 + Math.floor(rand() * 3) : 1;
      for (let k = 0; k < n && startDelivery(node, to, k === 0 && rand() < 0.1); k++);
    }
    else if (x < 0.8) {
      stepFlight(true);
    } else if (x < 0.84) {
      const l = `${node}>${pick(names.filter((m) => m !== node))}`;
      if (w.linksDown.has(l)) w.linksDown.delete(l);
      else {
        w.linksDown.add(l);
        endSessions((link) => link === l);
      }
      w.log(`link ${l} ${w.linksDown.has(l) ? 'cut' : 'healed'}`);
    } else if (x < 0.87) {
      w.stats.crashes++;
      w.log(`${node}: CRASH (kill -9) and restart`);
      endSessions((link) => link.startsWith(`${node}>`) || link.endsWith(`>${node}`));
      for (const f of [...w.flights]) if (f.to === node) w.flights.splice(w.flights.indexOf(f), 1);
      holder.delete(node);
      for (const [link, f] of [...turn]) if (f.to === node) turn.delete(link);
      r.crashAndRestart();
    } else if (x < 0.91) {
      // the daemon saves on the tree's queue: never inside a batch's turn
      if (!holder.has(node)) r.save();
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
  for (const r of w.nodes.values()) {
    r.fs.locked.clear();
    r.fs.full = false;
  }
  const violations: string[] = [];
  let quiet = false;
  for (let round = 0; round < 60 && !quiet; round++) {
    drain();
    let busy = false;
    for (const r of w.nodes.values()) {
      if (r.dirty.size > 0) {
        r.watched(r.dirty);
        r.dirty = new Set();
      }
      if (r.failed.size > 0) {
        busy = true;
        retryFailed(r);
      }
    }
    drain();
    for (const from of names) for (const to of names) if (from !== to) while (startDelivery(from, to)) {
      busy = true;
      drain();
    }
    if (!busy) {
      let changed = 0;
      for (const r of w.nodes.values()) changed += r.scan();
      quiet = changed === 0;
    }
  }
  if (!quiet) violations.push('no quiescence after 60 rounds');

  // invariants
  const snap = (r: SimNode): Map<string, string> => {
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

