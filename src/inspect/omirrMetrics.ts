// The metrics omirr publishes on /metrics, defined once so that the daemon, mm and the
// docs agree on names and labels. Whoever owns a number updates it through these handles.
import type { Counter, Gauge, Histogram, MetricsRegistry } from '../core/metrics.js';

export interface OmirrMetrics {
  /** Seconds the peer is behind: age of the oldest change it has not acknowledged (0 when caught up). */
  peerLagSeconds: Gauge;
  /** Changes waiting in the peer's outbox. */
  outboxDepth: Gauge;
  /** 1 for the peer link's current state, 0 for its other states (see setPeerState). */
  peerState: Gauge;
  bytesSent: Counter;
  bytesReceived: Counter;
  filesSent: Counter;
  filesReceived: Counter;
  conflicts: Counter;
  rescans: Counter;
  /** Records from peers that could not be applied (yet) on this node, per tree. */
  outOfSync: Gauge;
  ignoredRemote: Gauge;
  locallyChanged: Gauge;
  /** Records from peers whose apply failed, per tree and reason (errno code). */
  applyFailures: Counter;
  /** The peer's clock minus ours, in seconds, measured at the handshake. */
  peerClockOffset: Gauge;
  /** mm job runs by site:package and result (succeeded, failed, error, skipped). */
  jobRuns: Counter;
  jobDuration: Histogram;
  /** Unix time (seconds) of the job's last successful run. */
  jobLastSuccess: Gauge;
}

const JOB_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

export function omirrMetrics(reg: MetricsRegistry): OmirrMetrics {
  return {
    peerLagSeconds: reg.gauge({ name: 'omirr_peer_lag_seconds', help: 'Age in seconds of the oldest change the peer has not acknowledged (0 when caught up)', labelNames: ['peer'] }),
    outboxDepth: reg.gauge({ name: 'omirr_outbox_depth', help: "Changes waiting in the peer's outbox", labelNames: ['peer'] }),
    peerState: reg.gauge({ name: 'omirr_peer_state', help: "1 for the peer link's current state, 0 for the others", labelNames: ['peer', 'state'] }),
    bytesSent: reg.counter({ name: 'omirr_bytes_sent_total', help: 'File bytes sent to the peer', labelNames: ['peer'] }),
    bytesReceived: reg.counter({ name: 'omirr_bytes_received_total', help: 'File bytes received from the peer', labelNames: ['peer'] }),
    filesSent: reg.counter({ name: 'omirr_files_sent_total', help: 'Files sent to the peer', labelNames: ['peer'] }),
    filesReceived: reg.counter({ name: 'omirr_files_received_total', help: 'Files received from the peer', labelNames: ['peer'] }),
    conflicts: reg.counter({ name: 'omirr_conflicts_total', help: 'Conflicting changes resolved', labelNames: ['tree'] }),
    rescans: reg.counter({ name: 'omirr_rescans_total', help: 'Full rescans of a tree, by reason', labelNames: ['tree', 'reason'] }),
    ignoredRemote: reg.gauge({ name: 'omirr_ignored_remote_changes', help: "Paths a peer changed in a send-only tree, not applied here (omirr status --json lists them)", labelNames: ['tree'] }),
    locallyChanged: reg.gauge({ name: 'omirr_locally_changed', help: 'Paths changed locally in a receive-only tree, not sent (omirr revert TREE undoes them)', labelNames: ['tree'] }),
    outOfSync: reg.gauge({ name: 'omirr_out_of_sync_items', help: 'Changes from peers not applied on this node yet (retried; omirr status --json lists them)', labelNames: ['tree'] }),
    applyFailures: reg.counter({ name: 'omirr_apply_failures_total', help: 'Changes from peers that could not be applied, by reason (errno code)', labelNames: ['tree', 'reason'] }),
    peerClockOffset: reg.gauge({ name: 'omirr_peer_clock_offset_seconds', help: "The peer's clock minus ours at the handshake (past 1 s, newest-wins favours the clock ahead)", labelNames: ['peer'] }),
    jobRuns: reg.counter({ name: 'omirr_mm_job_runs_total', help: 'mm job runs by site:package and result', labelNames: ['job', 'result'] }),
    jobDuration: reg.histogram({ name: 'omirr_mm_job_duration_seconds', help: 'Duration of mm job runs', labelNames: ['job', 'result'], buckets: JOB_BUCKETS }),
    jobLastSuccess: reg.gauge({ name: 'omirr_mm_job_last_success_timestamp_seconds', help: 'Unix time of the last successful run of the job', labelNames: ['job'] }),
  };
}

/** Prometheus' "enum" pattern: the current state gets 1, every other known state 0. */
export function setPeerState(m: OmirrMetrics, peer: string, state: string, allStates: readonly string[]): void {
  for (const s of new Set([...allStates, state])) m.peerState.set({ peer, state: s }, s === state ? 1 : 0);
}

/** One finished mm job run. `endedAtMs`: epoch milliseconds. */
export function recordJobRun(m: OmirrMetrics, job: string, result: string, durationSeconds: number, endedAtMs: number): void {
  m.jobRuns.inc({ job, result });
  m.jobDuration.observe({ job, result }, durationSeconds);
  if (result === 'succeeded') m.jobLastSuccess.set({ job }, Math.round(endedAtMs / 1000));
}
