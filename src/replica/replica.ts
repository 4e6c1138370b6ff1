// The replica's wiring around its executor: what happens to a batch of records from a peer,
// and to the apply journal at a restart. The daemon (src/daemon/treeReplica.ts) and the
// simulation (test/sim/replicaSim.ts) both run this code; they differ only in the ports
// (ports.ts: file system, clock, journal, outbox) and in the host (the index's owner: its
// freshness ingest with hashing, its stat, its logs and counters).
//
//   applyStaged (a batch whose contents are staged; the daemon's step 3, the whole batch
//   in the simulation):
//     freshness ingest (I2: a local edit not seen yet becomes a version, sent)
//     -> journal what will change something (durable before the disk changes)
//     -> executor rounds (I1; a path found changed is ingested and planned again; a record
//        that would change the disk unjournalled is journalled first)
//     -> settle: deletes not done are stored and re-checked; the aside names tidied; the
//        applied records stored with the local stat; conflict copies and re-checked paths
//        ingested as local versions (sent); the applied and adopted records relayed
//   recover (a start after a crash): objects left aside come back, then the journal is
//     replayed against the loaded index (replayJournal): records found on disk take their
//     version, the rest become failed items, our own versions go to the peers again.
//
// The work is a synchronous generator that yields what it waits for: a Promise (a port of
// the daemon: an fsync, a worker's stat or hash, an outbox write), which runSteps awaits,
// or a path the executor just planned (`{ planned }`), where the daemon goes straight on
// (nothing runs between a plan and its change: the index cannot move under it) and the
// simulation's scheduler lets users write, and nodes crash, before the change (I1 must
// catch it). The simulation's ports answer at once (runStepsSync throws on a Promise).
// A batch begins with admit (freshness, decisions, journal) before its contents are
// staged. The daemon's step 1 then writes what needs no content (moved directories and
// paired renames, which need its async file calls, then rounds and settle); the simulation
// stages every content at once and goes on to applyStaged.
import { sameMtime, type Entry } from '../core/entry.js';
import { applyRemoteChange, isLive, type IndexRecord, type RemoteDecision, type RemoteOptions, type TreeIndex } from '../core/treeIndex.js';
import { versionKey } from '../core/version.js';
import type { WireChange } from '../core/wireChange.js';
import type { LstatResult } from '../workers/fsTasks.js';
import { emptyOutcome, PLACE_ROUNDS, ReplicaExecutor, type RoundContext, type RoundOutcome } from './executor.js';
import type { FailedItems } from './failures.js';
import { recoverAside } from './placement.js';
import { planRemoteRecord, replayJournal, type RemoteAction } from './planner.js';
import type { Clock, Journal, Later, Outbox, RelayMoves, ReplicaFs } from './ports.js';
import { sendOrder } from './recordOrder.js';

/** What a step waits for: a port's Promise, or a path planned and not yet changed. */
export type Wait = Promise<unknown> | { planned: string };
export type Steps<T> = Generator<Wait, T, unknown>;

/** A port's answer, now or (yielded to the driver) later. */
export function* wait<T>(v: Later<T>): Steps<T> {
  if (v instanceof Promise) return (yield v) as T;
  return v;
}

/** The daemon's driver: awaits each Promise (a rejection is thrown into the work), goes straight on after a plan. */
export async function runSteps<T>(g: Steps<T>): Promise<T> {
  let s = g.next();
  while (!s.done) {
    const v = s.value;
    if (!(v instanceof Promise)) {
      s = g.next();
      continue;
    }
    let r: unknown;
    try {
      r = await v;
    } catch (err) {
      s = g.throw(err);
      continue;
    }
    s = g.next(r);
  }
  return s.value;
}

/** Runs work whose ports all answer at once (the simulation's, and tests), to its end. */
export function runStepsSync<T>(g: Steps<T>): T {
  for (let s = g.next(); ; s = g.next()) {
    if (s.done) return s.value;
    if (s.value instanceof Promise) {
      s.value.catch(() => undefined); // refused: its outcome is nobody's
      throw new Error('runStepsSync: a port answered later (a Promise)');
    }
  }
}

