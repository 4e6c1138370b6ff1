// The events a program may send to omirr's actors, by name (docs/api.md, "Events you can
// send"). Everything else a machine accepts is internal traffic between an actor and its
// own I/O, and may change without notice.
import type { PeerLinkEvent } from '../machines/peerLink.js';

/** To a peer link (`peer:<name>`): stop and stay disconnected, reconnect, or skip the backoff wait. */
export type PeerLinkCommand = Extract<PeerLinkEvent, { type: 'PAUSE' | 'RESUME' | 'RETRY_NOW' }>;

export const PAUSE = { type: 'PAUSE' } as const satisfies PeerLinkCommand;
export const RESUME = { type: 'RESUME' } as const satisfies PeerLinkCommand;
export const RETRY_NOW = { type: 'RETRY_NOW' } as const satisfies PeerLinkCommand;

/**
 * To a tree (`tree:<name>`): rescan `path` (relative to the tree; whole tree when absent)
 * and push what changed, as after a watcher overflow. Typed here, not imported from the
 * tree machine, so the public event stays stable while that machine evolves.
 */
export interface TreeCommand {
  type: 'RESCAN';
  path?: string;
}

export const RESCAN = { type: 'RESCAN' } as const satisfies TreeCommand;

/**
 * To a site:package job (`job:<site:package>`, in a long-running supervisor): run now,
 * ignoring the retry timer, as `omirr mm -t` would for that job. Locks are still honoured.
 */
export type MmJobCommand = Extract<import('../machines/mmJob.js').MmJobEvent, { type: 'RUN_NOW' }>;

export const RUN_NOW = { type: 'RUN_NOW' } as const satisfies MmJobCommand;
