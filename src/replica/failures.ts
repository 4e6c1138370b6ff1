// Out-of-sync items: records from a peer that could not be applied here (EACCES, ENOSPC,
// a path in the way...). Issue 9, item 5: such a record never blocks the other records or
// the other peers (the batch is acknowledged), so it must not be forgotten either: it is
// kept here with its error, persisted with the index (src/actors/indexStore.ts saves it
// beside it, before the acknowledgement), retried with backoff and on every rescan, and
// shown by `omirr status` and the metrics until it is applied or superseded.
import type { WireChange } from '../core/wireChange.js';
import { orderKeyCompare, type Version } from '../core/version.js';

/** `by` settles a pending record of version `pending`: equal, descending, or winning a conflict with it. */
export function supersedes(by: Version, pending: Version): boolean {
  return orderKeyCompare(by, pending) >= 0;
}

export interface FailedItem {
  path: string;
  /** The peer the record came from (its content is fetched from there on a retry). */
  peer: string;
  change: WireChange;
  error: string;
  /** errno code (EACCES, ENOSPC, ...) or 'other': the metric's reason label. */
  reason: string;
  firstAtMs: number;
  lastAtMs: number;
  attempts: number;
}

/** The first retry waits this long; each failure doubles it up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 2000;
export const RETRY_MAX_MS = 5 * 60_000;

export class FailedItems {
  private readonly items = new Map<string, FailedItem>();

  /** Records a failure (a new record for a path replaces the old one it beats); true when the path was not failing yet. */
  add(peer: string, change: WireChange, error: string, reason: string, nowMs: number): boolean {
    const path = change.rec.entry.path;
    const prev = this.items.get(path);
    // the item keeps the winning record (a failing record that loses to the one already
    // pending must not replace it: the pending one would be forgotten)
    const keepPrev = prev !== undefined && !supersedes(change.rec.version, prev.change.rec.version);
    this.items.set(path, { path, peer: keepPrev ? prev.peer : peer, change: keepPrev ? prev.change : change, error, reason, firstAtMs: prev?.firstAtMs ?? nowMs, lastAtMs: nowMs, attempts: (prev?.attempts ?? 0) + 1 });
    return prev === undefined;
  }

  /**
   * The path was applied, adopted or found covered, with the record of version `by` (what
   * the index holds for it now): the failed item goes only when `by` beats or equals its
   * record (pickWinner's order: a causal descendant always wins). A record concurrent with
   * the failed one and losing to it does not settle it: the failed record would still win
   * here, and dropping it would leave this node on a version every other node has beaten,
   * with nothing left to bring the winner (or keep our loser as a conflict copy) - the
   * simulation's seed 8214 (a peer's delete adopted over a failed, newer symlink).
   * Without `by`: resolved whatever it held.
   */
  resolved(path: string, by?: Version): boolean {
    const item = this.items.get(path);
    if (!item) return false;
    if (by !== undefined && !supersedes(by, item.change.rec.version)) return false;
    return this.items.delete(path);
  }

  get size(): number {
    return this.items.size;
  }

  list(): FailedItem[] {
    return [...this.items.values()];
  }

  /** The delay before the next retry: doubling with the attempts of the most-tried item. */
  retryDelayMs(): number {
    let n = 0;
    for (const i of this.items.values()) n = Math.max(n, i.attempts);
    return Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.max(0, Math.min(n - 1, 20)));
  }

  /** Items by peer, for a retry. */
  byPeer(): Map<string, FailedItem[]> {
    const out = new Map<string, FailedItem[]>();
    for (const i of this.items.values()) out.set(i.peer, [...(out.get(i.peer) ?? []), i]);
    return out;
  }

  /** For persistence. */
  toJSON(): FailedItem[] {
    return this.list();
  }

  load(items: FailedItem[]): void {
    this.items.clear();
    for (const i of items) if (i && typeof i.path === 'string' && i.change?.rec?.entry?.path === i.path) this.items.set(i.path, i);
  }
}