/** A journalled record's key within a batch: its path and version. */
export function journalKey(r: IndexRecord): string {
  return `${r.entry.path}\0${versionKey(r.version)}`;
}

/** A path's state for the journal replay: its entry (a file with its hash), 'gone', or undefined (unreadable, not mirrored). */
export type DiskState = Entry | 'gone' | undefined;

/** Is the journalled record's state what the disk holds (it was applied before the crash)? */
export function journalledOnDisk(rec: IndexRecord, s: DiskState): boolean {
  if (rec.deleted) return s === 'gone';
  if (s === undefined || s === 'gone' || s.kind !== rec.entry.kind) return false;
  if (rec.entry.kind === 'dir') return true;
  if (rec.entry.kind === 'symlink') return s.target === rec.entry.target;
  return s.hash === rec.entry.hash && s.mode === rec.entry.mode && s.mtimeMs === rec.entry.mtimeMs;
}

/** The ports the replica talks to (ports.ts). */
export interface ReplicaPorts {
  fs: ReplicaFs;
  clock: Clock;
  journal: Journal;
  outbox: Outbox;
}

/** What the host logs (the daemon) or counts and traces (the simulation). */
export type ReplicaNote =
  /** a path changed locally between its plan and its change: ingested, planned again */
  | 'replanned'
  /** a peer's directory delete not done (not empty here): stored, the path checked again */
  | 'not-removed'
  /** a path written for a peer changed before its stat: not our write, checked again */
  | 'changed-after-write'
  /** at start: an object a crash left aside went back to its path, or to `detail` */
  | 'recovered-aside';

/**
 * The index's owner: the daemon's TreeReplica (its queue is the index's one writer), or a
 * simulated node. What it does with workers or hashing stays on its side of this interface.
 */
export interface ReplicaHost {
  readonly index: TreeIndex;
  readonly failures: FailedItems;
  /**
   * Freshness: `paths` as they are on disk now into the index as local versions (stat;
   * hash what changed; tombstones for what is gone); returns them in send order, unsent.
   */
  ingest(paths: string[], now: number): Later<IndexRecord[]>;
  /** The paths' lstat (no hash), for storing what was written with its local stat. */
  stat(paths: string[]): Later<LstatResult[]>;
  /** The paths' states with files hashed, for the journal replay. */
  observe(paths: string[]): Later<Map<string, DiskState>>;
  /**
   * After placing, and at start after the recovery: the tree's aside directory tidied. Files
   * parked there (replaced for a peer) are settled after their grace period (the daemon's
   * ReplacedFiles) or at once (the simulation, whose users hold no open handles).
   */
  tidyAside(): void;
  /** A record as it goes on the wire (a failed item keeps it so). */
  wire(rec: IndexRecord): WireChange;
  /** A record from `peer` that could not be applied: a failed item (counted, logged, retried). */
  failed(peer: string, rec: IndexRecord, err: unknown): void;
  /** A local loser kept beside the winner of `peer`'s record, as `keptAs`. */
  conflict(path: string, keptAs: string, peer: string): void;
  /** Local versions a freshness ingest made (the daemon counts them). */
  ingested?(recs: IndexRecord[]): void;
  /** Each plan of applyStaged (the daemon's debug trace). */
  planned?(peer: string, rec: IndexRecord, a: RemoteAction): void;
  /** A file written for a peer, stored with its stat: its watcher event is ours (no hash). */
  ownWrite?(e: Entry): void;
  /** A path written for a peer that changed before its stat: its event is a user's. */
  notOwnWrite?(path: string): void;
  note?(what: ReplicaNote, path: string, detail?: string): void;
}

/** What applyStaged and settle did. */
export interface Settled {
  /** The applied records as stored (with the local stat). */
  stored: IndexRecord[];
  /** Local versions made from the conflict copies and the re-checked paths (sent). */
  local: IndexRecord[];
  /** What was relayed to the other peers: the adopted and the stored records. */
  relay: IndexRecord[];
}

