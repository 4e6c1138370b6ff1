// The daemon's root actor: owns one peer link per configured peer (`peer:<name>`) and one
// tree actor per configured tree (`tree:<name>`), keeps them matching the configuration
// across reloads, and shuts them down in order.
//
//   running ─RELOAD(plan)→ running (children added, removed or restarted; links retry now)
//   running ─STOP→ stopping.draining: links stopped (nothing new goes out), each tree actor
//                  gets DRAIN and answers TREE.DRAINED once its in-flight writes are done
//                  (or drainTimeout passes)
//            → stopping.closing: trees stopped; `shutdown` flushes and closes → stopped
//
// Pure: the peer link's session, the tree actor and the shutdown are provided by the
// runtime (src/daemon/daemon.ts). A reload only touches what changed: an unchanged peer
// keeps its connection and counters.
import { assign, enqueueActions, fromCallback, fromPromise, setup, type AnyActorRef } from 'xstate';
import { peerLinkMachine, type BackoffPolicy, type PeerLinkInput } from './peerLink.js';

export interface PeerSpec {
  name: string;
  /** HOST:PORT to dial, or null for a peer that only connects to us (no outgoing link). */
  address: string | null;
  /** Pinned key fingerprint (a change restarts the link so the new pin is used). */
  fingerprint: string | null;
}

export interface TreeSpec {
  name: string;
  path: string;
  peers: string[];
  writable: boolean;
}

/** What the daemon runs, as read from omirr.conf. */
export interface DaemonPlan {
  node: string;
  peers: PeerSpec[];
  trees: TreeSpec[];
}

export interface DaemonSupervisorInput {
  plan: DaemonPlan;
  configFile?: string;
  backoff?: Partial<BackoffPolicy>;
  /** Seed for the links' jitter PRNGs (each link gets seed + its index). */
  seed?: number;
  /** How long a stop waits for tree actors to finish in-flight writes. Default 30 s. */
  drainTimeoutMs?: number;
}

export interface DaemonSupervisorContext {
  plan: DaemonPlan;
  configFile: string | null;
  backoff: Partial<BackoffPolicy> | undefined;
  seed: number;
  /** Peer/tree specs the running children were started with (to see what a reload changed). */
  running: { peers: Record<string, PeerSpec>; trees: Record<string, TreeSpec> };
  reloads: number;
  lastReloadError: string | null;
  drainTimeoutMs: number;
  /** Trees that reported TREE.DRAINED during a stop. */
  drained: string[];
}

export type DaemonSupervisorEvent =
  | { type: 'RELOAD'; plan: DaemonPlan }
  | { type: 'RELOAD_FAILED'; error: string }
  | { type: 'STOP' }
  /** From a tree actor, answering DRAIN: nothing of it is being written any more. */
  | { type: 'TREE.DRAINED'; tree: string };

