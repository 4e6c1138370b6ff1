// The lifecycle of one mirrored tree in the daemon (the work itself is in
// src/daemon/treeReplica.ts, behind the provided actors and actions):
//
//   loading ─(index loaded)→ active: [ watcher invoked for the whole of `active` ]
//      arming ─watch.ready→ scanning ─(scan done)→ live ⇄ rescanning
//   failed ─(retry delay)→ loading
//   DRAIN (anywhere) → draining (in-flight writes finish, index saved) → drained: TREE.DRAINED to the parent
//
// The watcher is started before the initial scan walks the tree ("watches armed before the
// initial walk"): a file created during the walk is either listed or reported. A rescan
// asked for while a scan runs (watcher overflow, a watch that failed) is remembered and
// run right after it, for the union of the subtrees asked for.
import { assign, fromCallback, fromPromise, sendParent, setup, type SnapshotFrom } from 'xstate';
import type { MovePair, SeenPath } from '../core/movePairs.js';

/** The supervisor's TreeSpec (src/machines/daemonSupervisor.ts). */
export interface TreeReplicaInput {
  name: string;
  path: string;
  peers: string[];
  writable?: boolean;
  /** Delay before a failed tree (root gone, index unreadable) is tried again. Default 30 s. */
  retryMs?: number;
}

export interface TreeReplicaContext {
  tree: string;
  path: string;
  peers: string[];
  retryMs: number;
  /** Subtree waiting for a rescan ('' = all), or null. */
  pendingRescan: string | null;
  /** Subtree being scanned now. */
  scanning: string | null;
  scans: number;
  batches: number;
  watched: number;
  lastError: string | null;
}

export type TreeReplicaEvent =
  | { type: 'watch.ready'; watched: number; ms: number }
  | { type: 'watch.changes'; changes: SeenPath[]; moves: MovePair[] }
  | { type: 'watch.rescan'; path: string; reason: string }
  | { type: 'watch.status'; status: { watched: number; state: string } }
  | { type: 'watch.failed'; error: string }
  | { type: 'RESCAN'; path?: string }
  /** From the supervisor when stopping: finish in-flight writes, save, answer TREE.DRAINED. */
  | { type: 'DRAIN' };

/** The common ancestor of two subtrees: what one rescan must cover for both. */
export function unionSubtree(a: string | null, b: string): string {
  if (a === null) return b;
  if (a === '' || b === '') return '';
  const pa = a.split('/');
  const pb = b.split('/');
  const out: string[] = [];
  for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i]!);
  return out.join('/');
}

