// The daemon's tree figures as metrics: files and bytes received per peer, conflicts and
// scans per tree. The tree replicas keep plain running totals (ReplicaStats); this turns
// them into Prometheus counters at each scrape. A replica is remade when a reload changes
// its path, and its totals start again from 0, so what is added is the growth since the
// last scrape of that same replica object: the counters never go backwards.
import type { OmirrMetrics } from './omirrMetrics.js';

/** What a tree replica counts (a subset of src/daemon/treeReplica.ts ReplicaStats). */
export interface TreeTotals {
  conflicts: number;
  receivedFrom: Readonly<Record<string, { files: number; bytes: number }>>;
  scansBy: Readonly<Record<string, number>>;
  applyFailures?: Readonly<Record<string, number>>;
}

export interface TreeTotalsSource {
  readonly name: string;
  readonly stats: TreeTotals;
}

interface Seen {
  failures: Map<string, number>;
  conflicts: number;
  received: Map<string, { files: number; bytes: number }>;
  scans: Map<string, number>;
}

/**
 * A collect hook: call it with the live replicas before each render. `peers` are the
 * configured peer names, whose received counters are shown (at 0) before anything arrived.
 */
export function treeTotalsCollector(m: OmirrMetrics): (replicas: Iterable<TreeTotalsSource>, peers?: readonly string[]) => void {
  const seen = new WeakMap<TreeTotalsSource, Seen>();
  return (replicas, peers = []) => {
    for (const peer of peers) {
      m.filesReceived.inc({ peer }, 0);
      m.bytesReceived.inc({ peer }, 0);
    }
    for (const r of replicas) {
      const last = seen.get(r) ?? { conflicts: 0, received: new Map(), scans: new Map(), failures: new Map() };
      const tree = r.name;
      m.conflicts.inc({ tree }, Math.max(0, r.stats.conflicts - last.conflicts));
      last.conflicts = Math.max(last.conflicts, r.stats.conflicts);
      for (const [peer, now] of Object.entries(r.stats.receivedFrom)) {
        const before = last.received.get(peer) ?? { files: 0, bytes: 0 };
        m.filesReceived.inc({ peer }, Math.max(0, now.files - before.files));
        m.bytesReceived.inc({ peer }, Math.max(0, now.bytes - before.bytes));
        last.received.set(peer, { files: now.files, bytes: now.bytes });
      }
      for (const [reason, n] of Object.entries(r.stats.scansBy)) {
        m.rescans.inc({ tree, reason }, Math.max(0, n - (last.scans.get(reason) ?? 0)));
        last.scans.set(reason, n);
      }
      for (const [reason, n] of Object.entries(r.stats.applyFailures ?? {})) {
        m.applyFailures.inc({ tree, reason }, Math.max(0, n - (last.failures.get(reason) ?? 0)));
        last.failures.set(reason, n);
      }
      seen.set(r, last);
    }
  };
}
