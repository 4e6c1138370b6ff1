// `omirr serve`: exports trees to authenticated peers over TLS, or one tree over stdin/stdout
// for ssh. Each connection is independent: a peer that misbehaves loses its own connection,
// the server and its other clients carry on.
import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { HostPort, OmirrConfig } from '../core/config.js';
import { dropPrescan, hasPrescan, prescanListing } from '../engine/localScan.js';
import { silentLogger, type Logger } from '../log.js';
import { Connection } from './connection.js';
import { PipeDuplex } from './pipeDuplex.js';
import { serverHandshake, tlsTransportAuth, type KnownPeer } from './handshake.js';
import { loadKey, loadSecret, type NodeKey } from './keys.js';
import { mark } from '../engine/timing.js';
import { createTreeService, type ExportedTree, type OpenLocalTree } from './treeService.js';
import { LISTING_SAME_ANY_CAP } from './listingWire.js';

export type { ExportedTree, OpenLocalTree } from './treeService.js';

/**
 * An early scan started at `open` is dropped when no scan took it within this time: a peer
 * asks right after opening (every sync scans both ends first), and one asked much later
 * must see the tree as it is then.
 */
const OPEN_SCAN_FRESH_MS = 10_000;

/**
 * The engine's local tree, with the pools and the writers: loaded when the first tree is
 * opened, not before the handshake is answered (`serve --stdio` starts loading it then, so
 * it loads during the peer's round trip).
 */
const localTreeModule = (): Promise<typeof import('../engine/localTree.js')> => import('../engine/localTree.js');

/**
 * serve's trees. The peer's next request is its scan of the tree, so it starts now and runs
 * during the peer's round trip and its own work in between, encoded as the binary listing
 * where it is scanned (engine/localScan.ts prescanListing). Measured in docs/performance.md
 * ("Tenth version", "Eleventh version").
 */
export const openLocalTree: OpenLocalTree = async (root, opts, serve) => {
  // serve --stdio started its tree's scan before its modules loaded (src/cli/main.ts); a
  // TLS peer's tree is listed by one io thread, encoded there as the binary listing: the
  // main thread only sends the blocks (a peer without listing-bin gets a fresh scan)
  // (with the like form's digest for a peer that sends its own: capability listing-same-any)
  if (!hasPrescan(root)) await prescanListing(root, true, undefined, serve?.likeDigest === true);
  setTimeout(() => dropPrescan(root), OPEN_SCAN_FRESH_MS).unref();
  const { LocalTree, SMALL_UNPACK_FILES } = await localTreeModule();
  // not the extract threads: a no-op or a small change never needs them, and booting two
  // cost ~0.1 s of CPU per sync (measured); the first big unpack starts them. A small one
  // (a rerun's few changed files) runs in an io thread, as the directory attributes that
  // follow it do: one thread to boot instead of two (`serve --stdio` has none up: its scan
  // ran in a plain thread), or none (a TLS peer's tree was listed by an io thread at open)
  return new LocalTree(root, { smallUnpackFiles: SMALL_UNPACK_FILES, ...opts });
};


export interface ServeOptions {
  listen: HostPort;
  key: NodeKey;
  node?: string;
  trees: ExportedTree[];
  peers: KnownPeer[];
  secret?: Buffer;
  log?: Logger;
  openLocal?: OpenLocalTree;
  handshakeTimeoutMs?: number;
  /** From TCP accept to authenticated; then the connection is closed (listener default 10 s). */
  preAuthTimeoutMs?: number;
  /** Unauthenticated connections at once (listener default 64). */
  maxUnauthenticated?: number;
}

export interface OmirrServer {
  readonly address: HostPort;
  readonly fingerprint: string;
  /** Live connections (authenticated or not yet). */
  connectionCount(): number;
  close(): Promise<void>;
}

/** Serve one authenticated-or-refused connection; never throws. */
export async function serveConnection(
  conn: Connection,
  auth: Parameters<typeof serverHandshake>[1],
  opts: {
    mode: 'tls' | 'ssh';
    node: string;
    peers: KnownPeer[];
    secret?: Buffer;
    trees: ExportedTree[];
    log: Logger;
    openLocal?: OpenLocalTree;
    timeoutMs?: number;
    /** The trees are opened by openLocalTree, whose io thread can take the like form's digest: offer 'listing-same-any'. */
    listingSameAny?: boolean;
  },
): Promise<void> {
  let session;
  try {
    session = await serverHandshake(conn, auth, { mode: opts.mode, node: opts.node, peers: opts.peers, secret: opts.secret, timeoutMs: opts.timeoutMs, listingSameAny: opts.listingSameAny === true });
  } catch (err) {
    opts.log.warn({ peer: conn.label, err: (err as Error).message }, 'connection refused');
    conn.destroy();
    return;
  }
  mark('handshake done');
  // an authenticated peer opens and scans a tree next: an io thread boots meanwhile (40-60
  // ms on a quiet machine, several times that under load). One: the scan, a rerun's small
  // unpack and the attributes after it run there, and a big unpack runs in the extract pool
  // (the second one booted here sat idle through a 20,000-file push, measured); more start
  // when tasks queue. Not for ssh: `serve --stdio` scans its tree in a thread of its own, and
  // a no-op needs no pool at all.
  if (opts.mode === 'tls') void import('../workers/pool.js').then((m) => m.warmPools(['io'], 1));
  const log = opts.log.child({ peer: session.peer });
  log.info({ from: conn.label, version: session.version }, 'peer authenticated');
  // a peer that will send its listing's digest with its scan: the io thread's walk takes ours
  const likeDigest = session.caps.includes(LISTING_SAME_ANY_CAP);
  const service = createTreeService({ trees: opts.trees, peer: session.peer, openLocal: opts.openLocal, log, ...(likeDigest ? { likeDigest } : {}) });
  conn.open(service.handler);
  await conn.closed;
  await service.closeAll();
  log.info({ reason: conn.closeReason?.message }, 'connection closed');
}

