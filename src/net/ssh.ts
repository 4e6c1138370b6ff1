// ssh://[user@]host[:port]/path: runs `omirr serve --stdio PATH` on the other host through
// ssh (as rsync runs `rsync --server`) and speaks the protocol over the child's stdin/stdout.
// ssh authenticates both ends, so the handshake carries no key or secret.
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Tree } from '../core/tree.js';
import { silentLogger, type Logger } from '../log.js';
import { Connection } from './connection.js';
import { clientHandshake, ConnectError } from './handshake.js';
import { RemoteTree } from './remoteTree.js';

export interface SshOptions {
  writable?: boolean;
  create?: boolean;
  log?: Logger;
  /** The omirr command on the remote host (rsync's --rsync-path); default $OMIRR_REMOTE_COMMAND or `omirr`. */
  remoteCommand?: string;
  /** The ssh command and its options, split on spaces (rsync's -e); default `ssh`, or $OMIRR_RSH. */
  rsh?: string;
  node?: string;
  timeoutMs?: number;
}

export interface SshUrl {
  user?: string;
  host: string;
  port?: number;
  path: string;
}

/** ssh://[user@]host[:port]/path (the path is absolute on the remote host). */
export function parseSshUrl(url: string): SshUrl {
  const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)$/.exec(url);
  if (!m) throw new Error(`bad ssh URL '${url}': expected ssh://[USER@]HOST[:PORT]/PATH`);
  const path = decodeURIComponent(m[4]!);
  if (path.includes('\0')) throw new Error(`bad ssh URL '${url}': NUL in path`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`bad ssh URL '${url}': bad port`);
  return { user: m[1], host: m[2]!.replace(/^\[|\]$/g, ''), port, path };
}

/** POSIX shell single-quoting: the remote side runs our command through the user's shell. */
export function shellQuote(s: string): string {
  return /^[\w./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The argv of the ssh child for a URL. */
export function sshArgv(u: SshUrl, opts: SshOptions): string[] {
  const rsh = (opts.rsh ?? process.env.OMIRR_RSH ?? 'ssh').split(/\s+/).filter((w) => w !== '');
  const remote = [opts.remoteCommand ?? (process.env.OMIRR_REMOTE_COMMAND || 'omirr'), 'serve', '--stdio', ...(opts.writable ? ['--writable'] : []), shellQuote(u.path)];
  return [
    ...rsh,
    ...(u.port !== undefined ? ['-p', String(u.port)] : []),
    // No ssh escape character, no tty: the channel carries binary frames.
    '-e',
    'none',
    '-T',
    '--',
    u.user ? `${u.user}@${u.host}` : u.host,
    // The remote command string is taken verbatim (like rsync's --rsync-path) so it may hold
    // an interpreter and a script; the path is quoted.
    remote.join(' '),
  ];
}

export async function sshTree(url: string, opts: SshOptions = {}): Promise<Tree> {
  const log = opts.log ?? silentLogger;
  const u = parseSshUrl(url);
  const [cmd, ...args] = sshArgv(u, opts);
  log.debug({ argv: [cmd, ...args] }, 'starting ssh');
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
    for (const line of d.toString().split('\n')) if (line.trim()) log.debug({ remote: line }, 'ssh stderr');
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('error', (err) => {
      stderr += err.message;
      resolve(null);
    });
  });
  const duplex = Duplex.from({ readable: child.stdout, writable: child.stdin });
  const conn = new Connection(duplex, { role: 'client', log, label: url });
  const finish = async (): Promise<void> => {
    await conn.closeAndWait();
    const t = setTimeout(() => child.kill('SIGTERM'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    const handshake = clientHandshake(conn, {}, { mode: 'ssh', node: opts.node, timeoutMs: opts.timeoutMs ?? 30_000 });
    // If ssh dies first (auth failure, no omirr there) say why, not just "closed".
    const died = exited.then((code) => {
      throw new ConnectError(`${url}: ssh exited (${code ?? 'failed to start'}): ${stderr.trim() || 'no output'}`);
    });
    died.catch(() => {});
    const session = await Promise.race([handshake, died]);
    conn.open();
    return await RemoteTree.open(conn, { tree: '', sub: '', write: opts.writable, create: opts.create }, url, finish, session.caps);
  } catch (err) {
    conn.destroy();
    child.kill('SIGTERM');
    if (err instanceof ConnectError) throw err;
    throw new ConnectError(`${url}: ${(err as Error).message}${stderr.trim() ? ` (ssh: ${stderr.trim()})` : ''}`);
  }
}
