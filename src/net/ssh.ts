// ssh://[user@]host[:port]/path: runs `omirr serve --stdio PATH` on the other host through
// ssh (as rsync runs `rsync --server`) and speaks the protocol over the child's stdin/stdout.
// ssh authenticates both ends, so the handshake carries no key or secret. With a socket
// (ssh://host/path?socket=SOCKET, or $OMIRR_REMOTE_SOCKET) nothing starts on the other host:
// ssh forwards to a running `omirr serve --socket` there (./sshSocket.ts).
import { constants } from 'node:os';
import type { Tree } from '../core/tree.js';
import { isQuietLogLine, silentLogger, type Logger } from '../log.js';
import { Connection } from './connection.js';
import { PipeDuplex } from './pipeDuplex.js';
import { clientHandshake, ConnectError, RefusedError } from './handshake.js';
import { openArgs, RemoteTree } from './remoteTree.js';
import { mark } from '../engine/timing.js';
import { walkWhenTakenNow } from '../engine/localScan.js';
import {
  parseSshUrl,
  remoteSocketOf,
  removeLocalSocket,
  spawnSsh,
  farLogLevel,
  sshArgv,
  sshForwardArgv,
  takePrestarted,
  type SshChild,
  type SshCommandOptions,
  type SshUrl,
} from './sshSpawn.js';
import { connectForward, SERVE_MESSAGE, SocketUnavailableError } from './sshSocket.js';

export { parseSshUrl, shellQuote, sshArgv, type SshUrl } from './sshSpawn.js';

export interface SshOptions extends SshCommandOptions {
  create?: boolean;
  log?: Logger;
  node?: string;
  timeoutMs?: number;
}

export async function sshTree(url: string, opts: SshOptions = {}): Promise<Tree> {
  const log = opts.log ?? silentLogger;
  const u = parseSshUrl(url);
  const socket = remoteSocketOf(u, opts);
  if (socket) {
    try {
      return await socketTree(url, u, socket, opts, log);
    } catch (err) {
      if (!(err instanceof SocketUnavailableError)) throw err;
      // The same sync without the socket: a server that is down (a reboot) costs this run
      // the far side's start, not the run; said on one line, so a wrong path is seen.
      const notice = `${err.message}; running '${opts.remoteCommand ?? (process.env.OMIRR_REMOTE_COMMAND || 'omirr')} serve --stdio' there instead`;
      if (opts.log) opts.log.warn(notice);
      else process.stderr.write(`omirr: ${notice}\n`);
    }
  }
  // the far side logs at warn unless this end shows its lines (sshSpawn.ts farLogLevel)
  const argv = sshArgv(u, { ...opts, ...(farLogLevel(log.isLevelEnabled('debug') ? 'debug' : undefined) ? { farLogLevel: 'warn' as const } : {}) });
  // started already, while this command's modules loaded (src/net/sshSpawn.ts), or now
  const ssh = takePrestarted(argv) ?? spawnSsh(argv);
  log.debug({ argv, early: ssh.early }, 'ssh');
  ssh.onLine((line) => log.debug({ remote: line }, 'ssh stderr'));
  const { child, exited } = ssh;
  const duplex = new PipeDuplex(child.stdout!, child.stdin!);
  const conn = new Connection(duplex, { role: 'client', log, label: url });
  const finish = async (): Promise<void> => {
    // lost (the far side's output ended): the pipes are half closed and would never emit
    // 'close', so closeAndWait would wait on nothing and node would exit 0 mid-command
    if (conn.isClosed) duplex.destroy();
    await conn.closeAndWait();
    // the far omirr exits once its input ends; a far side that hangs is ended after 5 s
    ssh.end(5000);
    await exited;
  };
  return speak(conn, ssh, url, opts, finish, () => sshEnd(ssh), true);
}

/**
 * Through the far side's `omirr serve --socket`: ssh forwards a local socket to it and starts
 * nothing there. The `serve` message names the directory (what `serve --stdio PATH
 * [--writable]` gets on its command line), then the session is what it is over stdio.
 * SocketUnavailableError: the forward was made but nothing answered behind it.
 */
async function socketTree(url: string, u: SshUrl, socket: string, opts: SshOptions, log: Logger): Promise<Tree> {
  const argv = sshForwardArgv(u, socket, opts);
  const ssh = takePrestarted(argv) ?? spawnSsh(argv);
  log.debug({ argv, early: ssh.early, socket }, 'ssh forward');
  ssh.onLine((line) => log.debug({ remote: line }, 'ssh stderr'));
  const stop = async (): Promise<void> => {
    ssh.end();
    await ssh.exited;
    removeLocalSocket(ssh);
  };
  let sock;
  try {
    sock = await connectForward(ssh, url, opts.timeoutMs ?? 30_000, () => stderrTail(ssh));
  } catch (err) {
    await stop();
    throw err;
  }
  const conn = new Connection(sock, { role: 'client', log, label: url });
  conn.sendControl({ t: SERVE_MESSAGE, path: u.path, writable: opts.writable === true });
  const finish = async (): Promise<void> => {
    await conn.closeAndWait();
    await stop();
  };
  try {
    return await speak(conn, ssh, url, opts, finish, () => socketEnd(ssh, socket), false);
  } catch (err) {
    await stop();
    // closed before the far side said anything: ssh's channel to the socket failed (no such
    // socket, no server behind it, sshd's AllowStreamLocalForwarding no)
    if (conn.bytesReceived === 0 && !(err instanceof RefusedError)) {
      throw new SocketUnavailableError(`${url}: no omirr server on ${socket} there (${stderrTail(ssh) || "ssh's forward closed at once"})`);
    }
    throw err;
  }
}