export async function serveTrees(opts: ServeOptions): Promise<OmirrServer> {
  const log = opts.log ?? silentLogger;
  const node = opts.node ?? hostname();
  // loaded here: `serve --stdio` (the far side of every ssh:// sync) needs no TLS listener
  const { listenTls } = await import('./listener.js');
  const listener = await listenTls({
    listen: opts.listen,
    key: opts.key,
    log,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    ...(opts.preAuthTimeoutMs !== undefined ? { preAuthTimeoutMs: opts.preAuthTimeoutMs } : {}),
    ...(opts.maxUnauthenticated !== undefined ? { maxUnauthenticated: opts.maxUnauthenticated } : {}),
    errorMessage: 'server error',
    serve: (conn, socket) =>
      serveConnection(conn, tlsTransportAuth(socket), {
        mode: 'tls',
        node,
        peers: opts.peers,
        secret: opts.secret,
        trees: opts.trees,
        log,
        openLocal: opts.openLocal ?? openLocalTree,
        timeoutMs: opts.handshakeTimeoutMs,
        listingSameAny: (opts.openLocal ?? openLocalTree) === openLocalTree,
      }),
  });
  const address = listener.address;
  log.info({ listen: `${address.host}:${address.port}`, fingerprint: opts.key.fingerprint, trees: opts.trees.map((t) => t.name) }, 'serving');
  return {
    address,
    fingerprint: opts.key.fingerprint,
    connectionCount: () => listener.connections.size,
    close: () =>
      listener.close(async (conns) => {
        await Promise.all([...conns].map((c) => c.closeAndWait('server shutting down')));
      }),
  };
}

/** ServeOptions from an omirr.conf (key required; the secret file read now). */
export function serveOptionsFromConfig(cfg: OmirrConfig, overrides: { listen?: HostPort; log?: Logger } = {}): ServeOptions {
  if (!cfg.key) throw new Error(`${cfg.file}: no 'key = FILE' (make one with omirr keygen --out FILE)`);
  const listen = overrides.listen ?? cfg.listen;
  if (!listen) throw new Error(`${cfg.file}: no 'listen = HOST:PORT' (or give --listen)`);
  return {
    listen,
    key: loadKey(cfg.key, cfg.node),
    node: cfg.node,
    trees: cfg.trees.map((t) => ({ name: t.name, path: t.path, writable: t.writable, peers: t.peers })),
    peers: cfg.peers.map((p) => ({ name: p.name, fingerprint: p.fingerprint })),
    secret: cfg.secret ? loadSecret(cfg.secret) : undefined,
    log: overrides.log,
    ...(cfg.handshakeTimeoutMs !== undefined ? { preAuthTimeoutMs: cfg.handshakeTimeoutMs, handshakeTimeoutMs: cfg.handshakeTimeoutMs } : {}),
    ...(cfg.maxUnauthenticated !== undefined ? { maxUnauthenticated: cfg.maxUnauthenticated } : {}),
  };
}

export interface ServeStdioOptions {
  input: Readable;
  output: Writable;
  /** The one directory exported; clients open it as tree ''. */
  root: string;
  writable: boolean;
  node?: string;
  log?: Logger;
  openLocal?: OpenLocalTree;
}

/**
 * `omirr serve --stdio PATH`: one connection on stdin/stdout; ssh authenticated it.
 * Resolves with why the connection ended (a ProtocolError: the peer broke the protocol).
 */
export async function serveStdio(opts: ServeStdioOptions): Promise<Error | undefined> {
  const log = opts.log ?? silentLogger;
  mark('serve ready');
  // the tree's modules load while the handshake is answered and the peer's open comes back
  localTreeModule().catch(() => undefined);
  const duplex = new PipeDuplex(opts.input, opts.output);
  const conn = new Connection(duplex, { role: 'server', log, label: 'stdio' });
  await serveConnection(conn, {}, {
    mode: 'ssh',
    node: opts.node ?? hostname(),
    peers: [],
    trees: [{ name: '', path: opts.root, writable: opts.writable }],
    log,
    openLocal: opts.openLocal ?? openLocalTree,
  });
  return conn.closeReason;
}
