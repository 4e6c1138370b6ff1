// Active-mode FTP data connections (mirror's passive_ftp=0) for basic-ftp, which speaks
// passive mode only but takes its "prepare a data connection" step as a replaceable
// strategy (`client.prepareTransfer`). This strategy listens on an ephemeral port of the
// control connection's local address, announces it (PORT for IPv4, EPRT for IPv6), and
// accepts exactly one data connection, from the server's address, within the timeout;
// any other connection is closed unread (a local process racing for the port gets
// nothing and feeds nothing in).
//
// basic-ftp's transfer code wants `ftp.dataSocket` set when the strategy returns, but in
// active mode the server connects only after the transfer command (RETR, LIST, STOR)
// went out. So the strategy hands it a stand-in, ActiveDataSocket: a Duplex that
// buffers until the server's connection arrives and then forwards both ways. It offers
// what transfer.js and its watchdog read from a data socket: bytesRead/bytesWritten
// (progress), isPaused()/writableLength (backpressure, as a piped Duplex has them),
// remoteAddress/remotePort/remoteFamily (log lines), setTimeout (a no-op: the watchdog
// and the accept timer do the timing). It does not offer getCipher: over FTPS it does the
// TLS handshake itself (as the TLS client, with the control connection's session, as
// RFC 4217 wants and basic-ftp's passive path does) and holds writes until it is done.
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import type { FTPContext, FTPResponse } from 'basic-ftp';
import { silentLogger, type Logger } from '../log.js';

/** An IPv4-mapped IPv6 address (::ffff:1.2.3.4) as the IPv4 address it is. */
function plainAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}

/** The command announcing `host:port` to the server: PORT h1,h2,h3,h4,p1,p2 or EPRT |2|host|port|. */
export function portCommand(host: string, port: number): string {
  if (isIPv4(host)) return `PORT ${host.split('.').join(',')},${port >> 8},${port & 255}`;
  // a link-local address's zone (fe80::1%eth0) means nothing to the server
  return `EPRT |2|${host.replace(/%.*$/, '')}|${port}|`;
}

/** The stand-in data socket: one accepted connection, forwarded. */
export class ActiveDataSocket extends Duplex {
  private raw: Socket | undefined;
  private inner: Socket | undefined;
  private ready = false;
  private waiting: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: Server,
    private readonly ftp: FTPContext,
    private readonly serverHost: string,
    timeoutMs: number,
    private readonly log: Logger,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: 1 << 16 });
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', (err) => this.destroy(err));
    // until basic-ftp takes it as its data socket (and listens for errors), an error only
    // destroys it; the transfer then fails on the control connection
    this.on('error', () => {});
    if (timeoutMs > 0) {
      this.timer = setTimeout(
        () => this.destroy(new Error(`active FTP: the server opened no data connection within ${timeoutMs / 1000} s (a firewall or NAT in the way? passive_ftp=1 avoids it)`)),
        timeoutMs,
      );
    }
  }

  /** The port the server is told to connect to. */
  get listenPort(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  private onConnection(s: Socket): void {
    const from = plainAddress(s.remoteAddress ?? '');
    if (this.raw !== undefined || this.destroyed) {
      s.destroy();
      return;
    }
    if (from !== this.serverHost) {
      this.log.warn({ from, server: this.serverHost }, 'active FTP: a data connection from another address than the server: closed');
      s.destroy();
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.server.close();
    this.raw = s;
    s.setNoDelay(true);
    let inner: Socket = s;
    if (this.ftp.socket instanceof TLSSocket) {
      const ctl = this.ftp.socket;
      const t = tlsConnect({ ...this.ftp.tlsOptions, socket: s, session: this.ftp.tlsSessionStore ?? ctl.getSession() });
      t.on('session', (session: Buffer) => (this.ftp.tlsSessionStore = session));
      t.once('secureConnect', () => this.becomeReady());
      inner = t;
    }
    this.inner = inner;
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    if (inner === s) this.becomeReady();
  }

  private becomeReady(): void {
    this.ready = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _read(): void {
    this.inner?.resume();
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (!this.ready) {
      this.waiting = () => this._write(chunk, enc, cb);
      return;
    }
    // the callback waits for the socket's drain, so writableLength shows the server's backpressure
    if (this.inner!.write(chunk)) cb();
    else this.inner!.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.ready) {
      this.waiting = () => this._final(cb);
      return;
    }
    this.inner!.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.server.listening) this.server.close();
    this.inner?.destroy();
    this.raw?.destroy();
    cb(err);
  }

  get bytesRead(): number {
    return this.raw?.bytesRead ?? 0;
  }
  get bytesWritten(): number {
    return this.raw?.bytesWritten ?? 0;
  }
  get remoteAddress(): string | undefined {
    return this.raw?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.raw?.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.raw?.remoteFamily;
  }
  setTimeout(_ms: number): this {
    return this;
  }
}

/**
 * basic-ftp's TransferStrategy for active mode: `client.prepareTransfer = activeMode(log)`.
 * A server refusing PORT/EPRT rejects with its FTPError (a permanent answer: no retry).
 */
export function activeMode(log: Logger = silentLogger): (ftp: FTPContext) => Promise<FTPResponse> {
  return async (ftp) => {
    const local = ftp.socket.localAddress;
    const remote = ftp.socket.remoteAddress;
    if (local === undefined || remote === undefined) throw new Error('active FTP: the control connection is closed');
    const host = plainAddress(local);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    const data = new ActiveDataSocket(server, ftp, plainAddress(remote), ftp.timeout, log);
    try {
      const res = await ftp.request(portCommand(host, data.listenPort));
      // what transfer.js reads of a data socket, ActiveDataSocket has (see the top)
      ftp.dataSocket = data as unknown as Socket;
      return res;
    } catch (err) {
      data.destroy();
      if (err instanceof Error) err.message = `active FTP: ${err.message}`;
      throw err;
    }
  };
}
