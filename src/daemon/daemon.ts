// `omirr daemon`: the runtime around the daemon supervisor machine. It reads omirr.conf,
// takes the state directory (refusing a second daemon on it), opens one durable outbox per
// peer, serves the configured trees to authenticated peers, starts the supervisor (peer
// links, tree actors) and the config's site:package jobs, answers the control socket,
// reloads on request and shuts everything down in order.
// The mirroring itself (tree replicas, change push, content fetch) is src/daemon/mirroring.ts.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { createActor, fromPromise, toPromise, type Actor, type AnyActorLogic, type AnyActorRef, type InspectionEvent } from 'xstate';
import type { HostPort, OmirrConfig } from '../core/config.js';
import { loadConfig } from '../configFile.js';
import { silentLogger, type Logger } from '../log.js';
import { logFailures, logTransitions } from '../actors/transitionLog.js';
import { Outbox, type OutboxRecord } from '../actors/outbox.js';
import { forwardOutboxStats, netPeerChannel, peerSessionLogic, type PeerChannel } from '../actors/peerSession.js';
import { peerLinkMachine, peerStatus, type BackoffPolicy, type PeerLinkSnapshot, type PeerSessionInput } from '../machines/peerLink.js';
import { daemonSupervisorMachine, peerActorId, treeActorId, type DaemonPlan } from '../machines/daemonSupervisor.js';
import { connectPeer } from '../net/client.js';
import type { Connection } from '../net/connection.js';
import { loadKey, loadSecret } from '../net/keys.js';
import type { MmSupervisorHandle } from '../mm/runMm.js';
import { VERSION } from '../version.js';
import type { MetricsRegistry } from '../core/metrics.js';
import { setPeerState, type OmirrMetrics } from '../inspect/omirrMetrics.js';
import { treeTotalsCollector } from '../inspect/daemonMetrics.js';
import { PEER_LINK_STATES } from '../machines/peerLink.js';
import { startControlServer, controlSocketPath } from './controlSocket.js';
import { daemonStateDir, nodeNameOf } from './paths.js';
import { CLOCK_SKEW_WARN_MS, stateString, summarizeActors, type DaemonStatus, type TreeStatus } from './status.js';
import { createMirroring, type MirrorOptions } from './mirroring.js';
import type { WireChange } from './peerProtocol.js';
import { changeJson, withInlineContent } from './inlineContent.js';
import { startPeerServer, type PeerServer } from './peerServer.js';
import { tierUpLater } from './tiering.js';

export interface StartDaemonOptions {
  configFile: string;
  log?: Logger;
  /** Instead of the one the configuration implies (see resolveStateDir). */
  stateDir?: string;
  backoff?: Partial<BackoffPolicy>;
  /** Extra xstate inspection (e.g. the statechart viewer); transitions are logged at debug. */
  inspect?: (ev: InspectionEvent) => void;
  /**
   * The tree actor (watch, index, apply remote changes); input: TreeSpec. It must answer
   * { type: 'DRAIN' } with { type: 'TREE.DRAINED', tree } once its in-flight writes are done.
   * Default: the mirroring tree replica (src/machines/treeReplica.ts).
   */
  treeLogic?: AnyActorLogic;
  /** Run the configuration's site:package jobs on their timers (default: when it has any). */
  runJobs?: boolean;
  /** Publish per-peer lag, outbox depth, link state and bytes/files sent here (refreshed on each scrape). */
  metrics?: { registry: MetricsRegistry; m: OmirrMetrics };
  /** Conflict copies, owners, tombstone lifetime, outbox fsync (docs/daemon-design.md). */
  mirror?: MirrorOptions;
}

