// The daemon's listening side: TLS, then the protocol handshake (pinned key or shared-secret
// proof, src/net/handshake.ts); an unauthenticated peer gets a refusal and nothing else.
// An authenticated connection is served by the handler the daemon makes for that peer
// (peer.changes / peer.fetch, plus the tree requests of `omirr sync omirr://...`).
// Unlike `omirr serve` (src/net/server.ts) the handler is chosen per peer, after the handshake.
import type { Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { HostPort } from '../core/config.js';
import { silentLogger, type Logger } from '../log.js';
import { Connection, type RequestHandler } from '../net/connection.js';
import { serverHandshake, tlsTransportAuth, type KnownPeer, type Session } from '../net/handshake.js';
import type { NodeKey } from '../net/keys.js';

export interface PeerServerOptions {
  listen: HostPort;
  key: NodeKey;
  node: string;
  /** Read at every handshake, so a reload's new peers are known at once. */
  peers: () => KnownPeer[];
  secret: () => Buffer | undefined;
  handlerFor: (session: Session, conn: Connection) => RequestHandler;
  log?: Logger;
}

export interface PeerServer {
  readonly address: HostPort;
  connections(): number;
  close(): Promise<void>;
}

export async function startPeerServer(opts: PeerServerOptions): Promise<PeerServer> {
  const log = opts.log ?? silentLogger;
  const conns = new Set<Connection>();
  const server = createServer({
    key: opts.key.keyPem,
    cert: opts.key.certPem,
    requestCert: true,
    // self-signed on purpose: the pin (or the secret proof) decides, in the handshake
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
    handshakeTimeout: 10_000,
  });
  // Every TCP socket, also those still in their TLS handshake: server.close() waits for all
  // of them, and one that finishes its handshake after close() began would otherwise be
  // served (and waited for) forever: a reload that restarts the listener hung on it.
  const sockets = new Set<Socket>();
  let closing = false;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn = new Connection(socket, { role: 'server', log, label: `${socket.remoteAddress}:${socket.remotePort}` });
    conns.add(conn);
    void (async () => {
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
    })().finally(() => conns.delete(conn));
  });
  server.on('tlsClientError', (err) => log.warn({ err: err.message }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, 'peer server error'));
  const a = server.address();
  const address = typeof a === 'object' && a ? { host: a.address, port: a.port } : opts.listen;
  return {
    address,
    connections: () => conns.size,
    async close() {
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const c of conns) c.close('daemon shutting down');
      await Promise.race([Promise.all([...conns].map((c) => c.closed)), new Promise((r) => setTimeout(r, 2000).unref())]);
      for (const c of conns) c.destroy();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
