// The online mirroring part of the daemon, plugged into the runtime (src/daemon/daemon.ts):
//  - treeLogic: the supervisor's `tree` child, the tree replica machine
//    (src/machines/treeReplica.ts) provided with a TreeReplica's I/O (index, watcher, scans);
//  - handlerFor / attach: every authenticated connection with a peer, inbound or outbound,
//    answers peer.changes (apply, relay, acknowledge) and peer.fetch (send content);
//    inbound ones also serve the tree requests of `omirr sync omirr://...`;
//  - send: a tree's changes go to the outboxes of the peers that share it.
// See docs/daemon-design.md.
import { randomInt } from 'node:crypto';
import { fromCallback, fromPromise, type AnyActorLogic } from 'xstate';
import type { OmirrConfig, TreeConfig, TreeMode } from '../core/config.js';
import type { MovePair, SeenPath } from '../core/movePairs.js';
import { mtimeOf } from '../core/entry.js';
import type { FsyncPolicy, Outbox } from '../actors/outbox.js';
import { TreeWatcher, type StatResult } from '../actors/watcher.js';
import { collectAfterBurst, COLLECT_AFTER_RECORDS } from './memory.js';
import { statPaths } from './statPaths.js';
import { unmirrorableEntries } from '../engine/unmirrorable.js';
import type { IgnoredRemoteItem, LocallyChangedItem, OutOfSyncItem } from './status.js';
import { treeReplicaMachine } from '../machines/treeReplica.js';
import type { Connection, RequestHandler } from '../net/connection.js';
import { createTreeService } from '../net/treeService.js';
import type { Logger } from '../log.js';
import { InlineContentCache } from './inlineContent.js';
import { fetchOverConnection, peerRequestHandler, type ContentFetcher, type PeerEndpoint, type WireChange } from './peerProtocol.js';
import { DEFAULT_TOMBSTONE_KEEP_MS, TreeReplica, type ReplicaStats } from './treeReplica.js';

export interface MirrorOptions {
  /** Keep the loser of a concurrent change as NAME.omirr-conflict-... (default true). */
  keepConflicts?: boolean;
  /** Mirror owner and group (takes effect only when running as root). */
  owner?: boolean;
  /** How long deletes are remembered (default 30 days). */
  tombstoneKeepMs?: number;
  /** Outbox fsync policy (default 'interval'). */
  fsync?: FsyncPolicy;
}

export interface MirroringOptions extends MirrorOptions {
  node: string;
  stateDir: string;
  log: Logger;
  /** The running configuration (changes on reload). */
  config: () => OmirrConfig;
  outbox: (peer: string) => Outbox<WireChange> | undefined;
}

export interface Mirroring {
  /** The supervisor's `tree` actor logic (input: TreeSpec; answers DRAIN). */
  treeLogic: AnyActorLogic;
  /** The request handler for an authenticated connection with `peer` (inbound). */
  /** `caps`: the session's capabilities (`delta`: content fetched back over it may come as deltas). */
  handlerFor(peer: string, conn: Connection, caps: readonly string[]): RequestHandler;
  /**
   * The handler of a connection we dial to `peer` (ConnectOptions.handler): the peer fetches
   * our contents back over it. `conn` gives the connection once connectPeer has returned it.
   */
  dialHandler(peer: string, conn: () => Connection | undefined, caps: () => readonly string[] | undefined): RequestHandler;
  measureRtt(conn: Connection): Promise<number>;
  /** What `omirr status` shows of a tree. */
  treeFigures(tree: string): { files: number | null; lastChangeAt: string | null; stats: ReplicaStats | null; outOfSync: OutOfSyncItem[] | null; ignoredRemote: IgnoredRemoteItem[] | null; locallyChanged: LocallyChangedItem[] | null };
  /** `omirr revert TREE`: a receive-only tree's local changes undone (TreeReplica.revert). */
  revert(tree: string): Promise<{ removed: string[]; restoring: string[]; kept: string[] }>;
  readonly replicas: ReadonlyMap<string, TreeReplica>;
  /** Small files' contents waiting for delivery to the peers (sent inline with their records). */
  readonly inline: InlineContentCache;
  close(): Promise<void>;
}

