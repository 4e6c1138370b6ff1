// `omirr serve --socket [PATH]`: a long-running far side for ssh:// syncs, listening on a
// UNIX socket that only its user can reach. The client gets there through sshd's own
// streamlocal forwarding (src/net/sshSocket.ts), so no process starts on this host per sync:
// node's start and omirr's modules (~0.15 s a run, in series with ssh's login) are paid once.
// Each connection is what `serve --stdio PATH` serves on its stdin/stdout, preceded by one
// message that names PATH and whether it may be written (docs/protocol.md, "Socket mode").
// Who may connect: sshd connects as the logged-in user, and the socket and its directory are
// that user's alone (0600 in a 0700 directory); the server refuses a directory it does not
// own or that others may enter (docs/security.md).
import { existsSync, lstatSync, mkdirSync, chmodSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { Connection } from './connection.js';
import { ProtocolError } from './frames.js';
import { PREAUTH_TIMEOUT_MS, MAX_UNAUTHENTICATED, CLOSE_GRACE_MS } from './listener.js';
import { openLocalTree, serveConnection } from './server.js';
import type { OpenLocalTree } from './treeService.js';
import { SERVE_MESSAGE } from './sshSocket.js';


/** Where `serve --socket` listens when no path is given: $XDG_RUNTIME_DIR/omirr, else ~/.omirr. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return join(runtime && isAbsolute(runtime) ? join(runtime, 'omirr') : join(homedir(), '.omirr'), 'serve.sock');
}

export interface SocketServeOptions {
  socket: string;
  /** Connections may name directories at or below this one only (default '/'). */
  root?: string;
  /** Refuse connections that ask to write. */
  readOnly?: boolean;
  node?: string;
  log?: Logger;
  openLocal?: OpenLocalTree;
  /** From accept to the protocol's welcome (default the TLS listener's, 10 s). */
  preAuthTimeoutMs?: number;
}

export interface SocketServer {
  readonly socket: string;
  connectionCount(): number;
  close(): Promise<void>;
}

/** A refusal to start: the CLI says it and exits 2. */
export class SocketSetupError extends Error {
  override name = 'SocketSetupError';
}

/**
 * The socket's directory: created 0700 if absent; else it must be a real directory (not a
 * symlink), owned by us, and closed to group and others. A directory someone else can write
 * to would let them put their own socket where our clients connect.
 */
function checkSocketDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new SocketSetupError(`${dir}: not a directory (a symlink is refused too)`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new SocketSetupError(`${dir}: owned by uid ${st.uid}, not by us (uid ${uid}): refusing to listen there`);
  if ((st.mode & 0o077) !== 0)
    throw new SocketSetupError(`${dir}: mode ${(st.mode & 0o777).toString(8)} lets group or others in: refusing to listen there (chmod 700 ${dir})`);
}

/** Is a server answering on this socket? (a stale file from a dead one refuses the connect) */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A stale socket file is removed; a live server, or a file that is not a socket, is refused. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new SocketSetupError(`${path}: exists and is not a socket: refusing to replace it`);
  if (await socketAnswers(path)) throw new SocketSetupError(`${path}: another server is listening there (stop it first)`);
  rmSync(path);
}

/**
 * The directory a connection asks for, checked against `root`: absolute, no `.` or `..`
 * parts, and (through whatever symlinks lead to its deepest existing part) at or below the
 * root's real path. Returns the path to serve (the real path of what exists, the rest as
 * given: a writer may create it). What is inside the tree is checked as `serve --stdio`
 * checks it (src/net/treeService.ts, src/engine/paths.ts).
 */
export function allowedPath(asked: unknown, root: string): string {
  if (typeof asked !== 'string' || asked.length === 0 || asked.length > 4096 || asked.includes('\0')) throw new ProtocolError('serve: path must be a non-empty string');
  if (!isAbsolute(asked)) throw new ProtocolError('serve: path must be absolute');
  const parts = asked.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '.' || p === '..')) throw new ProtocolError('serve: no . or .. in the path');
  const realRoot = realpathSync(root);
  // the deepest part that exists, resolved; the rest is to be created below it
  let existing = normalize(asked);
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const up = dirname(existing);
    if (up === existing) break;
    rest.unshift(existing.slice(up.length).replace(/^\//, ''));
    existing = up;
  }
  const real = join(realpathSync(existing), ...rest);
  if (real !== realRoot && !real.startsWith(realRoot === sep ? sep : realRoot + sep)) throw new OutsideRootError(`${asked} is outside what this server exports`);
  return real;
}

