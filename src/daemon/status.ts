// What `omirr status` shows: the daemon's answer to the control socket's `status` command
// (the JSON of `omirr status --json`), how it is collected from the live actor system,
// and the readable table the CLI prints by default.
import type { AnyActorRef } from 'xstate';
import type { PeerStatus } from '../machines/peerLink.js';
import type { ReplicaStats } from './treeReplica.js';
import { count } from '../core/count.js';
import { actorLabel } from '../core/actorLabel.js';

/** One live actor: its id, the machine it runs, the state it is in, a flat context summary. */
export interface ActorStatus {
  id: string;
  /** Machine id (e.g. 'peerLink'), or the kind of logic for non-machine actors. */
  machine: string;
  /** Dotted state path ('online.live'), or the actor's status for non-machine actors. */
  state: string;
  status: string;
  /** Parent actor id, or null for the root. */
  parent: string | null;
  /** 0 for the root, 1 for its children, ... */
  depth: number;
  /** Scalar context fields only (strings shortened): enough to see what it is doing. */
  context: Record<string, string | number | boolean | null>;
}

export interface TreeStatus {
  name: string;
  path: string;
  peers: string[];
  /** Files in the tree's index (not directories or symlinks), or null before the first scan. */
  files: number | null;
  /** Time of the last change seen or applied (ISO), or null. */
  lastChangeAt: string | null;
  state: string;
  /** Why the tree last failed (its directory is missing, the index is unreadable, a watch failed), or null. */
  lastError?: string | null;
  /** The replica's counters (changes, conflicts, fetches, renames, ...); null while it is not running. --json only. */
  stats?: ReplicaStats | null;
  /** Records from peers that could not be applied here yet (retried), or null while the tree is not running. */
  outOfSync?: number | null;
  /** Those records: path, peer, error, since when, attempts. --json only. */
  outOfSyncItems?: OutOfSyncItem[];
  /** send-receive, send-only or receive-only. */
  mode?: string;
  /** send-only: peers' changes not applied here (paths: ignoredRemoteItems), or null while not running. */
  ignoredRemote?: number | null;
  ignoredRemoteItems?: IgnoredRemoteItem[];
  /** receive-only: local changes not sent (paths: locallyChangedItems), or null while not running. */
  locallyChanged?: number | null;
  locallyChangedItems?: LocallyChangedItem[];
}

/** A peer's change a send-only tree did not apply (docs/daemon.md "Tree modes"). */
export interface IgnoredRemoteItem {
  path: string;
  peer: string;
  change: 'deleted' | 'file' | 'dir' | 'symlink';
  since: string;
  /** How many records for the path were ignored. */
  count: number;
}

/** A local change a receive-only tree did not send (`omirr revert TREE` undoes it). */
export interface LocallyChangedItem {
  path: string;
  change: 'added' | 'changed' | 'deleted';
  since: string;
}

export interface OutOfSyncItem {
  path: string;
  peer: string;
  error: string;
  reason: string;
  since: string;
  attempts: number;
}

/** Clock offsets with a peer beyond this are warned about (log, status, metric): newest-wins favours the clock that is ahead. */
export const CLOCK_SKEW_WARN_MS = 1000;

export interface DaemonStatus {
  node: string;
  pid: number;
  version: string;
  startedAt: string;
  /** When this snapshot was taken (ISO). */
  at: string;
  config: string | null;
  /** HOST:PORT the daemon serves peers on, or null. */
  listen?: string | null;
  /** This node's key fingerprint (what peers pin), or null. */
  fingerprint?: string | null;
  /** The supervisor's state ('running', 'stopping'). */
  state?: string;
  /** Why the last SIGHUP reload was refused (the old configuration still runs), or null. */
  lastReloadError?: string | null;
  actors: ActorStatus[];
  peers: PeerStatus[];
  trees: TreeStatus[];
}

/** Flattens an xstate state value: 'a', { a: 'b' } → 'a.b', parallel regions joined by ','. */
export function stateString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => {
      const sub = stateString(v);
      return sub === '' ? k : `${k}.${sub}`;
    });
    return parts.length === 1 ? parts[0]! : `(${parts.join(',')})`;
  }
  return '';
}

function summarizeContext(ctx: unknown): ActorStatus['context'] {
  const out: ActorStatus['context'] = {};
  if (!ctx || typeof ctx !== 'object') return out;
  for (const [k, v] of Object.entries(ctx as Record<string, unknown>)) {
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) out[k] = v;
    else if (typeof v === 'string') out[k] = v.length > 120 ? `${v.slice(0, 117)}...` : v;
  }
  return out;
}

/**
 * Every actor of a system, root first, depth first: what `status` reports as `actors`.
 * Children are found through each snapshot's `children` (invoked and spawned actors).
 */
