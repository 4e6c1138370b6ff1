// The TLS listening side shared by `omirr serve` (src/net/server.ts) and the daemon's peer
// listener (src/daemon/peerServer.ts): TLS 1.3 with the node's self-signed key, every
// accepted socket wrapped in a Connection and handed to the caller's `serve`, and a close
// that cannot hang on sockets still in (or just out of) their TLS handshake. Who the peer
// is, and what it may do, is decided by the caller's `serve` (the protocol handshake).
// A connection is not trusted with time either before it is authenticated: from TCP accept
// to the protocol's welcome it has a deadline (preAuthTimeoutMs), and only so many such
// connections may exist at once (maxUnauthenticated); a raw TCP connection that never sends
// a ClientHello, or sends it a byte a second, is closed when its deadline passes.
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
  /**
   * From TCP accept to authenticated (TLS handshake plus the protocol handshake, ended by
   * Connection.open): a connection still unauthenticated then is destroyed. Default
   * PREAUTH_TIMEOUT_MS.
   */
  preAuthTimeoutMs?: number;
  /** At most this many unauthenticated connections at once; more are closed at accept. Default MAX_UNAUTHENTICATED. */
  maxUnauthenticated?: number;
  /** close(): how long live connections get to end politely before their sockets are destroyed. Default CLOSE_GRACE_MS. */
  closeGraceMs?: number;
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

export const PREAUTH_TIMEOUT_MS = 10_000;
export const MAX_UNAUTHENTICATED = 64;
/** Polite close's share of a shutdown; SIGTERM must end everything within 5 s. */
export const CLOSE_GRACE_MS = 2_000;

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
  const preAuthMs = opts.preAuthTimeoutMs ?? PREAUTH_TIMEOUT_MS;
  const maxUnauth = opts.maxUnauthenticated ?? MAX_UNAUTHENTICATED;
  /** Unauthenticated TCP sockets by remote address:port (what the TLS socket over one also reports), with their deadline. */
  const unauth = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  let capRefusals = 0;
  let capLoggedAt = 0;
  const authenticated = (key: string): void => {
    const u = unauth.get(key);
    if (!u) return;
    clearTimeout(u.timer);
    unauth.delete(key);
  };
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    const key = `${s.remoteAddress}:${s.remotePort}`;
    s.once('close', () => {
      sockets.delete(s);
      if (unauth.get(key)?.socket === s) authenticated(key);
    });
    if (unauth.size >= maxUnauth) {
      // a flood of connections that do not authenticate must not cost memory without bound
      capRefusals++;
      if (Date.now() - capLoggedAt > 10_000) {
        capLoggedAt = Date.now();
        log.warn({ limit: maxUnauth, refused: capRefusals }, 'too many unauthenticated connections: closing new ones');
      }
      s.destroy();
      return;
    }
    const timer = setTimeout(() => {
      unauth.delete(key);
      log.warn({ peer: key, ms: preAuthMs }, 'not authenticated in time, closing connection');
      s.destroy();
    }, preAuthMs);
    timer.unref();
    unauth.set(key, { socket: s, timer });
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn = new Connection(socket, { role: 'server', log, label: key });
    conn.once('open', () => authenticated(key));
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
      // A peer that never answers the goodbye (stalled, or never sends its FIN) gets the
      // grace period, not forever: then every socket is destroyed.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([endConnections(conns), new Promise<void>((r) => (grace = setTimeout(r, opts.closeGraceMs ?? CLOSE_GRACE_MS)))]);
      clearTimeout(grace);
      for (const u of unauth.values()) clearTimeout(u.timer);
      unauth.clear();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