export const peerActorId = (peer: string): string => `peer:${peer}`;
export const treeActorId = (tree: string): string => `tree:${tree}`;

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export const daemonSupervisorMachine = setup({
  types: {
    context: {} as DaemonSupervisorContext,
    events: {} as DaemonSupervisorEvent,
    input: {} as DaemonSupervisorInput,
  },
  actors: {
    peerLink: peerLinkMachine,
    /**
     * Watches one tree and applies remote changes (provided by the runtime). Must answer
     * { type: 'DRAIN' } with TREE.DRAINED { tree } once its in-flight writes are done; this
     * stand-in has none and answers at once.
     */
    tree: fromCallback<{ type: string }, TreeSpec>(({ receive, sendBack, input }) => {
      receive((e) => {
        if (e.type === 'DRAIN') sendBack({ type: 'TREE.DRAINED', tree: input.name });
      });
    }),
    /** Flushes outboxes and indexes, closes the server and the control socket. */
    shutdown: fromPromise<void, void>(async () => undefined),
  },
  actions: {
    /** Starts, stops or restarts children so that they match context.plan. */
    syncChildren: enqueueActions(({ context, enqueue, self }) => {
      // No snapshot yet while the initial state is entered.
      const children = (self.getSnapshot()?.children ?? {}) as Record<string, AnyActorRef | undefined>;
      const running = { peers: { ...context.running.peers }, trees: { ...context.running.trees } };
      const wantPeers = new Map(context.plan.peers.filter((p) => p.address !== null).map((p) => [p.name, p]));
      for (const [name] of Object.entries(running.peers)) {
        if (!wantPeers.has(name)) {
          enqueue.stopChild(peerActorId(name));
          delete running.peers[name];
        }
      }
      let i = 0;
      for (const [name, spec] of wantPeers) {
        i++;
        const id = peerActorId(name);
        const before = running.peers[name];
        if (before && children[id] && sameJson(before, spec)) continue;
        if (children[id]) enqueue.stopChild(id);
        const input: PeerLinkInput = { peer: name, address: spec.address!, backoff: context.backoff, seed: (context.seed + i) >>> 0 };
        enqueue.spawnChild('peerLink', { id, input });
        running.peers[name] = spec;
      }
      const wantTrees = new Map(context.plan.trees.map((t) => [t.name, t]));
      for (const [name] of Object.entries(running.trees)) {
        if (!wantTrees.has(name)) {
          enqueue.stopChild(treeActorId(name));
          delete running.trees[name];
        }
      }
      for (const [name, spec] of wantTrees) {
        const id = treeActorId(name);
        const before = running.trees[name];
        if (before && children[id] && sameJson(before, spec)) continue;
        if (children[id]) enqueue.stopChild(id);
        enqueue.spawnChild('tree', { id, input: spec });
        running.trees[name] = spec;
      }
      enqueue.assign({ running });
    }),
    /** A reload is also the operator's "try again now": links waiting to retry reconnect. */
    retryLinks: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.running.peers)) enqueue.sendTo(peerActorId(name), { type: 'RETRY_NOW' });
    }),
    stopLinks: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.running.peers)) enqueue.stopChild(peerActorId(name));
      enqueue.assign({ running: { peers: {}, trees: context.running.trees }, drained: [] });
    }),
    drainTrees: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.running.trees)) enqueue.sendTo(treeActorId(name), { type: 'DRAIN' });
    }),
    stopChildren: enqueueActions(({ context, enqueue }) => {
      for (const name of Object.keys(context.running.peers)) enqueue.stopChild(peerActorId(name));
      for (const name of Object.keys(context.running.trees)) enqueue.stopChild(treeActorId(name));
      enqueue.assign({ running: { peers: {}, trees: {} } });
    }),
  },
  guards: {
    allDrained: ({ context }) => Object.keys(context.running.trees).every((t) => context.drained.includes(t)),
  },
  delays: {
    drainTimeout: ({ context }) => context.drainTimeoutMs,
  },
}).createMachine({
  id: 'daemonSupervisor',
  context: ({ input }) => ({
    plan: input.plan,
    configFile: input.configFile ?? null,
    backoff: input.backoff,
    seed: (input.seed ?? 0x6d697272) >>> 0,
    running: { peers: {}, trees: {} },
    reloads: 0,
    lastReloadError: null,
    drainTimeoutMs: input.drainTimeoutMs ?? 30_000,
    drained: [],
  }),
  initial: 'running',
  states: {
    running: {
      entry: 'syncChildren',
      on: {
        RELOAD: {
          actions: [
            assign(({ context, event }) => ({ plan: event.plan, reloads: context.reloads + 1, lastReloadError: null })),
            'syncChildren',
            'retryLinks',
          ],
        },
        RELOAD_FAILED: { actions: assign({ lastReloadError: ({ event }) => event.error }) },
        STOP: 'stopping',
      },
    },
    stopping: {
      initial: 'draining',
      states: {
        draining: {
          entry: ['stopLinks', 'drainTrees'],
          always: { guard: 'allDrained', target: 'closing' },
          on: {
            'TREE.DRAINED': { actions: assign({ drained: ({ context, event }) => [...context.drained, event.tree] }) },
          },
          after: { drainTimeout: 'closing' },
        },
        closing: {
          entry: 'stopChildren',
          invoke: { src: 'shutdown', onDone: '#daemonSupervisor.stopped', onError: '#daemonSupervisor.stopped' },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
