// Tree modes (docs/daemon.md "Tree modes"): what a send-only or receive-only tree keeps
// aside from the ordinary replica. Pure bookkeeping; the replica (src/daemon/treeReplica.ts)
// calls it at its two boundaries: records from peers (send-only drops them) and local
// versions on their way out (receive-only keeps them).
//
// send-only: a peer's record that would change something here is not applied, not relayed
// and not acknowledged any differently (the peer keeps its version); it is listed here, per
// path, until a newer local version of the path wins over it.
//
// receive-only: a local change is a version in the index (so change detection, placing and
// conflict copies work as everywhere), but with a version that is never sent and that
// loses to any newer version from the peers: `localOnlyVersion`. What the peers last gave
// (the `base`) is kept per changed path, so `omirr revert` can restore it.
import type { IndexRecord } from '../core/treeIndex.js';
import { compare, maxCounter, pickWinner, type Version } from '../core/version.js';

/**
 * The version of a local change on a receive-only node whose received version was `base`:
 *  - after `base` (a record equal to or older than what the peers gave is ignored: the local
 *    change stays until something newer comes);
 *  - losing to every newer version the peers make from `base`: those tick their writer's
 *    counter past maxCounter(base), while this one never goes past it (unless `node` itself
 *    wrote `base` last, then by one), so pickWinner picks theirs and the local change is
 *    kept as a conflict copy (a local addition in its turn).
 * For a path the peers never gave (a local addition) it is {node: 1}: older than anything.
 */
export function localOnlyVersion(base: Version | undefined, node: string): Version {
  if (base === undefined) return { [node]: 1 };
  const own = base[node] ?? 0;
  const top = maxCounter(base);
  return { ...base, [node]: own < top ? top : own + 1 };
}

export interface IgnoredRemote {
  path: string;
  peer: string;
  /** What the peer had: a delete, or a file/dir/symlink. */
  change: 'deleted' | 'file' | 'dir' | 'symlink';
  version: Version;
  firstAtMs: number;
  lastAtMs: number;
  count: number;
}

export interface LocalChange {
  path: string;
  /** added: the peers never gave this path (or gave a delete); deleted: removed here; changed: other content here. */
  change: 'added' | 'changed' | 'deleted';
  /** The record the peers last gave (restored by revert), or null. */
  base: IndexRecord | null;
  atMs: number;
}

/** The send-only and receive-only ledgers of one tree (saved with its index). */
export class ModeLedger {
  readonly ignored = new Map<string, IgnoredRemote>();
  readonly local = new Map<string, LocalChange>();
  /** Paths whose received record was noted by noteBase and not yet marked (a batch in progress). */
  private readonly bases = new Map<string, IndexRecord | null>();

  /** A peer's record not applied on a send-only tree; true the first time for its path (warn once). */
  noteIgnored(peer: string, rec: IndexRecord, nowMs: number): boolean {
    const path = rec.entry.path;
    const prev = this.ignored.get(path);
    this.ignored.set(path, {
      path,
      peer,
      change: rec.deleted ? 'deleted' : rec.entry.kind,
      version: rec.version,
      firstAtMs: prev?.firstAtMs ?? nowMs,
      lastAtMs: nowMs,
      count: (prev?.count ?? 0) + 1,
    });
    return prev === undefined;
  }

  /** A newer local version of `rec`'s path wins over what was ignored: no longer listed. */
  localWins(rec: IndexRecord): void {
    const ig = this.ignored.get(rec.entry.path);
    if (ig && compare(rec.version, ig.version) !== 'before' && pickWinner(rec.version, ig.version) === 'a') this.ignored.delete(rec.entry.path);
  }

  /** Before a local version replaces `prev` in a receive-only tree: remember what the peers gave. */
  noteBase(path: string, prev: IndexRecord | undefined): void {
    if (this.local.has(path) || this.bases.has(path)) return;
    this.bases.set(path, prev ?? null);
  }

  /**
   * A local version of a receive-only tree (`rec`, ticked as usual): the record to store
   * instead (localOnlyVersion of the base), or the base itself when the change undid
   * itself (same state as the peers gave: no longer locally changed).
   */
  markLocal(rec: IndexRecord, node: string, nowMs: number): { record: IndexRecord; first: boolean } {
    const path = rec.entry.path;
    const had = this.local.get(path);
    const base = had ? had.base : (this.bases.get(path) ?? null);
    this.bases.delete(path);
    if (base && sameState(base, rec)) {
      this.local.delete(path);
      return { record: rec.deleted ? base : { entry: rec.entry, version: base.version }, first: false };
    }
    const liveBase = base !== null && !base.deleted;
    const change = !liveBase ? 'added' : rec.deleted ? 'deleted' : 'changed';
    if (!rec.deleted || liveBase) this.local.set(path, { path, change, base, atMs: had?.atMs ?? nowMs });
    else this.local.delete(path); // an addition removed again: nothing left to report
    return { record: { ...rec, version: localOnlyVersion(base?.version, node) }, first: had === undefined };
  }

  /** A record from the peers was stored for `path`: it is what the peers give now. */
  received(path: string): void {
    this.local.delete(path);
    this.bases.delete(path);
  }

  toJSON(): { ignored: IgnoredRemote[]; local: LocalChange[] } {
    return { ignored: [...this.ignored.values()], local: [...this.local.values()] };
  }

  load(v: unknown): void {
    if (!v || typeof v !== 'object') return;
    const o = v as { ignored?: unknown; local?: unknown };
    if (Array.isArray(o.ignored)) for (const i of o.ignored as IgnoredRemote[]) if (typeof i?.path === 'string') this.ignored.set(i.path, i);
    if (Array.isArray(o.local)) for (const l of o.local as LocalChange[]) if (typeof l?.path === 'string') this.local.set(l.path, l);
  }
}

/** Same object as the peers gave: both deletes, or the same kind with the same content and mode. */
function sameState(a: IndexRecord, b: IndexRecord): boolean {
  if (a.deleted || b.deleted) return !!a.deleted && !!b.deleted;
  const x = a.entry;
  const y = b.entry;
  if (x.kind !== y.kind || x.mode !== y.mode) return false;
  if (x.kind === 'file') return x.hash !== undefined && x.hash === y.hash && x.size === y.size;
  if (x.kind === 'symlink') return x.target === y.target;
  return true;
}
