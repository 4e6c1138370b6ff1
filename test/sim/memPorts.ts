// The replica's ports (src/replica/ports.ts) and host (src/replica/replica.ts) in memory and
// synchronous, for the simulation (replicaSim.ts) and the replica's unit tests: a journal
// that a crash keeps and an index save empties, outboxes the test delivers from, a clock
// (xstate's SimulatedClock plus a per-node offset), and a host whose stat and hash read the
// in-memory file system (memFs.ts; a file's hash is its content).
import type { SimulatedClock } from 'xstate';
import type { Entry } from '../../src/core/entry.js';
import { putRecords, type IndexRecord, type TreeIndex } from '../../src/core/treeIndex.js';
import type { WireChange } from '../../src/core/wireChange.js';
import { FailedItems } from '../../src/replica/failures.js';
import type { JournalEntry } from '../../src/replica/journal.js';
import { planLocalBatch, type LocalObservation } from '../../src/replica/planner.js';
import { settleReplaced, tidyAside } from '../../src/replica/placement.js';
import type { Clock, Journal, Outbox } from '../../src/replica/ports.js';
import type { DiskState, ReplicaHost, ReplicaNote } from '../../src/replica/replica.js';
import type { LstatResult } from '../../src/workers/fsTasks.js';
import type { MemFs } from './memFs.js';

/** Names the daemon keeps for itself inside a tree (staging, aside): never versions. */
export const TEMP = '.omirr-part.';

export function isTempPath(p: string): boolean {
  return p.split('/').some((s) => s.startsWith(TEMP));
}

/** A record as it goes on the wire: no inode, no owner. */
export function wire(r: IndexRecord): IndexRecord {
  const { ino: _ino, uid: _u, gid: _g, ...entry } = r.entry;
  return { entry, version: r.version, ...(r.deleted ? { deleted: r.deleted } : {}) };
}

/** A node's clock: the one SimulatedClock of the world, `skew` ms off. */
export function skewedClock(clock: SimulatedClock, skew: number): Clock {
  return {
    now: () => clock.now() + skew,
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (h) => clock.clearTimeout(h as number),
  };
}

/** The journal port: what a crash keeps; an index save empties it (its records are in the saved index). */
export class MemJournal implements Journal {
  list: JournalEntry[] = [];
  append(peer: string, recs: IndexRecord[]): void {
    for (const rec of recs) this.list.push({ peer, rec });
  }
  entries(): JournalEntry[] {
    return this.list;
  }
}

export interface OutRec {
  seq: number;
  rec: IndexRecord;
}

/** The outbox port: one queue per peer, in order, kept until acknowledged (`acked`). */
export class MemOutbox implements Outbox {
  readonly boxes = new Map<string, { recs: OutRec[]; acked: number; next: number }>();
  constructor(
    peers: string[],
    private readonly journal: MemJournal,
  ) {
    for (const p of peers) this.boxes.set(p, { recs: [], acked: 0, next: 1 });
  }
  local(recs: IndexRecord[]): void {
    this.journal.append('', recs.map(wire)); // durable before it is in an outbox
    this.send(recs);
  }
  resend(recs: IndexRecord[]): void {
    this.send(recs);
  }
  relay(recs: IndexRecord[], from: string): void {
    this.send(recs, from);
  }
  private send(recs: IndexRecord[], except?: string): void {
    for (const [peer, box] of this.boxes) {
      if (peer === except) continue;
      for (const r of recs) box.recs.push({ seq: box.next++, rec: wire(r) });
    }
  }
}

/** What a MemHost reports (the simulation counts and traces it; tests assert on it). */
export interface MemHostEvents {
  failed?(peer: string, rec: IndexRecord, err: NodeJS.ErrnoException): void;
  conflict?(path: string, keptAs: string, peer: string): void;
  note?(what: ReplicaNote, path: string, detail?: string): void;
}

/** The index's owner over a MemFs: the daemon's TreeReplica's part of the wiring, in memory. */
export class MemHost implements ReplicaHost {
  index: TreeIndex = new Map();
  readonly failures = new FailedItems();

  constructor(
    readonly fs: MemFs,
    readonly root: string,
    readonly node: string,
    readonly clock: Clock,
    private readonly events: MemHostEvents = {},
  ) {}

  /** One path as it is now (a file with its hash: its content). */
  look(path: string): LocalObservation {
    let st;
    try {
      st = this.fs.lstat(`${this.root}/${path}`);
    } catch {
      return { path, gone: true };
    }
    const entry: Entry = { path, kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file', size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, ino: st.ino };
    if (entry.kind === 'file') entry.hash = this.fs.content(`${this.root}/${path}`);
    if (entry.kind === 'symlink') entry.target = this.fs.readlink(`${this.root}/${path}`);
    return { path, entry };
  }

  /** The freshness ingest (the daemon's ingestPaths): paths as they are now become versions in the index; not sent. */
  ingest(paths: Iterable<string>, now: number): IndexRecord[] {
    const obs: LocalObservation[] = [];
    for (const p of paths) if (!isTempPath(p)) obs.push(this.look(p));
    const recs = planLocalBatch(this.index, obs, this.node, now);
    // a fresh stat of an unchanged path (a new inode after placing) refreshes the entry
    for (const o of obs) if (!('gone' in o) && !recs.some((r) => r.entry.path === o.path)) {
      const prev = this.index.get(o.path);
      if (prev && !prev.deleted) this.index.set(o.path, { ...prev, entry: { ...prev.entry, ino: o.entry.ino } });
    }
    putRecords(this.index, recs);
    return recs;
  }

  stat(paths: string[]): LstatResult[] {
    return paths.map((p) => {
      const o = this.look(p);
      if ('gone' in o) return 'gone';
      const { hash: _h, ...e } = o.entry;
      return e;
    });
  }

  observe(paths: string[]): Map<string, DiskState> {
    return new Map(
      paths.map((p): [string, DiskState] => {
        const o = this.look(p);
        return [p, 'gone' in o ? 'gone' : o.entry];
      }),
    );
  }

  wire(rec: IndexRecord): WireChange {
    return { tree: 't', rec: wire(rec) };
  }

  /** TreeReplica.applyFailed: an out-of-sync item (FailedItems keeps the winning record of a path). */
  failed(peer: string, rec: IndexRecord, err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    this.failures.add(peer, this.wire(rec), e.code ?? e.message, e.code ?? e.message, this.clock.now());
    this.events.failed?.(peer, rec, e);
  }

  conflict(path: string, keptAs: string, peer: string): void {
    this.events.conflict?.(path, keptAs, peer);
  }

  note(what: ReplicaNote, path: string, detail?: string): void {
    this.events.note?.(what, path, detail);
  }

  /** The simulated users hold no open handles: files parked for a grace period are settled at once. */
  tidyAside(): void {
    settleReplaced(this.fs, this.root, Infinity, () => []);
    tidyAside(this.fs, this.root);
  }
}