class OutsideRootError extends Error {}

/** Listens on `opts.socket` (resolves once bound); each connection serves one directory. */
export async function serveSocket(opts: SocketServeOptions): Promise<SocketServer> {
  const log = opts.log ?? silentLogger;
  const root = opts.root ?? '/';
  if (!isAbsolute(opts.socket)) throw new SocketSetupError(`${opts.socket}: the socket path must be absolute`);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new SocketSetupError(`${root}: --root is not a directory`);
  checkSocketDir(dirname(opts.socket));
  await clearStaleSocket(opts.socket);
  const node = opts.node ?? hostname();
  const conns = new Set<Connection>();
  const sockets = new Set<Socket>();
  let unauthenticated = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (unauthenticated >= MAX_UNAUTHENTICATED) {
      socket.destroy();
      return;
    }
    unauthenticated++;
    const conn = new Connection(socket, { role: 'server', log, label: 'socket' });
    conns.add(conn);
    let counted = true;
    const authenticated = (): void => {
      if (counted) unauthenticated--;
      counted = false;
    };
    conn.once('open', authenticated);
    const deadline = setTimeout(() => {
      if (!counted) return;
      log.warn({ ms: opts.preAuthTimeoutMs ?? PREAUTH_TIMEOUT_MS }, 'not authenticated in time, closing connection');
      conn.destroy();
    }, opts.preAuthTimeoutMs ?? PREAUTH_TIMEOUT_MS);
    deadline.unref();
    void serveOne(conn, { root, readOnly: opts.readOnly === true, node, log, openLocal: opts.openLocal ?? openLocalTree, timeoutMs: opts.preAuthTimeoutMs }).finally(() => {
      clearTimeout(deadline);
      authenticated();
      conns.delete(conn);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // the directory is ours alone already; the socket too, whatever the umask
  chmodSync(opts.socket, 0o600);
  server.on('error', (err) => log.error({ err: err.message }, 'socket server error'));
  log.info({ socket: opts.socket, root }, 'serving on a socket');
  return {
    socket: opts.socket,
    connectionCount: () => conns.size,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...conns].map((c) => c.closeAndWait('server shutting down'))),
        new Promise<void>((r) => (grace = setTimeout(r, CLOSE_GRACE_MS))),
      ]);
      clearTimeout(grace);
      for (const s of sockets) s.destroy();
      await closed;
      // node removes the socket file on close; a crash leaves it, and the next start clears it
      rmSync(opts.socket, { force: true });
    },
  };
}

/** One connection: its `serve` message, then what `serve --stdio` does. Never throws. */
async function serveOne(
  conn: Connection,
  o: { root: string; readOnly: boolean; node: string; log: Logger; openLocal: OpenLocalTree; timeoutMs?: number },
): Promise<void> {
  let path: string;
  let writable: boolean;
  try {
    const m = await conn.nextMessage(o.timeoutMs ?? PREAUTH_TIMEOUT_MS);
    if (m.t !== SERVE_MESSAGE) throw new ProtocolError(`expected a ${SERVE_MESSAGE} message first`);
    if (m.writable !== undefined && typeof m.writable !== 'boolean') throw new ProtocolError('serve: writable must be a boolean');
    writable = m.writable === true;
    path = allowedPath(m.path, o.root);
    if (writable && o.readOnly) throw new OutsideRootError('this server is read-only');
  } catch (err) {
    const reason = (err as Error).message;
    o.log.warn({ err: reason }, 'socket connection refused');
    // told why (a no-op on a connection its garbage already closed), then hung up
    conn.sendControl({ t: 'refused', reason });
    conn.end('refused');
    return;
  }
  // its trees are listed by an io thread at `open` (openLocalTree), as `omirr serve`'s over
  // TLS: that walk takes the like form's digest too, so a re-run's scan can be answered "the same"
  await serveConnection(conn, {}, {
    mode: 'ssh',
    node: o.node,
    peers: [],
    trees: [{ name: '', path, writable }],
    log: o.log,
    openLocal: o.openLocal,
    timeoutMs: o.timeoutMs,
    listingSameAny: o.openLocal === openLocalTree,
  });
}