export interface StagedResult extends Settled {
  out: RoundOutcome;
  /** Local versions the freshness ingests made (sent). */
  fresh: IndexRecord[];
  /** Paths that kept changing locally: the batch is refused and sent again. */
  unsettled: string[];
  /** The clock when the batch began (versions and tombstones made for it are stamped so). */
  now: number;
}

export interface RecoverResult {
  journalled: number;
  adopted: number;
  /** Journalled peer records not on disk: failed items now, retried. */
  retried: number;
  /** Our own journalled versions sent again. */
  resent: number;
}

export class Replica {
  readonly exec: ReplicaExecutor;

  constructor(
    readonly host: ReplicaHost,
    readonly ports: ReplicaPorts,
    /** The tree root (absolute). */
    readonly root: string,
    /** Mirror owner and group (asked at each use). */
    owner: () => boolean = () => false,
  ) {
    this.exec = new ReplicaExecutor(ports.fs, root, owner);
  }

  /** What a round of the executor needs for a batch from `peer`. */
  roundContext(peer: string, plan: RoundContext['plan'], staged: RoundContext['staged'], journalled: Set<string>): RoundContext {
    const host = this.host;
    return {
      get index() {
        return host.index;
      },
      plan,
      staged,
      journalled: (r) => journalled.has(journalKey(r)),
      adopt: (path, r) => this.adopt(path, r),
      resolved: (path, by) => host.failures.resolved(path, by),
      failed: (r, err) => host.failed(peer, r, err),
      conflict: (path, keptAs) => host.conflict(path, keptAs, peer),
    };
  }

  /** An 'adopt': the remote record is stored as ours (the inode stays the local one). */
  adopt(path: string, record: IndexRecord): IndexRecord {
    const prev = this.host.index.get(path);
    const rec = !record.deleted && isLive(prev) ? { ...record, entry: { ...record.entry, ino: prev.entry.ino } } : record;
    this.host.index.set(path, rec);
    return rec;
  }

  /** Records into the apply journal (durable) before they change anything; noted in `into`. */
  *journalRecords(peer: string, recs: IndexRecord[], into: Set<string>): Steps<void> {
    yield* wait(this.ports.journal.append(peer, recs));
    for (const r of recs) into.add(journalKey(r));
  }

  /**
   * Freshness (I2): `paths` as they are now become local versions, sent (journalled first,
   * by the outbox). `counted`: reported to host.ingested (the daemon's local-change count).
   */
  *fresh(paths: string[], now: number, counted = true): Steps<IndexRecord[]> {
    if (paths.length === 0) return [];
    const recs = yield* wait(this.host.ingest(paths, now));
    if (recs.length > 0) {
      if (counted) this.host.ingested?.(recs);
      yield* wait(this.ports.outbox.local(recs));
    }
    return recs;
  }

  /**
   * The executor's rounds over `recs` (I1): a path found changed locally becomes a local
   * version (freshness, sent), and its record is planned again, up to PLACE_ROUNDS times; a
   * record that would change the disk without being journalled is journalled first.
   * Returns the paths still unsettled (the batch is then refused and sent again).
   */
  *rounds(peer: string, recs: IndexRecord[], ctx: RoundContext, journalled: Set<string>, now: number, out: RoundOutcome): Steps<{ unsettled: string[]; fresh: IndexRecord[] }> {
    let pending = recs;
    const fresh: IndexRecord[] = [];
    for (let round = 0; round < PLACE_ROUNDS && pending.length > 0; round++) {
      const g = this.exec.round(pending, ctx, out);
      for (let s = g.next(); !s.done; s = g.next()) yield { planned: s.value };
      const late = out.unjournalled;
      if (late.length > 0) {
        const recsToJournal = late.flatMap((r) => {
          const a = ctx.plan(r);
          return a.op === 'ignore' ? [] : [a.record];
        });
        yield* this.journalRecords(peer, recsToJournal, journalled);
        for (const r of late) journalled.add(journalKey(r));
      }
      for (const r of out.changed) this.host.note?.('replanned', r.entry.path);
      pending = [...out.changed, ...late];
      if (out.changed.length > 0) fresh.push(...(yield* this.fresh(out.changed.map((r) => r.entry.path), now)));
    }
    return { unsettled: pending.map((r) => r.entry.path), fresh };
  }