/**
 * The settings a tree replica uses now: what the caller set explicitly (the CLI's
 * --no-conflict-copies, --owner, --tombstone-days; startDaemon's `mirror`) wins over the
 * configuration's `conflicts`, `owner` and `tombstones`, which win over the defaults
 * (conflict copies on, owners off, 30 days).
 */
export function mirrorSettings(explicit: MirrorOptions, cfg: OmirrConfig): Required<Omit<MirrorOptions, 'fsync'>> {
  return {
    keepConflicts: explicit.keepConflicts ?? cfg.conflicts ?? true,
    owner: explicit.owner ?? cfg.owner ?? false,
    tombstoneKeepMs: explicit.tombstoneKeepMs ?? (cfg.tombstoneDays !== undefined ? Math.round(cfg.tombstoneDays * DAY_MS) : DEFAULT_TOMBSTONE_KEEP_MS),
  };
}

const DAY_MS = 24 * 3600 * 1000;

/** The peers a tree is mirrored with: those it names, or every configured peer when it names none. */
export function treePeers(cfg: OmirrConfig, t: TreeConfig): string[] {
  return t.peers.length > 0 ? [...t.peers] : cfg.peers.map((p) => p.name);
}

export function createMirroring(opts: MirroringOptions): Mirroring {
  const { log } = opts;
  const replicas = new Map<string, TreeReplica>();
  /** The latest connection with each peer, to fetch content over (a revert, a retry after a restart). */
  const links = new Map<string, { fetch: ContentFetcher; up: () => boolean }>();
  /** `preferred` when its connection is open, else another peer sharing the tree whose connection is. */
  const linkFetcher = (tree: string) => (preferred: string): { peer: string; fetch: ContentFetcher } | undefined => {
    const peers = sharedWith(tree);
    const up = (p: string): boolean => links.get(p)?.up() === true;
    const peer = up(preferred) && peers.includes(preferred) ? preferred : peers.find(up);
    return peer === undefined ? undefined : { peer, fetch: links.get(peer)!.fetch };
  };
  const inline = new InlineContentCache();
  const treeConfig = (name: string): TreeConfig | undefined => opts.config().trees.find((t) => t.name === name);
  const sharedWith = (name: string): string[] => {
    const t = treeConfig(name);
    return t ? treePeers(opts.config(), t) : [];
  };

  /**
   * A tree's settings, made again only when the configuration is another one (a reload):
   * asked several times per batch (every placing asks whether owners are mirrored).
   */
  const settingsOf = (name: string) => {
    let memo: { cfg: OmirrConfig; value: ReturnType<typeof mirrorSettings> & { mode: TreeMode } } | undefined;
    return () => {
      const cfg = opts.config();
      if (memo?.cfg !== cfg) memo = { cfg, value: { ...mirrorSettings(opts, cfg), mode: treeConfig(name)?.mode ?? 'send-receive' } };
      return memo.value;
    };
  };

  /** Appends changes to the outboxes of the tree's peers (but `except`); durable on return. */
  const send = (tree: string) => async (changes: WireChange[], except?: string): Promise<void> => {
    const jobs: Promise<number>[] = [];
    const boxes: Outbox<WireChange>[] = [];
    for (const peer of sharedWith(tree)) {
      if (peer === except) continue;
      const box = opts.outbox(peer);
      if (box) boxes.push(box); // a peer without an address only pushes to us
    }
    // a change to every outbox in turn: its appends read the same clock mostly, and so share
    // one encoded line body (src/actors/outbox.ts, encodeBody); each outbox still gets the
    // changes in order
    for (const c of changes) for (const box of boxes) jobs.push(box.append(c));
    await Promise.all(jobs);
  };

  /** The replica of a tree, made (or remade, when its path changed) on demand. */
  const replicaFor = (name: string, path: string): TreeReplica => {
    let r = replicas.get(name);
    if (!r || r.configuredRoot !== path || r.isClosed) {
      r = new TreeReplica({
        name,
        root: path,
        node: opts.node,
        stateDir: opts.stateDir,
        log,
        send: send(name),
        sendsBeyond: (except) => sharedWith(name).some((p) => p !== except && opts.outbox(p) !== undefined),
        settings: settingsOf(name),
        inline,
        fetcher: linkFetcher(name),
      });
      replicas.set(name, r);
    }
    return r;
  };
  const replicaOf = (name: string): TreeReplica => {
    const r = replicas.get(name);
    if (!r) throw new Error(`tree ${name} is not running`);
    return r;
  };

  const treeLogic = treeReplicaMachine.provide({
    actors: {
      load: fromPromise<unknown, { tree: string }>(async ({ input }) => {
        const t = treeConfig(input.tree);
        if (!t) throw new Error(`tree ${input.tree} is not configured`);
        const r = replicaFor(t.name, t.path);
        if (!r.loaded) await r.load();
      }),
      watcher: fromCallback<{ type: string }, { tree: string; path: string }>(({ input, sendBack }) => {
        const r = replicaOf(input.tree);
        const w = new TreeWatcher({ root: r.root, inodeOf: (p) => r.inodeOf(p), ownEcho: (p, st) => r.ownEcho(p, st), statBatch: watcherStat }, (ev) => sendBack(ev));
        void w.start();
        return () => w.close();
      }),
      scan: fromPromise<unknown, { tree: string; subtree: string }>(async ({ input }) => {
        const r = replicaOf(input.tree);
        const done = await r.scan(input.subtree);
        // a whole big tree was loaded and walked: give its garbage back (src/daemon/memory.ts)
        if (input.subtree === '' && r.index.size >= COLLECT_AFTER_RECORDS && collectAfterBurst()) {
          const m = process.memoryUsage();
          const mib = (b: number): number => Math.round(b / 2 ** 20);
          log.info({ tree: input.tree, records: r.index.size, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external) }, 'memory after the full scan and a collection');
        }
        return done;
      }),
      drain: fromPromise<unknown, { tree: string }>(async ({ input }) => {
        await replicas.get(input.tree)?.close();
      }),
    },
    actions: {
      localChanges: ({ context, self }, params: { changes: SeenPath[]; moves: MovePair[] }) => {
        replicaOf(context.tree)
          .localChanges(params.changes, params.moves)
          .catch((err: Error) => {
            log.error({ tree: context.tree, err: err.message }, 'local changes failed');
            // the root is not the indexed file system: the tree stops until a scan finds it again
            if (err.name === 'TreeRootChangedError') self.send({ type: 'watch.failed', error: err.message });
          });
      },
    },
  });

  const endpoint: PeerEndpoint = {
    replica(name, peer) {
      const r = replicas.get(name);
      if (!r || r.isClosed || !sharedWith(name).includes(peer)) {
        log.warn({ tree: name, peer }, 'a peer used a tree we do not mirror with it; ignored');
        return undefined;
      }
      return r;
    },
  };

  const handlerFor = (peer: string, conn: Connection, caps: readonly string[]): RequestHandler => {
    const service = createTreeService({
      trees: opts.config().trees.map((t) => ({ name: t.name, path: t.path, writable: t.writable, peers: sharedWith(t.name) })),
      peer,
      log: log.child({ peer }),
    });
    const f = { fetch: fetchOverConnection(conn, () => caps), up: () => !conn.isClosed };
    links.set(peer, f);
    void conn.closed.then(() => {
      service.closeAll();
      if (links.get(peer) === f) links.delete(peer);
    });
    return peerRequestHandler(peer, conn, endpoint, service.handler, () => caps);
  };

  return {
    treeLogic,
    handlerFor,
    dialHandler(peer, conn, caps) {
      // a closed link is no source of content (a retry then fetches from a peer that is up)
      links.set(peer, {
        fetch: fetchOverConnection(conn, caps),
        up: () => {
          const c = conn();
          return c !== undefined && !c.isClosed;
        },
      });
      return peerRequestHandler(peer, conn, endpoint, undefined, caps);
    },
    measureRtt,
    treeFigures(tree) {
      const r = replicas.get(tree);
      return {
        files: r?.loaded ? r.fileCount() : null,
        lastChangeAt: r?.lastChangeAt ? new Date(r.lastChangeAt).toISOString() : null,
        stats: r && !r.isClosed ? structuredClone(r.stats) : null,
        outOfSync:
          r && r.loaded && !r.isClosed
            ? [
                ...r.outOfSync().map((i) => ({ path: i.path, peer: i.peer, error: i.error, reason: i.reason, since: new Date(i.firstAtMs).toISOString(), attempts: i.attempts })),
                // what the last full scan could not mirror (a path the kernel cannot reach):
                // an out-of-sync item until it is shortened, never left out silently
                ...unmirrorableEntries(r.tree.label).map((u) => ({ path: u.path, peer: '-', error: u.reason, reason: 'unmirrorable', since: new Date(u.sinceMs).toISOString(), attempts: 0 })),
              ]
            : null,
        ignoredRemote:
          r && r.loaded && !r.isClosed
            ? [...r.modes.ignored.values()].map((i) => ({ path: i.path, peer: i.peer, change: i.change, since: new Date(i.firstAtMs).toISOString(), count: i.count }))
            : null,
        locallyChanged: r && r.loaded && !r.isClosed ? [...r.modes.local.values()].map((l) => ({ path: l.path, change: l.change, since: new Date(l.atMs).toISOString() })) : null,
      };
    },
    revert(tree) {
      const r = replicas.get(tree);
      if (!r || !r.loaded || r.isClosed) throw new Error(`tree ${tree} is not running`);
      return r.revert();
    },
    replicas,
    inline,
    async close() {
      await Promise.all([...replicas.values()].map((r) => r.close().catch((err) => log.error({ tree: r.name, err: (err as Error).message }, 'closing tree'))));
    },
  };
}

