// The client side of omirr://host:port/tree[/sub/path]: a TLS connection, the server's key
// checked against a pin (or the shared-secret proof) BEFORE anything is sent, the handshake,
// then a RemoteTree. connectPeer is the same without a tree, for the daemon's peer links.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { DEFAULT_PORT, parseHostPort, type OmirrConfig } from '../core/config.js';
import { loadConfig } from '../configFile.js';
import type { Tree } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { Connection, type RequestHandler } from './connection.js';
import { clientHandshake, ConnectError, RefusedError, tlsTransportAuth, type Session } from './handshake.js';
import { loadKey, loadSecret, type NodeKey } from './keys.js';
import { RemoteTree } from './remoteTree.js';
import { wireSubPath } from './validate.js';
import { readSyncArgv } from '../core/syncArgv.js';
import { mark } from '../engine/timing.js';

export interface ConnectOptions {
  /** Open the tree for writing (the server must export it rw). */
  writable?: boolean;
  /** Create the sub-directory when it does not exist (writers only). */
  create?: boolean;
  log?: Logger;
  /**
   * Our key file; without one no client certificate is presented and only the shared secret
   * can authenticate us (a key made up for the connection authenticated nothing: no server
   * knows it; it cost ~5 ms of CPU before every connect).
   */
  key?: string;
  nodeKey?: NodeKey;
  /** The server's key fingerprint(s) we accept. */
  pin?: string | string[];
  /** The shared secret, or a file holding it. */
  secret?: string | Buffer;
  secretFile?: string;
  /** An omirr.conf (object or path): our key, the peer's pin (matched by address or name), the secret. */
  config?: OmirrConfig | string;
  /** Our node name, told to the server. */
  node?: string;
  timeoutMs?: number;
  /** Serves the peer's requests on this connection (e.g. the daemon's peer.fetch); none: they are refused. */
  handler?: RequestHandler;
}

export interface OmirrUrl {
  host: string;
  port: number;
  tree: string;
  sub: string;
}

/** omirr://host[:port]/tree[/sub/path]; the sub-path must be canonical and relative. */
export function parseOmirrUrl(url: string): OmirrUrl {
  const m = /^omirr:\/\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`bad omirr URL '${url}': expected omirr://HOST[:PORT]/TREE[/SUB/PATH]`);
  const hp = parseHostPort(m[1]!, DEFAULT_PORT);
  if (typeof hp === 'string') throw new Error(`bad omirr URL '${url}': ${hp}`);
  const sub = decodeURIComponent((m[3] ?? '').replace(/\/+$/, ''));
  try {
    wireSubPath(sub);
  } catch (err) {
    throw new Error(`bad omirr URL '${url}': ${(err as Error).message}`);
  }
  return { host: hp.host, port: hp.port, tree: decodeURIComponent(m[2]!), sub };
}

interface ResolvedAuth {
  /** Ours, from a key file or given; none: no client certificate (the secret authenticates us). */
  nodeKey?: NodeKey;
  pins: string[];
  secret?: Buffer;
  node?: string;
}

/**
 * Options from the environment, for callers that pass none (as rsync reads RSYNC_PASSWORD):
 * OMIRR_CONFIG, OMIRR_KEY, OMIRR_PIN, OMIRR_SECRET_FILE. Explicit options win.
 */
function withEnv(opts: ConnectOptions): ConnectOptions {
  const env = process.env;
  return {
    ...opts,
    config: opts.config ?? (env.OMIRR_CONFIG || undefined),
    key: opts.key ?? (env.OMIRR_KEY || undefined),
    pin: opts.pin ?? (env.OMIRR_PIN ? env.OMIRR_PIN.split(/[\s,]+/).filter(Boolean) : undefined),
    secretFile: opts.secretFile ?? (env.OMIRR_SECRET_FILE || undefined),
  };
}

function resolveAuth(host: string, port: number, given: ConnectOptions): ResolvedAuth {
  const opts = withEnv(given);
  const cfg = typeof opts.config === 'string' ? loadConfig(opts.config) : opts.config;
  const keyFile = opts.key ?? cfg?.key;
  const nodeKey = opts.nodeKey ?? (keyFile ? loadKey(keyFile, opts.node ?? cfg?.node) : undefined);
  let pins = opts.pin === undefined ? [] : Array.isArray(opts.pin) ? opts.pin : [opts.pin];
  if (pins.length === 0 && cfg) {
    const peer =
      cfg.peers.find((p) => p.address && p.address.host === host && p.address.port === port) ??
      cfg.peers.find((p) => p.name === host);
    if (peer?.fingerprint) pins = [peer.fingerprint];
  }
  let secret: Buffer | undefined;
  if (opts.secret !== undefined) secret = Buffer.isBuffer(opts.secret) ? opts.secret : Buffer.from(opts.secret, 'utf8');
  else if (opts.secretFile) secret = loadSecret(opts.secretFile);
  else if (cfg?.secret) secret = loadSecret(cfg.secret);
  return { ...(nodeKey ? { nodeKey } : {}), pins, secret, node: opts.node ?? cfg?.node };
}