  /**
   * Stores written records with the local stat (inode, owner), so that the watcher's event
   * for our own write finds them unchanged (no echo). Paths that are not as written are
   * pushed to `recheck`.
   */
  *store(applied: IndexRecord[], recheck: string[]): Steps<IndexRecord[]> {
    const live = applied.filter((r) => !r.deleted);
    const states = yield* wait(this.host.stat(live.map((r) => r.entry.path)));
    const stored: IndexRecord[] = [];
    const index = this.host.index;
    for (const r of applied.filter((x) => x.deleted)) {
      index.set(r.entry.path, r);
      stored.push(r);
    }
    live.forEach((r, i) => {
      const s = states[i]!;
      const ok = typeof s === 'object' && !('error' in s);
      // A user's write between our rename-into-place and this stat (same inode, written in
      // place) must not be taken for our own: with its stat stored and remembered, its event
      // would skip the hash and the new content would never be sent. So the stat is trusted
      // only when it is what we wrote (size, mtime); otherwise the record keeps no inode (any
      // scan rehashes it) and the path is checked again, as a local change.
      const asWritten = ok && (r.entry.kind !== 'file' || (s.kind === 'file' && s.size === r.entry.size && sameMtime(s, r.entry)));
      // a copy with the local stat's inode and owner (Object.assign, not a spread: once per
      // placed file, and a spread of the entry cost several times as much in a burst)
      let entry: Entry = r.entry;
      if (ok && asWritten) {
        entry = Object.assign({}, r.entry);
        entry.ino = s.ino;
        entry.uid = s.uid;
        entry.gid = s.gid;
      }
      const rec: IndexRecord = { entry, version: r.version };
      if (entry.kind === 'file' && entry.ino !== undefined) this.host.ownWrite?.(entry);
      else if (ok && !asWritten) {
        this.host.notOwnWrite?.(r.entry.path);
        recheck.push(r.entry.path);
        this.host.note?.('changed-after-write', r.entry.path);
      }
      index.set(r.entry.path, rec);
      stored.push(rec);
    });
    return stored;
  }

  /**
   * After the rounds: a directory delete not done (not empty here) is stored as received
   * and the path checked again, so what is still there comes back as a newer local version
   * everywhere; the aside names are tidied; the applied records are stored with the local
   * stat; the conflict copies and the re-checked paths become local versions (sent); the
   * adopted and stored records are relayed to the peers other than `peer`.
   */
  *settle(peer: string, out: RoundOutcome, recheck: string[], now: number, moves?: RelayMoves): Steps<Settled> {
    for (const r of out.notRemoved) {
      this.host.note?.('not-removed', r.entry.path);
      this.host.index.set(r.entry.path, r);
      recheck.push(r.entry.path);
    }
    this.host.tidyAside();
    const stored = yield* this.store(out.applied, recheck);
    const local = yield* this.fresh([...out.kept, ...recheck], now, false);
    const relay = [...out.adopted, ...stored];
    if (relay.length > 0) yield* wait(this.ports.outbox.relay(relay, peer, moves));
    return { stored, local, relay };
  }

