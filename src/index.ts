// The public API of omirr (`import { ... } from 'omirr'`): a small, stable surface, each name
// documented in docs/api.md and checked by test/api/exports.test.ts. Everything else lives
// behind `omirr/internal` (src/internal.ts), which is unstable.

// Run things: the daemon, mm, mirror packages, one sync, a server.
export { startDaemon, type StartDaemonOptions, type DaemonHandle } from './daemon/daemon.js';
export { daemonStatus, type DaemonStatusOptions } from './api/daemonStatus.js';
export { runMm, type RunMmOptions, type MmRunResult, type MmInputText } from './mm/runMm.js';
export { startSupervisor, type StartSupervisorOptions, type SupervisorHandle } from './api/supervisor.js';
export { runMirror, type RunMirrorOptions, type RunMirrorResult, type PackageResult } from './mirror/runMirror.js';
export { mirrorTree, isConnectError, type MirrorTreeOptions, type MirrorTreeResult, type RemoteAuthOptions } from './api/mirrorTree.js';
export { serveConfig, type ServeConfigOptions } from './api/serveConfig.js';
export type { OmirrServer } from './net/server.js';
export { writeKeyFile } from './net/keys.js';
export { closePools } from './workers/pool.js';
export { ConfigError, type OmirrConfig } from './core/config.js';
export { VERSION } from './version.js';

// The machines, the ids of the actors they run as, and the events a program may send them.
export { mmSupervisorMachine } from './machines/mmSupervisor.js';
export { mmJobMachine, jobActorId, type MmJobActorRef, type MmJobResult, type MmJobOutcome } from './machines/mmJob.js';
export { peerLinkMachine, peerLinkState, type PeerLinkSnapshot, type PeerLinkState, type PeerSessionInput, type PeerStatus } from './machines/peerLink.js';
export { transferSessionMachine } from './machines/transferSession.js';
export { daemonSupervisorMachine, peerActorId, treeActorId } from './machines/daemonSupervisor.js';
export { PAUSE, RESUME, RETRY_NOW, RESCAN, RUN_NOW, type PeerLinkCommand, type TreeCommand, type MmJobCommand } from './api/events.js';

// What a daemon reports (`omirr status --json`), what a sync reports as it goes, and the logger every option takes.
export type { DaemonStatus, ActorStatus, TreeStatus } from './daemon/status.js';
export type { Progress } from './engine/executePlan.js';
export type { Logger } from './log.js';