export interface DaemonHandle {
  readonly node: string;
  readonly stateDir: string;
  readonly socketPath: string;
  readonly actor: Actor<typeof daemonSupervisorMachine>;
  /** Where peers reach this daemon, or null when it does not listen. */
  listenAddress(): HostPort | null;
  status(): DaemonStatus;
  /** Re-reads the configuration; a bad one is reported and the running one kept. */
  reload(): Promise<{ ok: boolean; error?: string }>;
  /** Stops links and trees, flushes outboxes, closes server and socket. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the daemon has stopped. */
  readonly done: Promise<void>;
}

/** The supervisor's view of a configuration. */
export function planOf(cfg: OmirrConfig, node: string): DaemonPlan {
  return {
    node,
    peers: cfg.peers.map((p) => ({
      name: p.name,
      address: p.address ? `${p.address.host}:${p.address.port}` : null,
      fingerprint: p.fingerprint ?? null,
    })),
    trees: cfg.trees.map((t) => ({ name: t.name, path: t.path, peers: t.peers, writable: t.writable })),
  };
}

/** What decides the listening server; a reload restarts the server only when it changed. */
function serverKey(cfg: OmirrConfig): string {
  return JSON.stringify({ listen: cfg.listen, key: cfg.key, secret: cfg.secret, node: cfg.node, preAuth: cfg.handshakeTimeoutMs, maxUnauth: cfg.maxUnauthenticated });
}

function jobsKey(cfg: OmirrConfig): string {
  return JSON.stringify(cfg.statements.map(({ loc: _l, ...s }) => s));
}