  /**
   * A batch's first step, before anything else happens to it (the staging of its contents
   * included): freshness (I2), then every record's decision against the index, and what
   * will change something journalled (durable). So a record whose content cannot be staged
   * (ENOSPC) is not forgotten by a crash before the index save: the replay finds it
   * journalled and not on disk, and makes it a failed item.
   */
  *admit(peer: string, recs: IndexRecord[], opts: RemoteOptions & { nowMs: number }): Steps<{ fresh: IndexRecord[]; decisions: Map<string, RemoteDecision>; journalled: Set<string> }> {
    const fresh = yield* this.fresh(recs.map((r) => r.entry.path), opts.nowMs);
    const decisions = new Map<string, RemoteDecision>();
    for (const r of recs) decisions.set(r.entry.path, applyRemoteChange(this.host.index.get(r.entry.path), r, opts));
    const journalled = new Set<string>();
    yield* this.journalRecords(peer, [...decisions.values()].flatMap((d) => (d.action === 'ignore' ? [] : [d.record])), journalled);
    return { fresh, decisions, journalled };
  }

  /**
   * Records from `peer` whose contents are staged (`staged(path)`; records that need none
   * go through as they are): freshness, journal, rounds, settle (see the top of this file).
   * `applied` sees what the rounds applied before it is stored and relayed.
   */
  *applyStaged(
    peer: string,
    recs: IndexRecord[],
    staged: RoundContext['staged'],
    remote: Omit<RemoteOptions, 'nowMs'>,
    moves?: RelayMoves,
    applied?: (out: RoundOutcome) => void,
  ): Steps<StagedResult> {
    const now = this.ports.clock.now();
    const index = () => this.host.index;
    // freshness: a local edit made while the content was on its way is a version first
    let fresh = yield* this.fresh(recs.map((r) => r.entry.path), now);
    const opts: RemoteOptions = { ...remote, nowMs: now };
    const plan = (r: IndexRecord): RemoteAction => {
      const a = planRemoteRecord(index(), r, opts, true);
      this.host.planned?.(peer, r, a);
      return a;
    };
    // durable before anything changes (the daemon journals again here: an index save since
    // its step 1 may have rotated their first entries away)
    const journalled = new Set<string>();
    yield* this.journalRecords(peer, recs.filter((r) => planRemoteRecord(index(), r, opts, true).op !== 'ignore'), journalled);
    const out = emptyOutcome();
    const ctx = this.roundContext(peer, plan, staged, journalled);
    const rounds = yield* this.rounds(peer, recs, ctx, journalled, now, out);
    fresh = [...fresh, ...rounds.fresh];
    applied?.(out);
    const s = yield* this.settle(peer, out, [], now, moves);
    return { out, ...s, fresh, unsettled: rounds.unsettled, now };
  }

  /**
   * At start, after the index is loaded: objects a crash left aside mid-placement go back
   * to their paths (or are kept as conflict copies); then the records journalled since the
   * last index save are replayed. One whose state is on disk (it was applied) takes its
   * place in the index with its version; one that is not (never applied, or changed since)
   * becomes a failed item, planned again and re-applied from its peer by the retry; our own
   * versions go to the peers again (the crash may have come between the journal and the
   * outboxes; a peer that has them finds them equal). Without this the initial scan would
   * take a received file for a local creation, newer than everything (issue 9, item 2).
   */
  *recover(): Steps<RecoverResult> {
    const { fs, clock, journal, outbox } = this.ports;
    for (const x of recoverAside(fs, this.root)) this.host.note?.('recovered-aside', x.path, x.keptAs);
    this.host.tidyAside();
    const entries = yield* wait(journal.entries());
    if (entries.length === 0) return { journalled: 0, adopted: 0, retried: 0, resent: 0 };
    const disk = yield* wait(this.host.observe([...new Set(entries.map((j) => j.rec.entry.path))]));
    const index = this.host.index;
    const failures = this.host.failures;
    const { ours, failed, settled, adopted } = replayJournal(index, entries, (rec) => journalledOnDisk(rec, disk.get(rec.entry.path)));
    for (const p of settled) failures.resolved(p, index.get(p)?.version);
    const now = clock.now();
    for (const f of failed) failures.add(f.peer, this.host.wire(f.rec), 'not applied before a crash', 'crash', now);
    if (ours.length > 0) yield* wait(outbox.resend(sendOrder(ours)));
    return { journalled: entries.length, adopted, retried: failed.length, resent: ours.length };
  }
}
