// The daemon's listening side: TLS, then the protocol handshake (pinned key or shared-secret
// proof, src/net/handshake.ts); an unauthenticated peer gets a refusal and nothing else.
// An authenticated connection is served by the handler the daemon makes for that peer
// (peer.changes / peer.fetch, plus the tree requests of `omirr sync omirr://...`).
// Unlike `omirr serve` (src/net/server.ts) the handler is chosen per peer, after the handshake;
// the TLS listener itself is the one both share (src/net/listener.ts).
import type { HostPort } from '../core/config.js';
import { silentLogger, type Logger } from '../log.js';
import type { Connection, RequestHandler } from '../net/connection.js';
import { serverHandshake, tlsTransportAuth, type KnownPeer, type Session } from '../net/handshake.js';
import type { NodeKey } from '../net/keys.js';
import { listenTls } from '../net/listener.js';

export interface PeerServerOptions {
  listen: HostPort;
  key: NodeKey;
  node: string;
  /** Read at every handshake, so a reload's new peers are known at once. */
  peers: () => KnownPeer[];
  secret: () => Buffer | undefined;
  handlerFor: (session: Session, conn: Connection) => RequestHandler;
  log?: Logger;
  /** `handshake-timeout` (src/net/listener.ts: from accept to authenticated; default 10 s). */
  preAuthTimeoutMs?: number;
  /** `max-unauthenticated` (default 64). */
  maxUnauthenticated?: number;
}

export interface PeerServer {
  readonly address: HostPort;
  connections(): number;
  close(): Promise<void>;
}

export async function startPeerServer(opts: PeerServerOptions): Promise<PeerServer> {
  const log = opts.log ?? silentLogger;
  const listener = await listenTls({
    listen: opts.listen,
    key: opts.key,
    log,
    errorMessage: 'peer server error',
    ...(opts.preAuthTimeoutMs !== undefined ? { preAuthTimeoutMs: opts.preAuthTimeoutMs } : {}),
    ...(opts.maxUnauthenticated !== undefined ? { maxUnauthenticated: opts.maxUnauthenticated } : {}),
    async serve(conn, socket) {
      let session: Session;
      try {
        session = await serverHandshake(conn, tlsTransportAuth(socket), { mode: 'tls', node: opts.node, peers: opts.peers(), secret: opts.secret() });
      } catch (err) {
        log.warn({ from: conn.label, err: (err as Error).message }, 'peer refused');
        conn.destroy();
        return;
      }
      log.debug({ peer: session.peer, from: conn.label }, 'peer connected');
      conn.open(opts.handlerFor(session, conn));
      await conn.closed;
      log.debug({ peer: session.peer, reason: conn.closeReason?.message }, 'peer connection closed');
    },
  });
  return {
    address: listener.address,
    connections: () => listener.connections.size,
    close: () =>
      listener.close(async (conns) => {
        for (const c of conns) c.close('daemon shutting down');
        await Promise.race([Promise.all([...conns].map((c) => c.closed)), new Promise((r) => setTimeout(r, 2000).unref())]);
        for (const c of conns) c.destroy();
      }),
  };
}