/** A TLS connection to an omirr node, authenticated both ways, handshake done. */
export async function connectPeer(host: string, port: number, opts: ConnectOptions = {}): Promise<{ conn: Connection; session: Session }> {
  const log = opts.log ?? silentLogger;
  const auth = resolveAuth(host, port, opts);
  if (auth.pins.length === 0 && !auth.secret) {
    throw new ConnectError(`${host}:${port}: no way to authenticate the server: give its key fingerprint (--pin, or a peer line in the config) or a shared secret`);
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  mark('tls connect');
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({
      host,
      port,
      ...(auth.nodeKey ? { key: auth.nodeKey.keyPem, cert: auth.nodeKey.certPem } : {}),
      // Self-signed on purpose: the pin (or the secret proof) is checked right after.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      servername: undefined,
    });
    const timer = setTimeout(() => s.destroy(new Error('timed out')), timeoutMs);
    s.once('secureConnect', () => {
      mark('tls connected');
      clearTimeout(timer);
      s.off('error', onError);
      resolve(s);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(new ConnectError(`${host}:${port}: ${err.message}`));
    };
    s.once('error', onError);
  });
  socket.setNoDelay(true);
  const conn = new Connection(socket, { role: 'client', log, label: `${host}:${port}` });
  try {
    const session = await clientHandshake(conn, tlsTransportAuth(socket), {
      mode: 'tls',
      node: auth.node,
      pins: auth.pins,
      secret: auth.secret,
      timeoutMs,
    });
    mark('welcome');
    conn.open(opts.handler);
    log.debug({ peer: session.peer, version: session.version, caps: session.caps }, 'connected');
    return { conn, session };
  } catch (err) {
    conn.destroy();
    if (err instanceof ConnectError) throw err;
    throw new ConnectError(`${host}:${port}: ${(err as Error).message}`);
  }
}

/** The options an early connection was made with; a later connectTree takes it only when its own are the same. */
function earlyKey(url: string, opts: ConnectOptions): string | undefined {
  // given programmatically (no command line spells them): never guessed
  if (opts.nodeKey || opts.secret !== undefined || opts.handler || opts.timeoutMs !== undefined || opts.node !== undefined) return undefined;
  const pins = opts.pin === undefined ? [] : Array.isArray(opts.pin) ? opts.pin : [opts.pin];
  if (typeof opts.config === 'object') return undefined;
  return JSON.stringify([url, opts.config ?? null, opts.key ?? null, pins, opts.secretFile ?? null]);
}

/** Connections started before the command's modules loaded (prestartSyncOmirr), by earlyKey. */
const early = new Map<string, Promise<{ conn: Connection; session: Session }>>();

/**
 * Before `omirr sync`'s modules load (src/cli/main.ts): connect to the omirr:// ends its
 * arguments name and open each tree read-only once, so that the server starts its scan
 * (serve scans a tree when it is opened: src/net/server.ts) while this process loads the rest
 * of its modules, instead of after. A guess from a light reading of the arguments: the tree
 * takes the connection only when its URL, key, pins, secret file and config are exactly
 * these, and opens the tree again with the real mode; nothing is written by the early open
 * (read-only, never `create`). Untaken ones are closed by discardEarlyConnections().
 */
export function prestartSyncOmirr(args: string[]): void {
  const a = readSyncArgv(args);
  if (!a || a.opts['-c'] !== undefined) return;
  const pins: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--pin' && i + 1 < args.length) pins.push(args[++i]!);
    else if (args[i]!.startsWith('--pin=')) pins.push(args[i]!.slice(6));
  }
  const opts: ConnectOptions = {
    ...(a.opts['--config'] !== undefined ? { config: a.opts['--config'] } : {}),
    ...(a.opts['--key'] !== undefined ? { key: a.opts['--key'] } : {}),
    ...(pins.length ? { pin: pins } : {}),
    ...(a.opts['--secret-file'] !== undefined ? { secretFile: a.opts['--secret-file'] } : {}),
  };
  for (const url of [a.src, a.dst]) {
    if (!url.startsWith('omirr://')) continue;
    const k = earlyKey(url, opts);
    if (k === undefined || early.has(k)) continue;
    let u: OmirrUrl;
    try {
      u = parseOmirrUrl(url);
    } catch {
      continue; // the real parse reports it
    }
    const p = connectPeer(u.host, u.port, opts).then((c) => {
      // pipelined: the server opens (and starts scanning) and closes the handle at once
      c.conn
        .request('open', { tree: u.tree, sub: u.sub, write: false, create: false })
        .then(({ result }) => {
          const h = (result as { handle?: unknown } | null)?.handle;
          if (typeof h === 'number') return c.conn.request('close', { h });
        })
        .catch(() => undefined); // only a head start: the real open reports what is wrong
      return c;
    });
    p.catch(() => undefined); // the taker connects again and reports its own error
    early.set(k, p);
  }
}

/** Close the early connections no tree took (the command ended, or guessed wrong). */
export async function discardEarlyConnections(): Promise<void> {
  const left = [...early.values()];
  early.clear();
  await Promise.allSettled(left.map(async (p) => (await p).conn.closeAndWait()));
}

/** The Tree at an omirr:// URL. */
export async function connectTree(url: string, opts: ConnectOptions = {}): Promise<Tree> {
  const u = parseOmirrUrl(url);
  const k = earlyKey(url, opts);
  const started = k === undefined ? undefined : early.get(k);
  if (k !== undefined) early.delete(k);
  // An early connection that failed is tried again (the server may have come up since),
  // unless authentication failed: the same credentials would fail again, and the server
  // would log the refusal twice.
  const taken = started
    ? await started.catch((err: Error) => {
        if (err instanceof RefusedError) throw err;
        return undefined;
      })
    : undefined;
  const { conn, session } = taken ?? (await connectPeer(u.host, u.port, opts));
  try {
    return await RemoteTree.open(conn, { tree: u.tree, sub: u.sub, write: opts.writable, create: opts.create }, url, () => conn.closeAndWait(), session.caps);
  } catch (err) {
    conn.destroy();
    throw err;
  }
}