export function summarizeActors(root: AnyActorRef, maxActors = 10_000): ActorStatus[] {
  const out: ActorStatus[] = [];
  const walk = (ref: AnyActorRef, parent: string | null, depth: number): void => {
    if (out.length >= maxActors) return;
    const snap = ref.getSnapshot() as { value?: unknown; status?: string; context?: unknown; children?: Record<string, AnyActorRef> };
    const logic = (ref as unknown as { logic?: { id?: string; config?: unknown } }).logic;
    const isMachine = logic !== undefined && 'config' in logic && typeof logic.id === 'string';
    out.push({
      id: ref.id,
      machine: isMachine ? logic.id! : typeof ref.src === 'string' ? ref.src : 'actor',
      state: isMachine ? stateString(snap.value) : (snap.status ?? 'active'),
      status: snap.status ?? 'active',
      parent,
      depth,
      context: summarizeContext(snap.context),
    });
    for (const child of Object.values(snap.children ?? {})) if (child) walk(child, ref.id, depth + 1);
  };
  walk(root, null, 0);
  return out;
}

function ms(n: number | null): string {
  if (n === null) return '-';
  const a = Math.abs(n);
  if (a < 1000) return `${n} ms`;
  if (a < 120_000) return `${(n / 1000).toFixed(1)} s`;
  if (a < 7_200_000) return `${(n / 60_000).toFixed(1)} min`;
  return `${(n / 3_600_000).toFixed(1)} h`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

/** The readable form of a status answer (what `omirr status` prints without --json). */
export function formatStatus(s: DaemonStatus): string {
  const out: string[] = [];
  const up = Date.parse(s.at) - Date.parse(s.startedAt);
  out.push(`node ${s.node}  pid ${s.pid}  omirr ${s.version}  up ${ms(up)}${s.config ? `  config ${s.config}` : ''}`);
  if (s.listen || s.fingerprint) out.push(`listen ${s.listen ?? '-'}  key ${s.fingerprint ?? '-'}`);
  if (s.lastReloadError) out.push(`last reload FAILED (old configuration still running): ${s.lastReloadError}`);
  out.push('');
  out.push('PEERS');
  out.push(
    s.peers.length === 0
      ? '  (none)'
      : table(
          ['  NAME', 'ADDRESS', 'STATE', 'CLOCK OFFSET', 'RTT', 'OUTBOX', 'LAG', 'SENT', 'LAST ERROR'],
          s.peers.map((p) => [
            `  ${p.name}`,
            p.address,
            p.state === 'backingOff' && p.retryDelayMs !== null ? `backingOff (${ms(p.retryDelayMs)})` : p.state,
            p.clockOffsetMs === null ? '-' : `${p.clockOffsetMs >= 0 ? '+' : ''}${ms(p.clockOffsetMs)}${Math.abs(p.clockOffsetMs) > CLOCK_SKEW_WARN_MS ? ' (SKEW)' : ''}`,
            ms(p.rttMs),
            String(p.outboxDepth),
            ms(p.lagMs),
            `${count(p.filesSent, 'file')}, ${bytes(p.bytesSent)}`,
            p.lastError ?? '',
          ]),
        ),
  );
  out.push('');
  out.push('TREES');
  out.push(
    s.trees.length === 0
      ? '  (none)'
      : table(
          ['  NAME', 'PATH', 'STATE', 'FILES', 'OUT OF SYNC', 'LAST CHANGE', 'PEERS', 'MODE', 'LAST ERROR'],
          s.trees.map((t) => [
            `  ${t.name}`,
            t.path,
            t.state,
            t.files === null ? '-' : String(t.files),
            t.outOfSync === null || t.outOfSync === undefined ? '-' : String(t.outOfSync),
            t.lastChangeAt ?? '-',
            t.peers.join(' ') || '-',
            t.mode ?? 'send-receive',
            t.lastError ?? '',
          ]),
        ),
  );
  for (const t of s.trees) if (t.outOfSync) out.push(`  tree ${t.name}: out of sync: ${t.outOfSync} (paths and errors: omirr status --json)`);
  for (const t of s.trees) if (t.ignoredRemote) out.push(`  tree ${t.name}: remote changes ignored: ${t.ignoredRemote} (send-only; paths: omirr status --json)`);
  for (const t of s.trees) if (t.locallyChanged) out.push(`  tree ${t.name}: locally changed: ${t.locallyChanged} (receive-only, not sent; undo: omirr revert ${t.name}; paths: omirr status --json)`);
  for (const p of s.peers) {
    if (p.clockOffsetMs !== null && Math.abs(p.clockOffsetMs) > CLOCK_SKEW_WARN_MS) {
      out.push(`WARNING: peer ${p.name}'s clock is ${p.clockOffsetMs > 0 ? 'ahead' : 'behind'} by ${ms(Math.abs(p.clockOffsetMs))}: concurrent conflicts favour the node whose clock is ahead`);
    }
  }
  out.push('');
  out.push('ACTORS');
  out.push(
    table(
      ['  ACTOR', 'MACHINE', 'STATE'],
      s.actors.map((a) => [`  ${'  '.repeat(a.depth)}${actorLabel(a.id, a.machine === 'actor' ? undefined : a.machine)}`, a.machine, a.status === 'active' ? a.state : `${a.state} (${a.status})`]),
    ),
  );
  return out.join('\n') + '\n';
}