/**
 * The session over ssh's transport, whichever it is: hello, open, the remote tree.
 * `describeEnd`: how the transport ended, for a connection lost mid-sync.
 */
/** `stdio`: the far side is the `serve --stdio` this run started (it may answer a scan "the same": capability listing-same), not a running `serve --socket`. */
async function speak(conn: Connection, ssh: SshChild, url: string, opts: SshOptions, finish: () => Promise<void>, describeEnd: () => Promise<string>, stdio: boolean): Promise<Tree> {
  const { exited } = ssh;
  try {
    mark('ssh hello');
    const handshake = clientHandshake(conn, {}, { mode: 'ssh', node: opts.node, timeoutMs: opts.timeoutMs ?? 30_000 });
    // ssh authenticated the far side: the open goes right behind the hello (every server
    // keeps what comes before its welcome and serves it after), one round trip less
    const req = { tree: '', sub: '', write: opts.writable, create: opts.create };
    const opened = conn.call('open', openArgs(req), undefined, { beforeOpen: true }).done;
    opened.catch(() => undefined); // a failed handshake says why; this answer is then never read
    // The far side answers after ssh's login and its own start (0.3-0.5 s): a local end's
    // walk, left to when its scan is taken (`omirr sync`'s, engine/localScan.ts
    // prescanWhenTaken), runs in that wait instead of after it. The far side needs nothing
    // more from us to start its scan (the open is written), so the walk holds nothing up.
    void walkWhenTakenNow(stdio);
    // If ssh dies first (auth failure, no omirr there) say why, not just "closed".
    const died = exited.then((code) => {
      throw new ConnectError(`${url}: ssh exited (${code ?? 'failed to start'}): ${stderrTail(ssh) || 'no output'}`);
    });
    died.catch(() => {});
    const session = await Promise.race([handshake, died]);
    mark('ssh handshake done');
    conn.open();
    const tree = await RemoteTree.open(conn, req, url, finish, session.caps, opened);
    tree.describeTransportEnd = describeEnd;
    return tree;
  } catch (err) {
    conn.destroy();
    ssh.end();
    if (err instanceof ConnectError) throw err;
    const tail = stderrTail(ssh);
    throw new ConnectError(`${url}: ${(err as Error).message}${tail ? ` (ssh: ${tail})` : ''}`);
  }
}

/**
 * How ssh ended, for a connection lost mid-sync: its exit code or signal and its last stderr
 * lines (rsync prints ssh's stderr and exit status the same way): ssh's own lines and the
 * far omirr's warnings and errors, not its info and debug records (isQuietLogLine). ssh may
 * still be going down when the pipe broke: waited for a moment, then said to be still running.
 */
async function sshEnd(ssh: SshChild, waitMs = 2000): Promise<string> {
  const code = await exitedWithin(ssh, waitMs);
  // a forward's ssh runs under a shell (sshSpawn.ts), which says a signal as 128 + its number
  const signalCode = ssh.child.signalCode ?? (ssh.localSocket && typeof code === 'number' && code > 128 ? signalName(code - 128) : null);
  const status = code === 'running' ? 'ssh still running' : signalCode ? `ssh killed by ${signalCode}` : `ssh exited with code ${code ?? 'unknown'}`;
  const tail = stderrTail(ssh);
  return `${status}${tail ? `: ${tail}` : ', no stderr'}`;
}

/**
 * How a connection through `omirr serve --socket` ended. ssh -N outlives its forwarded
 * channel: when the far server dies (kill -9, a restart) ssh is still up and fine, and
 * "ssh still running" would point at the wrong process. ssh gone too (the network, sshd):
 * said as over stdio.
 */
async function socketEnd(ssh: SshChild, socket: string): Promise<string> {
  if ((await exitedWithin(ssh, 300)) !== 'running') return sshEnd(ssh, 0);
  return `the far side's omirr serve --socket ${socket} closed the connection (ssh's forward is still up)`;
}

function signalName(n: number): string | null {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? null;
}

/** ssh's exit code once it has exited, waiting at most `ms`; 'running' if it has not. */
async function exitedWithin(ssh: SshChild, ms: number): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([ssh.exited, new Promise<'running'>((r) => (timer = setTimeout(() => r('running'), ms)))]);
  clearTimeout(timer);
  return code;
}

/**
 * ssh's last stderr lines, for an error (a connection that could not be set up, or one lost
 * mid-run): ssh's own lines and the far omirr's warnings and errors, joined with ` | `; the far
 * omirr's info and debug records (isQuietLogLine) are left out, as they would fill the tail
 * and hide ssh's complaint. Empty when nothing is left.
 */
function stderrTail(ssh: SshChild): string {
  return ssh
    .stderr()
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '' && !isQuietLogLine(l))
    .slice(-5)
    .join(' | ');
}