export async function startDaemon(opts: StartDaemonOptions): Promise<DaemonHandle> {
  const log = opts.log ?? silentLogger;
  // a burst makes most of the daemon's code hot at once: optimize only what stays hot
  tierUpLater();
  const configFile = path.resolve(opts.configFile);
  let cfg = loadConfig(configFile);
  const node = nodeNameOf(cfg);
  const stateDir = daemonStateDir(cfg, opts.stateDir);
  // mm's unparsable lines stay warnings (mm skipped them too), but never silently.
  for (const w of cfg.warnings) log.warn({ file: w.loc.file, line: w.loc.line }, `${w.loc.file}:${w.loc.line}: ${w.message}`);
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const startedAt = new Date();
  const socketPath = controlSocketPath(stateDir);
  const cleanups: Array<() => unknown> = [];
  let status: () => DaemonStatus = () => {
    throw new Error('starting');
  };
  let reloadFn: () => Promise<{ ok: boolean; error?: string }> = async () => ({ ok: false, error: 'starting' });
  let peerCommand: (args: Record<string, unknown>, type: 'PAUSE' | 'RESUME' | 'RETRY_NOW') => unknown = () => {
    throw new Error('starting');
  };
  let treeCommand: (args: Record<string, unknown>) => unknown = () => {
    throw new Error('starting');
  };
  let revertCommand: (args: Record<string, unknown>) => unknown = () => {
    throw new Error('starting');
  };
  // The control socket first: it is also the lock that keeps a second daemon off this state.
  const control = await startControlServer({
    path: socketPath,
    log,
    handlers: {
      status: () => status(),
      reload: () => reloadFn(),
      // {"cmd":"pause","args":{"peer":"beta"}}: stop pushing to a peer (its outbox keeps
      // growing) until resume; retry: reconnect now instead of waiting out the backoff.
      pause: (args) => peerCommand(args, 'PAUSE'),
      resume: (args) => peerCommand(args, 'RESUME'),
      retry: (args) => peerCommand(args, 'RETRY_NOW'),
      // {"cmd":"rescan","args":{"tree":"www","path":"sub/dir"}}: walk (part of) a tree now
      rescan: (args) => treeCommand(args),
      // {"cmd":"revert","args":{"tree":"www"}}: a receive-only tree's local changes undone
      revert: (args) => revertCommand(args),
    },
  });
  try {
    const keyFile = cfg.key;
    if (!keyFile && (cfg.listen || cfg.peers.some((p) => p.address))) {
      throw new Error(`${cfg.file}: no 'key = FILE' (make one with: omirr keygen --out FILE)`);
    }
    const nodeKey = keyFile ? loadKey(keyFile, node) : undefined;
    let secret = cfg.secret ? loadSecret(cfg.secret) : undefined;
    const outboxes = new Map<string, Outbox<WireChange>>();
    const unforward = new Map<string, ReturnType<typeof forwardOutboxStats>>();
    const openOutbox = async (peer: string): Promise<void> => {
      if (outboxes.has(peer)) return;
      const box = await Outbox.open<WireChange>({ dir: path.join(stateDir, 'outbox', peer), changeJson, ...(opts.mirror?.fsync ? { fsync: opts.mirror.fsync } : {}) });
      box.on('error', (err) => log.error({ err, peer }, 'outbox error'));
      box.on('recovered', (info) => log.warn({ peer, ...info }, 'outbox: dropped a record torn by a crash'));
      outboxes.set(peer, box);
    };
    for (const p of cfg.peers) if (p.address) await openOutbox(p.name);
    cleanups.push(async () => {
      for (const u of unforward.values()) u();
      await Promise.allSettled([...outboxes.values()].map((b) => b.close()));
    });

    // The trees: local changes into the outboxes, the peers' changes into the trees.
    const mirroring = createMirroring({
      node,
      stateDir,
      log,
      config: () => cfg,
      outbox: (peer) => outboxes.get(peer),
      ...(opts.mirror ?? {}),
    });
    cleanups.push(() => mirroring.close());

    let server: PeerServer | undefined;
    let serverCfg = '';
    const startServer = async (): Promise<void> => {
      if (!cfg.listen || !nodeKey) return;
      server = await startPeerServer({
        listen: cfg.listen,
        key: nodeKey,
        node,
        peers: () => cfg.peers.map((p) => ({ name: p.name, ...(p.fingerprint ? { fingerprint: p.fingerprint } : {}) })),
        secret: () => secret,
        handlerFor: (session, conn) => {
          // The peer is up: it just reached us. Our own link to it, if it is waiting out a
          // backoff (up to 30 s, +-50 %), reconnects now instead of leaving our changes
          // queued for it that long (RETRY_NOW means nothing in any other state: a paused
          // link stays paused). A peer without an address has no link: nothing to do.
          if (cfg.peers.some((p) => p.name === session.peer && p.address)) {
            try {
              peerCommand({ peer: session.peer }, 'RETRY_NOW');
            } catch {
              /* the link is not running (a reload in progress) */
            }
          }
          return mirroring.handlerFor(session.peer, conn, session.caps);
        },
        log,
        ...(cfg.handshakeTimeoutMs !== undefined ? { preAuthTimeoutMs: cfg.handshakeTimeoutMs } : {}),
        ...(cfg.maxUnauthenticated !== undefined ? { maxUnauthenticated: cfg.maxUnauthenticated } : {}),
      });
      serverCfg = serverKey(cfg);
    };
    await startServer();
    cleanups.push(async () => {
      await server?.close();
    });

    let mm: MmSupervisorHandle | undefined;
    let mmCfg = '';
    const startJobs = async (): Promise<void> => {
      const hasJobs = cfg.statements.some((s) => s.kind === 'job');
      if (!(opts.runJobs ?? hasJobs) || !hasJobs) return;
      // mm's machines, actors and job processes load only for a configuration with jobs:
      // most daemons have none, and every start paid ~25 ms of CPU to load them (issue 12)
      const { startMmSupervisor } = await import('../mm/runMm.js');
      mm = startMmSupervisor({
        statements: cfg.statements,
        longRunning: true,
        logger: log,
        home: path.dirname(configFile),
        ...(opts.inspect ? { inspect: opts.inspect } : {}),
        ...(opts.metrics ? { metrics: opts.metrics.m } : {}),
      });
      mmCfg = jobsKey(cfg);
    };
    await startJobs();
    // the jobs get SIGTERM; not waited for: the daemon's own stop stays within its 5 s
    cleanups.push(() => void mm?.stop());

    const open = async (input: PeerSessionInput): Promise<PeerChannel> => {
      const peer = cfg.peers.find((p) => p.name === input.peer);
      if (!peer?.address) throw new Error(`peer ${input.peer}: no address in ${cfg.file}`);
      let dialed: Connection | undefined;
      let dialedCaps: readonly string[] | undefined;
      const { conn, session } = await connectPeer(peer.address.host, peer.address.port, {
        config: cfg,
        nodeKey,
        node,
        ...(peer.fingerprint ? { pin: peer.fingerprint } : {}),
        log: log.child({ peer: peer.name }),
        // the peer fetches the contents of our changes back over this connection
        handler: mirroring.dialHandler(peer.name, () => dialed, () => dialedCaps),
      });
      dialed = conn;
      dialedCaps = session.caps;
      const rtt = await mirroring.measureRtt(conn).catch(() => undefined);
      // small files go with their records (no fetch round trip) to a peer that takes them: src/daemon/inlineContent.ts
      const items = session.caps.includes('inline') ? (recs: OutboxRecord<unknown>[]) => withInlineContent(recs as OutboxRecord<WireChange>[], mirroring.inline) : undefined;
      const ch = netPeerChannel(conn, session, rtt, items);
      // newest-wins compares hybrid timestamps: a node whose clock is ahead wins concurrent
      // conflicts for as long as it is ahead (docs/daemon-internals.md); so it is never silent
      if (ch.clockOffsetMs !== undefined && Math.abs(ch.clockOffsetMs) > CLOCK_SKEW_WARN_MS) {
        log.warn({ peer: peer.name, clockOffsetMs: ch.clockOffsetMs }, "the peer's clock differs from ours by more than 1 s: concurrent conflicts favour the node whose clock is ahead; fix the clocks (NTP)");
      }
      return ch;
    };
    const link = peerLinkMachine.provide({
      actors: {
        session: peerSessionLogic<WireChange>({
          outbox: (input) => outboxes.get(input.peer)!,
          open,
          batchRecords: 1024,
          batchBytes: 2 * 1024 * 1024,
          // the sent counts ride on the outbox figures' event, at most once a second (forwardOutboxStats)
          reportSent: (input, d) => unforward.get(input.peer)?.sent(d),
        }),
      },
    });
    const provided = daemonSupervisorMachine.provide({
      actors: {
        peerLink: link,
        tree: opts.treeLogic ?? mirroring.treeLogic,
        shutdown: fromPromise(async () => {
          for (const c of cleanups.splice(0).reverse()) {
            try {
              await c();
            } catch (err) {
              log.error({ err }, 'shutdown step failed');
            }
          }
        }),
      },
    });
    const logT = logTransitions(log);
    const logF = logFailures(log);
    const actor = createActor(provided, {
      id: 'daemon',
      input: { plan: planOf(cfg, node), configFile, ...(opts.backoff ? { backoff: opts.backoff } : {}), seed: (Math.random() * 2 ** 32) >>> 0 },
      inspect: (ev) => {
        logT(ev);
        logF(ev);
        opts.inspect?.(ev);
      },
    });
    const child = (id: string): AnyActorRef | undefined => actor.getSnapshot().children[id] as AnyActorRef | undefined;
    // Outbox figures go to whichever link actor currently serves the peer.
    const forwardAll = (): void => {
      for (const [peer, box] of outboxes) {
        unforward.get(peer)?.();
        unforward.set(peer, forwardOutboxStats(box, (e) => child(peerActorId(peer))?.send(e)));
      }
    };
    const done = toPromise(actor).then(() => undefined);
    actor.start();
    forwardAll();

    status = () => {
      // the links' outbox figures are forwarded at most every 50 ms: current ones for a status
      for (const u of unforward.values()) u.flush();
      const now = Date.now();
      const snap = actor.getSnapshot();
      const peers = cfg.peers
        .filter((p) => p.address)
        .map((p) => child(peerActorId(p.name)))
        .filter((r): r is AnyActorRef => r !== undefined)
        .map((r) => peerStatus(r.getSnapshot() as PeerLinkSnapshot, now));
      const trees: TreeStatus[] = cfg.trees.map((t) => {
        const ref = child(treeActorId(t.name));
        const s = ref?.getSnapshot() as { value?: unknown; status?: string; context?: Record<string, unknown> } | undefined;
        const figures = mirroring.treeFigures(t.name);
        return {
          name: t.name,
          path: t.path,
          peers: t.peers,
          files: figures.files,
          lastChangeAt: figures.lastChangeAt,
          stats: figures.stats,
          outOfSync: figures.outOfSync === null ? null : figures.outOfSync.length,
          outOfSyncItems: figures.outOfSync ?? [],
          mode: t.mode,
          ignoredRemote: figures.ignoredRemote === null ? null : figures.ignoredRemote.length,
          ignoredRemoteItems: figures.ignoredRemote ?? [],
          locallyChanged: figures.locallyChanged === null ? null : figures.locallyChanged.length,
          locallyChangedItems: figures.locallyChanged ?? [],
          lastError: typeof s?.context?.lastError === 'string' ? s.context.lastError : null,
          state: s === undefined ? 'stopped' : s.value !== undefined ? stateString(s.value) : (s.status ?? 'active'),
        };
      });
      return {
        node,
        pid: process.pid,
        version: VERSION,
        startedAt: startedAt.toISOString(),
        at: new Date(now).toISOString(),
        config: configFile,
        listen: server ? `${server.address.host}:${server.address.port}` : null,
        fingerprint: nodeKey?.fingerprint ?? null,
        state: stateString(snap.value),
        lastReloadError: snap.context.lastReloadError,
        actors: [...summarizeActors(actor), ...(mm ? summarizeActors(mm.actor) : [])],
        peers,
        trees,
      };
    };

    peerCommand = (args, type) => {
      const peer = typeof args.peer === 'string' ? args.peer : '';
      const ref = child(peerActorId(peer));
      if (!ref) {
        throw new Error(
          `no link to a peer named '${peer}' (peers with an address: ${cfg.peers.filter((p) => p.address).map((p) => p.name).join(', ') || 'none'})`,
        );
      }
      ref.send({ type });
      return { peer, state: peerStatus(ref.getSnapshot() as PeerLinkSnapshot, Date.now()).state };
    };

    treeCommand = (args) => {
      const tree = typeof args.tree === 'string' ? args.tree : '';
      const ref = child(treeActorId(tree));
      if (!ref) throw new Error(`no tree named '${tree}' (trees: ${cfg.trees.map((t) => t.name).join(', ') || 'none'})`);
      ref.send({ type: 'RESCAN', ...(typeof args.path === 'string' ? { path: args.path } : {}) });
      return { tree };
    };

    revertCommand = async (args) => {
      const tree = typeof args.tree === 'string' ? args.tree : '';
      if (!cfg.trees.some((t) => t.name === tree)) throw new Error(`no tree named '${tree}' (trees: ${cfg.trees.map((t) => t.name).join(', ') || 'none'})`);
      return { tree, ...(await mirroring.revert(tree)) };
    };

    if (opts.metrics) {
      const { registry, m } = opts.metrics;
      const treeTotals = treeTotalsCollector(m);
      // Link counters restart when a link is restarted (reload); the metrics are totals.
      const seen = new Map<string, { bytes: number; files: number }>();
      const unCollect = registry.onCollect(() => {
        const st = status();
        for (const t of st.trees) if (t.outOfSync !== null && t.outOfSync !== undefined) m.outOfSync.set({ tree: t.name }, t.outOfSync);
        for (const t of st.trees) if (typeof t.ignoredRemote === 'number') m.ignoredRemote.set({ tree: t.name }, t.ignoredRemote);
        for (const t of st.trees) if (typeof t.locallyChanged === 'number') m.locallyChanged.set({ tree: t.name }, t.locallyChanged);
        for (const p of st.peers) {
          if (p.clockOffsetMs !== null) m.peerClockOffset.set({ peer: p.name }, p.clockOffsetMs / 1000);
          m.outboxDepth.set({ peer: p.name }, p.outboxDepth);
          m.peerLagSeconds.set({ peer: p.name }, p.lagMs / 1000);
          setPeerState(m, p.name, p.state, PEER_LINK_STATES);
          const last = seen.get(p.name) ?? { bytes: 0, files: 0 };
          const dBytes = p.bytesSent >= last.bytes ? p.bytesSent - last.bytes : p.bytesSent;
          const dFiles = p.filesSent >= last.files ? p.filesSent - last.files : p.filesSent;
          m.bytesSent.inc({ peer: p.name }, Math.max(0, dBytes));
          m.filesSent.inc({ peer: p.name }, Math.max(0, dFiles));
          seen.set(p.name, { bytes: p.bytesSent, files: p.filesSent });
        }
        treeTotals(mirroring.replicas.values(), cfg.peers.map((p) => p.name));
      });
      cleanups.push(() => void unCollect());
    }

    let reloading: Promise<{ ok: boolean; error?: string }> | undefined;
    reloadFn = () => {
      reloading ??= (async () => {
        let next: OmirrConfig;
        try {
          next = loadConfig(configFile);
          if ((next.node ?? os.hostname()) !== node) throw new Error(`${configFile}: the node name cannot change on reload (restart the daemon)`);
          if (next.key !== cfg.key && !next.key) throw new Error(`${configFile}: no 'key = FILE'`);
          secret = next.secret ? loadSecret(next.secret) : undefined;
        } catch (err) {
          const error = (err as Error).message;
          log.error({ error }, 'reload failed; keeping the running configuration');
          actor.send({ type: 'RELOAD_FAILED', error });
          return { ok: false, error };
        }
        const before = cfg;
        for (const p of next.peers) if (p.address) await openOutbox(p.name);
        cfg = next;
        if (serverKey(next) !== serverCfg && (server || next.listen)) {
          await server?.close();
          server = undefined;
          await startServer();
        }
        if (jobsKey(next) !== mmCfg) {
          void mm?.stop(); // its jobs end on their own; their locks keep the new one off them
          mm = undefined;
          mmCfg = '';
          await startJobs();
        }
        actor.send({ type: 'RELOAD', plan: planOf(next, node) });
        // Outboxes of peers no longer configured are closed (their files stay on disk).
        for (const p of before.peers) {
          if (!next.peers.some((q) => q.name === p.name && q.address)) {
            unforward.get(p.name)?.();
            unforward.delete(p.name);
            await outboxes.get(p.name)?.close();
            outboxes.delete(p.name);
          }
        }
        forwardAll();
        log.info({ peers: next.peers.length, trees: next.trees.length }, 'configuration reloaded');
        return { ok: true };
      })().finally(() => (reloading = undefined));
      return reloading;
    };

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        if (actor.getSnapshot().status === 'active') actor.send({ type: 'STOP' });
        await done;
        await control.close();
      })();
      return stopping;
    };

    log.info(
      {
        node,
        stateDir,
        listen: server ? `${server.address.host}:${server.address.port}` : null,
        fingerprint: nodeKey?.fingerprint,
        peers: cfg.peers.map((p) => p.name),
        trees: cfg.trees.map((t) => t.name),
      },
      'daemon running',
    );
    return {
      node,
      stateDir,
      socketPath,
      actor,
      listenAddress: () => (server ? server.address : null),
      status: () => status(),
      reload: () => reloadFn(),
      stop,
      done,
    };
  } catch (err) {
    for (const c of cleanups.splice(0).reverse()) await c();
    await control.close();
    throw err;
  }
}