/**
 * The watcher's lstat of a batch's paths: inline (they just had an event, so they are in
 * the kernel's caches), past HOT_STAT_MAX in the io workers (a burst names thousands: one
 * libuv trip each was half of a receiving node's main-thread time).
 */
async function watcherStat(absPaths: string[]): Promise<StatResult[]> {
  // paths that just had an event: hot in the kernel's caches (statPaths, HOT_STAT_MAX)
  const states = await statPaths('', absPaths, { hot: true });
  // not mirrored ('other'): the inode only pairs renames, which do not matter for those;
  // a file's size and mtime tell the echo of our own placing (TreeReplica.ownEcho)
  return states.map((s) =>
    typeof s === 'string'
      ? s === 'gone'
        ? 'gone'
        : { kind: 'other', ino: 0 }
      : 'error' in s
        ? s
        : s.kind === 'file'
          ? { kind: 'file', ino: s.ino ?? 0, size: s.size, ...mtimeOf(s) }
          : { kind: s.kind, ino: s.ino ?? 0 },
  );
}

/** Round trip of one ping on an open connection (ms). */
function measureRtt(conn: Connection, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve, reject) => {
    const n = randomInt(2 ** 31);
    const t0 = performance.now();
    const onPong = (m: unknown): void => {
      if (m !== n) return;
      clearTimeout(timer);
      conn.off('pong', onPong);
      resolve(Math.round((performance.now() - t0) * 10) / 10);
    };
    const timer = setTimeout(() => {
      conn.off('pong', onPong);
      reject(new Error('no pong'));
    }, timeoutMs);
    conn.on('pong', onPong);
    conn.sendControl({ t: 'ping', n });
  });
}
