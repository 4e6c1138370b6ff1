// Every machine omirr runs, by name: what `omirr machines` exports and docs/machines.md
// shows (test/inspect/machinesDoc.test.ts fails when the doc drifts from these).
// Add a machine here when you add one to src/machines/.
import type { AnyStateMachine } from 'xstate';
import { mmSupervisorMachine } from './mmSupervisor.js';
import { mmJobMachine } from './mmJob.js';
import { peerLinkMachine } from './peerLink.js';
import { daemonSupervisorMachine } from './daemonSupervisor.js';
import { transferSessionMachine } from './transferSession.js';
import { treeReplicaMachine } from './treeReplica.js';

export interface RegisteredMachine {
  name: string;
  /** One line on what the machine is for (a heading's subtitle in docs/machines.md). */
  description: string;
  machine: AnyStateMachine;
}

export const machines: readonly RegisteredMachine[] = [
  { name: 'mmSupervisor', description: 'mm: runs the selected site:package jobs, at most N at a time, and reports.', machine: mmSupervisorMachine },
  { name: 'mmJob', description: 'mm: one site:package job (lock, run mirror, retry, record status).', machine: mmJobMachine },
  { name: 'daemonSupervisor', description: 'daemon: the root actor (one peer link per peer, one tree replica per tree; reload; ordered stop).', machine: daemonSupervisorMachine },
  { name: 'peerLink', description: 'daemon: the link to one peer (connect, handshake, sync, back off, reconnect).', machine: peerLinkMachine },
  { name: 'treeReplica', description: 'daemon: one mirrored tree (load index, arm watches, initial scan, live, rescans, drain).', machine: treeReplicaMachine },
  { name: 'transferSession', description: 'one transfer of files between two trees.', machine: transferSessionMachine },
];
