// Fixtures for the network tests: temp dirs, node keys, real `omirr serve` processes, raw
// TLS clients that speak (or abuse) the frame protocol, and directory snapshots to prove
// that nothing was written where it should not be.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { FrameDecoder, MAX_FRAME, type Frame } from '../../src/net/frames.js';
import { nodeKeyFromPem, writeKeyFile, type NodeKey } from '../../src/net/keys.js';
import { serveTrees, type OmirrServer } from '../../src/net/server.js';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees, type SyncTreesResult } from '../../src/engine/syncTrees.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const omirrBin = join(repoRoot, 'bin', 'omirr.js');

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `omirr-net-${tag}-`));
}

export function rmTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * An in-process `serveTrees` exporting `dir` as tree `t`, writable, to one client key: the
 * server, the tree's URL, and the client's key (connect with `{ nodeKey: client, pin: server.fingerprint }`).
 */
export async function serveOneTree(dir: string): Promise<{ server: OmirrServer; url: string; client: NodeKey }> {
  const client = nodeKeyFromPem();
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: nodeKeyFromPem(undefined, 'srv'),
    trees: [{ name: 't', path: dir, writable: true }],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
  });
  return { server, url: `omirr://127.0.0.1:${server.address.port}/t`, client };
}

/** Push the local tree `src` to a serveOneTree's tree (delete on), over a connection of its own. */
export async function pushToServed(src: string, served: Awaited<ReturnType<typeof serveOneTree>>): Promise<SyncTreesResult> {
  const remote = await connectTree(served.url, { nodeKey: served.client, pin: served.server.fingerprint, writable: true });
  try {
    return await syncTrees(new LocalTree(src, { writable: false }), remote, { delete: true });
  } finally {
    await remote.close();
  }
}

/**
 * A `prepare` with each of `values` as its `field` (one connection each, on a writable open
 * of a serveOneTree's tree) is refused and ends its connection; the server serves on.
 */
export async function assertPrepareRefuses(served: Awaited<ReturnType<typeof serveOneTree>>, field: string, values: unknown[]): Promise<void> {
  const { server, client } = served;
  for (const v of values) {
    const { conn } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    const { result } = await conn.request('open', { tree: 't', sub: '', write: true, create: false });
    const h = (result as { handle: number }).handle;
    await assert.rejects(conn.request('prepare', { h, [field]: v }), Error, `${field} ${JSON.stringify(v)} refused`);
    await conn.closed;
  }
}

/** A key file in `dir` and its fingerprint. */
export function makeKey(dir: string, name: string): { file: string; fingerprint: string; key: NodeKey } {
  const file = join(dir, `${name}.key`);
  const fingerprint = writeKeyFile(file);
  return { file, fingerprint, key: nodeKeyFromPem(readFileSync(file, 'utf8'), name) };
}

/** Everything under `dir`: path -> kind and content hash (or link target). */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, p));
      if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(join(dir, p))}`;
      else if (st.isDirectory()) {
        out[p] = 'dir';
        walk(p);
      } else out[p] = `file:${createHash('sha256').update(readFileSync(join(dir, p))).digest('hex')}`;
    }
  };
  walk('');
  return out;
}

export interface ServeProcess {
  proc: ChildProcess;
  port: number;
  fingerprint: string;
  stderr: () => string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Start `omirr serve -c CONFIG --listen 127.0.0.1:0` and wait for its "listening" line. */
export async function startServe(config: string, extraEnv: Record<string, string> = {}): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [omirrBin, 'serve', '-c', config, '--listen', '127.0.0.1:0', '--log-level', 'debug'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv },
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const { port, fingerprint } = await new Promise<{ port: number; fingerprint: string }>((resolveP, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [\d.]+:(\d+) key (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveP({ port: Number(m[1]), fingerprint: m[2]! });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code}: ${err}`));
    });
  });
  return {
    proc,
    port,
    fingerprint,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** A TLS connection that speaks raw frames: for refusals and malformed input. */
export class RawClient {
  private readonly decoder = new FrameDecoder();
  readonly frames: Frame[] = [];
  bytes = 0;
  readonly closed: Promise<void>;

  private constructor(readonly socket: TLSSocket) {
    this.decoder.maxFrame = MAX_FRAME;
    socket.on('data', (d: Buffer) => {
      this.bytes += d.length;
      this.frames.push(...this.decoder.push(d));
    });
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static async connect(port: number, key: NodeKey): Promise<RawClient> {
    const socket = await new Promise<TLSSocket>((resolveP, reject) => {
      const s = connect({ host: '127.0.0.1', port, key: key.keyPem, cert: key.certPem, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
      s.once('secureConnect', () => resolveP(s));
      s.once('error', reject);
    });
    return new RawClient(socket);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Wait until the server closes the connection (or fail after `ms`). */
  async waitClosed(ms = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('server did not close the connection')), ms))),
    ]);
    clearTimeout(timer);
  }
}

export function jsonFrame(msg: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(msg));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = 0;
  return Buffer.concat([head, body]);
}

export const HELLO = { t: 'hello', proto: 'omirr', versions: [1], caps: ['tree', 'push', 'ping'] };

/** Write an omirr.conf into `dir`. */
export function writeConfig(dir: string, lines: string[]): string {
  const file = join(dir, 'omirr.conf');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Poll `cond` until true or the deadline passes. */
export async function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `omirr serve --socket SOCKET [args]`, once it says it listens (or its exit code and stderr). */
export async function startSocketServe(socket: string, args: string[] = []): Promise<{ proc: ChildProcess; socket: string; stderr: () => string; code?: number | null }> {
  const proc = spawn(process.execPath, [omirrBin, 'serve', '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OMIRR_LOG_LEVEL: 'info' } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null | undefined>((resolve) => {
    proc.stdout!.once('data', (d: Buffer) => {
      assert.equal(d.toString(), `listening on ${socket}\n`);
      resolve(undefined);
    });
    proc.once('exit', (c) => resolve(c));
  });
  return { proc, socket, stderr: () => err, ...(code !== undefined ? { code } : {}) };
}
