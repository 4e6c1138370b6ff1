// The TLS listening side shared by `omirr serve` (src/net/server.ts) and the daemon's peer
// listener (src/daemon/peerServer.ts): TLS 1.3 with the node's self-signed key, every
// accepted socket wrapped in a Connection and handed to the caller's `serve`, and a close
// that cannot hang on sockets still in (or just out of) their TLS handshake. Who the peer
// is, and what it may do, is decided by the caller's `serve` (the protocol handshake).
import type { Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { HostPort } from '../core/config.js';
import type { Logger } from '../log.js';
import { Connection } from './connection.js';
import type { NodeKey } from './keys.js';

export interface TlsListenerOptions {
  listen: HostPort;
  key: NodeKey;
  log: Logger;
  /** TLS handshake limit (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Serves one accepted connection to its end (protocol handshake included); never rejects. */
  serve: (conn: Connection, socket: TLSSocket) => Promise<void>;
  /** What a listener error after the start is logged as. */
  errorMessage: string;
}

export interface TlsListener {
  readonly address: HostPort;
  /** Live connections (authenticated or not yet). */
  readonly connections: ReadonlySet<Connection>;
  /**
   * Stops accepting, lets `endConnections` end the live connections (their way: a goodbye,
   * a grace period), then destroys whatever TCP socket is left and resolves once the
   * listener is closed.
   */
  close(endConnections: (conns: ReadonlySet<Connection>) => Promise<void>): Promise<void>;
}

/** Listens (resolves once bound; rejects when the address cannot be had). */
export async function listenTls(opts: TlsListenerOptions): Promise<TlsListener> {
  const { log } = opts;
  const conns = new Set<Connection>();
  const server = createServer({
    key: opts.key.keyPem,
    cert: opts.key.certPem,
    requestCert: true,
    // Certificates are self-signed on purpose: the key pin (or the secret proof) decides, in the handshake.
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
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
    void opts.serve(conn, socket).finally(() => conns.delete(conn));
  });
  server.on('tlsClientError', (err) => log.warn({ err: err.message }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: err.message }, opts.errorMessage));
  const a = server.address();
  const address = typeof a === 'object' && a ? { host: a.address, port: a.port } : opts.listen;
  return {
    address,
    connections: conns,
    async close(endConnections) {
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      await endConnections(conns);
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
