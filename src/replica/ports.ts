// The interfaces the replica (replica.ts, and its executor, executor.ts) talks to: the file
// system, the clock, the apply journal and the outbox; and the daemon's forms of them
// (node:fs, Date.now and timers, ApplyJournal in journal.ts; the outbox is TreeReplica's,
// over the peer links). The simulation (test/sim/) implements the same in memory: a file
// system with injected EPERM, ENOSPC and crashes, xstate's SimulatedClock skewed per node,
// a journal that a crash keeps and a save empties, outboxes the scheduler delivers from.
import * as nodeFs from 'node:fs';
import { mtimeSeconds } from '../core/entry.js';
import { fsPath } from '../core/names.js';
import type { IndexRecord } from '../core/treeIndex.js';
import type { JournalEntry } from './journal.js';
import { nodePlaceFs, type PlaceFs } from './placement.js';

/** A value now (the simulation's ports) or later (the daemon's: I/O, fsync, worker threads). */
export type Later<T> = T | Promise<T>;

/** Attributes set on an object that is already in place (a directory made, a file whose bytes are the same). */
export interface AttrChange {
  mode?: number;
  mtimeMs?: number;
  mtimeNs?: number;
  uid?: number;
  gid?: number;
}

/**
 * The synchronous file-system calls of the executor: placing's (PlaceFs: lstat, readlink,
 * rename, link, unlink, symlink, mkdir, rmdir, readdir, small state files) and setAttrs.
 */
export interface ReplicaFs extends PlaceFs {
  /** chmod and utimes (a symlink: only its mtime), lchown when uid/gid are given. */
  setAttrs(abs: string, a: AttrChange): void;
}

/** The real file system. */
export const nodeReplicaFs: ReplicaFs = {
  ...nodePlaceFs,
  setAttrs(absPath, a) {
    // a name that is not UTF-8 reaches the kernel as its exact bytes (src/core/names.ts)
    const abs = fsPath(absPath);
    const st = nodeFs.lstatSync(abs);
    const mtime = a.mtimeMs !== undefined ? mtimeSeconds({ mtimeMs: a.mtimeMs, ...(a.mtimeNs !== undefined ? { mtimeNs: a.mtimeNs } : {}) }) : undefined;
    if (st.isSymbolicLink()) {
      if (mtime !== undefined) nodeFs.lutimesSync(abs, Date.now() / 1000, mtime);
    } else {
      if (a.mode !== undefined) nodeFs.chmodSync(abs, a.mode & 0o7777);
      if (mtime !== undefined) nodeFs.utimesSync(abs, Date.now() / 1000, mtime);
    }
    if (a.uid !== undefined || a.gid !== undefined) nodeFs.lchownSync(abs, a.uid ?? -1, a.gid ?? -1);
  },
};

/**
 * Time: what versions, tombstones and failed items are stamped with, and the timers of the
 * index save and the retries. The daemon's is the system clock; the simulation's is xstate's
 * SimulatedClock, with a per-node offset (clock skew).
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The system clock; its timers never keep the process alive (a stop does not wait for them). */
export const nodeClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * The apply journal (journal.ts): records durable BEFORE they change the disk or the index,
 * so that a batch can be acknowledged before the index save, and a crash does not turn a
 * received file into a local creation. Rotation at an index save is the implementation's.
 */
export interface Journal {
  /** Appends `recs` from `peer` ('' for our own versions) durably. */
  append(peer: string, recs: IndexRecord[]): Later<void>;
  /** What was journalled since the last durable index save, oldest first (the restart's replay). */
  entries(): Later<JournalEntry[]>;
}

/** The batch's renames, so that a rename stays a rename down a chain of peers (the daemon's relay). */
export interface RelayMoves {
  /** New path -> old path of the batch's paired renames. */
  movedFrom: Map<string, string>;
  /** Paths this batch relayed already (a rename's source relayed in an earlier step). */
  relayedBefore: Set<string>;
}

/** The tree's outboxes: one per peer that shares it, delivered in order, kept until acknowledged. */
export interface Outbox {
  /**
   * Our own new versions, to every peer. Durable before they are queued: the implementation
   * journals them first (the daemon's receive-only tree keeps them instead: modes.ts).
   */
  local(recs: IndexRecord[]): Later<void>;
  /** Our own versions again, to every peer, as they are (after a crash: they are in the journal already). */
  resend(recs: IndexRecord[]): Later<void>;
  /** Records applied or adopted from `from`, to the other peers. */
  relay(recs: IndexRecord[], from: string, moves?: RelayMoves): Later<void>;
}