export const treeReplicaMachine = setup({
  types: {
    context: {} as TreeReplicaContext,
    events: {} as TreeReplicaEvent,
    input: {} as TreeReplicaInput,
  },
  actors: {
    /** Loads the persisted index. */
    load: fromPromise<unknown, { tree: string }>(async () => undefined),
    /** The tree's watcher: sends watch.* events. */
    watcher: fromCallback<{ type: string }, { tree: string; path: string }>(() => undefined),
    /** Scans a subtree ('' = all) and sends what changed. */
    scan: fromPromise<unknown, { tree: string; subtree: string }>(async () => undefined),
    /** Waits for the writes in flight, saves the index; nothing new is accepted after it. */
    drain: fromPromise<unknown, { tree: string }>(async () => undefined),
  },
  actions: {
    /** Hands a watcher batch to the replica's queue. */
    localChanges: (_, _params: { changes: SeenPath[]; moves: MovePair[] }) => undefined,
  },
  guards: {
    rescanPending: ({ context }) => context.pendingRescan !== null,
    rootChanged: ({ event }) => ((event as { error?: { name?: string } }).error?.name ?? '') === 'TreeRootChangedError',
  },
  delays: {
    retry: ({ context }) => context.retryMs,
  },
}).createMachine({
  id: 'treeReplica',
  context: ({ input }) => ({
    tree: input.name,
    path: input.path,
    peers: input.peers,
    retryMs: input.retryMs ?? 30_000,
    pendingRescan: null,
    scanning: null,
    scans: 0,
    batches: 0,
    watched: 0,
    lastError: null,
  }),
  initial: 'loading',
  on: { DRAIN: '.draining' },
  states: {
    loading: {
      invoke: {
        src: 'load',
        input: ({ context }) => ({ tree: context.tree }),
        onDone: 'active',
        onError: { target: 'failed', actions: assign({ lastError: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
      },
    },
    active: {
      invoke: { id: 'watcher', src: 'watcher', input: ({ context }) => ({ tree: context.tree, path: context.path }) },
      on: {
        'watch.changes': {
          actions: [
            assign({ batches: ({ context }) => context.batches + 1 }),
            { type: 'localChanges', params: ({ event }) => ({ changes: event.changes, moves: event.moves }) },
          ],
        },
        'watch.rescan': { actions: assign({ pendingRescan: ({ context, event }) => unionSubtree(context.pendingRescan, event.path) }) },
        RESCAN: { actions: assign({ pendingRescan: ({ context, event }) => unionSubtree(context.pendingRescan, event.path ?? '') }) },
        'watch.status': { actions: assign({ watched: ({ event }) => event.status.watched }) },
        'watch.failed': { target: 'failed', actions: assign({ lastError: ({ event }) => event.error }) },
      },
      initial: 'arming',
      states: {
        arming: {
          on: { 'watch.ready': { target: 'scanning', actions: assign({ watched: ({ event }) => event.watched }) } },
        },
        scanning: {
          // the initial scan covers every rescan asked for so far
          entry: assign({ pendingRescan: null, scanning: '' }),
          invoke: {
            src: 'scan',
            input: ({ context }) => ({ tree: context.tree, subtree: '' }),
            onDone: { target: 'live', actions: assign({ scans: ({ context }) => context.scans + 1, scanning: null }) },
            onError: { target: '#treeReplica.failed', actions: assign({ lastError: ({ event }) => String((event.error as Error)?.message ?? event.error) }) },
          },
        },
        live: {
          always: { guard: 'rescanPending', target: 'rescanning' },
        },
        rescanning: {
          entry: assign(({ context }) => ({ scanning: context.pendingRescan ?? '', pendingRescan: null })),
          invoke: {
            src: 'scan',
            input: ({ context }) => ({ tree: context.tree, subtree: context.scanning ?? '' }),
            onDone: { target: 'live', actions: assign({ scans: ({ context }) => context.scans + 1, scanning: null }) },
            onError: [
              // the root is not the indexed file system (a missing mount): the tree stops
              // until a scan finds it again (src/replica/rootGuard.ts)
              { guard: 'rootChanged', target: '#treeReplica.failed', actions: assign({ lastError: ({ event }) => String((event.error as Error)?.message ?? event.error), scanning: null }) },
              { target: 'live', actions: assign({ lastError: ({ event }) => String((event.error as Error)?.message ?? event.error), scanning: null }) },
            ],
          },
        },
      },
    },
    failed: {
      after: { retry: 'loading' },
      // `omirr rescan`: the operator fixed the cause (mounted the file system): try now
      on: { RESCAN: 'loading' },
    },
    draining: {
      invoke: {
        src: 'drain',
        input: ({ context }) => ({ tree: context.tree }),
        onDone: 'drained',
        onError: 'drained',
      },
    },
    drained: {
      entry: sendParent(({ context }) => ({ type: 'TREE.DRAINED', tree: context.tree })),
      on: { DRAIN: {} },
    },
  },
});

export type TreeReplicaSnapshot = SnapshotFrom<typeof treeReplicaMachine>;

/** The state name `omirr status` shows for a tree. */
export function treeReplicaState(s: TreeReplicaSnapshot): string {
  const v = s.value as string | Record<string, string>;
  return typeof v === 'string' ? v : (v.active ?? 'active');
}
