// The daemon's local control socket: how `omirr status` (and later other local commands)
// asks the running daemon something. A unix socket in the daemon's state directory,
// speaking newline-delimited JSON, one request and one response per line:
//
//   → {"id":1,"cmd":"status","args":{}}
//   ← {"id":1,"ok":true,"result":{...}}        or  {"id":1,"ok":false,"error":"..."}
//
// Why a unix socket: access is controlled by the file system (the socket is 0600 and its
// directory 0700, so only the daemon's user gets in) and nothing listens on the network.
// A client may send several requests on one connection; answers carry the request's id.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export const CONTROL_SOCKET_NAME = 'omirr.sock';

/** Requests longer than this close the connection: nothing legitimate is that long. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export function controlSocketPath(stateDir: string): string {
  return path.join(stateDir, CONTROL_SOCKET_NAME);
}

export type ControlHandler = (args: Record<string, unknown>) => unknown | Promise<unknown>;

export interface ControlServerOptions {
  /** The socket path (see controlSocketPath()). Its directory is created 0700 when missing. */
  path: string;
  /** Command name → handler; the handler's result (JSON-serialisable) is the answer. */
  handlers: Record<string, ControlHandler>;
  log?: Logger;
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface ControlRequest {
  id?: unknown;
  cmd?: unknown;
  args?: unknown;
}

export type ControlResponse = { id: unknown; ok: true; result: unknown } | { id: unknown; ok: false; error: string };

/** Why a client request failed: no daemon, refused, timed out, or the daemon's own error. */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    message: string,
    readonly code: 'NO_DAEMON' | 'TIMEOUT' | 'PROTOCOL' | 'REMOTE',
  ) {
    super(message);
  }
}

/**
 * Listens on the control socket. A stale socket file left by a dead daemon is replaced;
 * a socket a live daemon still answers on is an error (two daemons on one state dir).
 */
export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.log ?? silentLogger;
  await prepareSocketPath(opts.path);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', (err) => log.debug({ err }, 'control client error'));
    serveConnection(sock, opts.handlers, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(opts.path, 0o600);
  server.on('error', (err) => log.error({ err }, 'control socket error'));
  log.debug({ path: opts.path }, 'control socket listening');
  let closed: Promise<void> | undefined;
  return {
    path: opts.path,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          fs.rmSync(opts.path, { force: true });
          resolve();
        });
      });
      return closed;
    },
  };
}

async function prepareSocketPath(p: string): Promise<void> {
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${p}: exists and is not a socket; not replacing it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`${p}: another omirr daemon is running on this state directory`);
  fs.rmSync(p, { force: true });
}

function serveConnection(sock: net.Socket, handlers: Record<string, ControlHandler>, log: Logger): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') void answer(line);
    }
    if (buf.length > MAX_REQUEST_BYTES) {
      log.warn('control request too long; closing the connection');
      sock.destroy();
    }
  });

  async function answer(line: string): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (req === null || typeof req !== 'object') throw new Error('not an object');
    } catch {
      reply({ id: null, ok: false, error: 'malformed request: expected one JSON object per line' });
      return;
    }
    const cmd = typeof req.cmd === 'string' ? req.cmd : '';
    const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
    if (!handler) {
      reply({ id: req.id ?? null, ok: false, error: `unknown command '${cmd}' (known: ${Object.keys(handlers).join(', ')})` });
      return;
    }
    const args = req.args !== null && typeof req.args === 'object' ? (req.args as Record<string, unknown>) : {};
    try {
      const result = await handler(args);
      reply({ id: req.id ?? null, ok: true, result: result ?? null });
    } catch (err) {
      log.warn({ err, cmd }, 'control command failed');
      reply({ id: req.id ?? null, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  function reply(res: ControlResponse): void {
    if (!sock.destroyed) sock.write(JSON.stringify(res) + '\n');
  }
}

/** Sends one command to a daemon's control socket and returns its result. */
export async function controlRequest<T = unknown>(
  socketPath: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise<T>((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(
      () => finish(new ControlError(`${socketPath}: no answer from the daemon within ${timeoutMs} ms`, 'TIMEOUT')),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(JSON.stringify({ id: 1, cmd, args }) + '\n'));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const noDaemon = err.code === 'ENOENT' || err.code === 'ECONNREFUSED';
      finish(
        noDaemon
          ? new ControlError(`${socketPath}: no daemon is running (${err.code})`, 'NO_DAEMON')
          : new ControlError(`${socketPath}: ${err.message}`, 'PROTOCOL'),
      );
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let res: ControlResponse;
      try {
        res = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      } catch {
        finish(new ControlError(`${socketPath}: malformed answer from the daemon`, 'PROTOCOL'));
        return;
      }
      if (res.ok) finish(undefined, res.result as T);
      else finish(new ControlError(res.error, 'REMOTE'));
    });
    sock.on('close', () => finish(new ControlError(`${socketPath}: the daemon closed the connection without answering`, 'PROTOCOL')));
  });
}
