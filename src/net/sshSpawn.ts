// The ssh child of an ssh:// tree: its argv, and its start, which `omirr sync` makes as early
// as it can. ssh's own connection and key exchange, then the remote `omirr serve --stdio`
// start-up, are most of a small ssh:// sync's time (docs/performance.md): started while this
// process still loads the command's modules (~0.1-0.25 s), they overlap with that. Light on
// purpose (no imports beyond node's and a pure argv reader): src/cli/main.ts loads it before
// everything else.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readSyncArgv } from '../core/syncArgv.js';

/** What decides the ssh command line (src/net/ssh.ts SshOptions has the rest). */
export interface SshCommandOptions {
  writable?: boolean;
  /** The omirr command on the remote host (rsync's --rsync-path); default $OMIRR_REMOTE_COMMAND or `omirr`. */
  remoteCommand?: string;
  /** The ssh command and its options, split on spaces (rsync's -e); default `ssh`, or $OMIRR_RSH. */
  rsh?: string;
  /**
   * The far side's `omirr serve --socket` (an absolute path there), reached through sshd's
   * streamlocal forwarding instead of starting `omirr serve --stdio`; default the URL's
   * `?socket=`, else $OMIRR_REMOTE_SOCKET. Empty: not used.
   */
  remoteSocket?: string;
  /** The far `serve --stdio`'s --log-level (farLogLevel); absent: its default (info). */
  farLogLevel?: 'warn';
}

/**
 * The far `serve --stdio`'s log level for this end's: its records reach this end only as ssh
 * stderr lines, logged here at debug, so below debug it logs at warn. At its default (info)
 * its first record ("peer authenticated") loaded pino between the handshake and `open`:
 * 30-40 ms of every ssh:// run's critical path (docs/performance.md, "ssh:// start-up, second
 * pass"). `--log-level` is as old as `serve`: every far omirr takes it.
 */
export function farLogLevel(level: string | undefined): 'warn' | undefined {
  return level === 'debug' || level === 'trace' ? undefined : 'warn';
}

export interface SshUrl {
  user?: string;
  host: string;
  port?: number;
  path: string;
  /** `?socket=PATH` at the URL's end: the far side's `omirr serve --socket` ('' : none, even if $OMIRR_REMOTE_SOCKET says one). */
  socket?: string;
}

/** ssh://[user@]host[:port]/path[?socket=SOCKET] (both paths absolute on the remote host). */
export function parseSshUrl(url: string): SshUrl {
  const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*?)(?:\?socket=([^?]*))?$/.exec(url);
  if (!m) throw new Error(`bad ssh URL '${url}': expected ssh://[USER@]HOST[:PORT]/PATH`);
  const path = decodeURIComponent(m[4]!);
  if (path.includes('\0')) throw new Error(`bad ssh URL '${url}': NUL in path`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`bad ssh URL '${url}': bad port`);
  const socket = m[5] === undefined ? undefined : decodeURIComponent(m[5]);
  if (socket) checkRemoteSocket(socket, url);
  return { user: m[1], host: m[2]!.replace(/^\[|\]$/g, ''), port, path, ...(socket !== undefined ? { socket } : {}) };
}

/** ssh's -L takes LOCAL:REMOTE, and sshd connects to an absolute path only. */
function checkRemoteSocket(socket: string, where: string): void {
  if (!socket.startsWith('/') || socket.includes(':') || socket.includes('\0')) throw new Error(`bad remote socket '${socket}' (${where}): an absolute path without ':'`);
}

/** The far side's socket for this URL, if one is to be used (URL first, then the option, then the environment). */
export function remoteSocketOf(u: SshUrl, opts: SshCommandOptions): string | undefined {
  const s = u.socket ?? opts.remoteSocket ?? process.env.OMIRR_REMOTE_SOCKET ?? '';
  if (s === '') return undefined;
  checkRemoteSocket(s, u.socket !== undefined ? 'the URL' : opts.remoteSocket !== undefined ? 'remoteSocket' : '$OMIRR_REMOTE_SOCKET');
  return s;
}

/** POSIX shell single-quoting: the remote side runs our command through the user's shell. */
export function shellQuote(s: string): string {
  return /^[\w./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The ssh command, its options and the port: what every argv for this URL starts with. */
function sshCommand(u: SshUrl, opts: SshCommandOptions): string[] {
  const rsh = (opts.rsh ?? process.env.OMIRR_RSH ?? 'ssh').split(/\s+/).filter((w) => w !== '');
  // No ssh escape character, no tty: the channel carries binary frames.
  return [...rsh, ...(u.port !== undefined ? ['-p', String(u.port)] : []), '-e', 'none', '-T'];
}

const sshTarget = (u: SshUrl): string => (u.user ? `${u.user}@${u.host}` : u.host);

/** Stands for the local end of a forward in an argv (the real path is made when ssh starts). */
export const LOCAL_SOCKET = '\0local-socket\0';

/**
 * The argv of an ssh that forwards a local socket to the far side's `serve --socket` and runs
 * nothing there (-N). Not `-W SOCKET`, which says the same in one process: OpenSSH parses a
 * socket path for -W from 6.7 on but opens the channel only from 9.5 on (before, it waits
 * forever: measured with 9.2), while -L to a socket works from 6.7 on.
 */
export function sshForwardArgv(u: SshUrl, remoteSocket: string, opts: SshCommandOptions): string[] {
  return [
    ...sshCommand(u, opts),
    '-N',
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'StreamLocalBindUnlink=yes',
    '-L',
    `${LOCAL_SOCKET}:${remoteSocket}`,
    '--',
    sshTarget(u),
  ];
}

/** The argv of the ssh child for a URL. */
export function sshArgv(u: SshUrl, opts: SshCommandOptions): string[] {
  const remote = [opts.remoteCommand ?? (process.env.OMIRR_REMOTE_COMMAND || 'omirr'), 'serve', '--stdio', ...(opts.writable ? ['--writable'] : []), ...(opts.farLogLevel ? ['--log-level', opts.farLogLevel] : []), shellQuote(u.path)];
  return [
    ...sshCommand(u, opts),
    '--',
    sshTarget(u),
    // The remote command string is taken verbatim (like rsync's --rsync-path) so it may hold
    // an interpreter and a script; the path is quoted.
    remote.join(' '),
  ];
}

export interface SshChild {
  child: ChildProcess;
  /** Resolves with the exit code (null: killed, or could not start). */
  exited: Promise<number | null>;
  /** The last 4 KiB of its stderr (from a line's start). */
  stderr(): string;
  /** Each stderr line from now on. */
  onLine(f: (line: string) => void): void;
  /** Started before its tree was opened. */
  early: boolean;
  /** A forward's local socket (its directory is ours, 0700; removed by whoever ends ssh). */
  localSocket?: string;
  /**
   * Ends ssh: its input closed, and (over stdio) SIGTERM after `graceMs` (default at once),
   * again STDIO_TERM_AGAIN_MS later, then SIGKILL, until it has exited; a forward's through
   * its watchdog, which does the same and then removes the socket's directory.
   */
  end(graceMs?: number): void;
}

/**
 * A forward's ssh runs -N: it reads nothing, so unlike `ssh host omirr serve --stdio` it
 * would not notice its omirr die (kill -9, the OOM killer) and would hold the forward and
 * its login for ever. A shell between us and it waits on a pipe from us: the pipe's end
 * (our death, or end()) stops ssh and removes the forward's directory. ssh's exit code is
 * the shell's; the shell is one fork of /bin/sh, ~1 ms.
 * ssh is sent SIGTERM, again FORWARD_TERM_AGAIN_S later, and SIGKILL after as long again.
 * One SIGTERM is not enough: ssh (OpenSSH 9.2 here) checks its quit flag, then waits in
 * poll(2) for up to 300 s; a SIGTERM that lands between the two only sets the flag, and ssh
 * sees it when poll returns. Once in ~1,000 refused syncs at load, ssh lived on for those
 * minutes after its SIGTERM (seen: its reader had sent it, ssh idle in poll with a 299,915
 * ms timeout, and a second SIGTERM ended it at once), and the sync waited for it.
 */
const FORWARD_TERM_AGAIN_S = 0.5;
const FORWARD_WATCHDOG = [
  'd=$1; shift',
  '"$@" </dev/null & p=$!',
  "trap 'kill $p 2>/dev/null' TERM INT HUP",
  'exec 3<&0',
  // the sleeps' output is not ours: a sleep left over when ssh went at its first SIGTERM
  // (this reader is then killed, below) must not hold our pipes open
  `{ read _ <&3; for s in TERM TERM KILL; do kill -s $s $p 2>/dev/null || break; sleep ${FORWARD_TERM_AGAIN_S} </dev/null >/dev/null 2>&1; done; } & w=$!`,
  // a signal to this shell (its trap) cuts the wait short: waited again while ssh is there,
  // so that the reader, not killed yet, can still make sure of it
  'wait $p; c=$?',
  'while kill -0 $p 2>/dev/null; do wait $p; c=$?; done',
  'kill $w 2>/dev/null',
  'rm -rf "$d"',
  'exit $c',
].join('\n');

export function spawnSsh(argv: string[], early = false): SshChild {
  // a forward's local end: in a fresh directory only we can enter (ssh binds it 0600 too)
  let localSocket: string | undefined;
  if (argv.some((a) => a.includes(LOCAL_SOCKET))) {
    localSocket = join(mkdtempSync(join(tmpdir(), 'omirr-ssh-')), 'fwd.sock');
    argv = argv.map((a) => a.replace(LOCAL_SOCKET, localSocket!));
  }
  const child = localSocket
    ? spawn('/bin/sh', ['-c', FORWARD_WATCHDOG, 'sh', dirname(localSocket), ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  let onLine: ((line: string) => void) | undefined;
  child.stderr!.on('data', (d: Buffer) => {
    // from a line's start: a cut line would not be recognised as the far omirr's log record
    const all = tail + d.toString();
    const cut = all.length > 4096 ? all.indexOf('\n', all.length - 4096) : -1;
    tail = all.length <= 4096 ? all : cut < 0 ? all.slice(-4096) : all.slice(cut + 1);
    if (onLine) for (const line of d.toString().split('\n')) if (line.trim()) onLine(line);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => resolve(code));
    child.on('error', (err) => {
      tail += err.message;
      resolve(null);
    });
  });
  const end = (graceMs = 0): void => {
    child.stdin!.end();
    // ssh over stdio: its input's end also ends it (the far omirr reads EOF and exits), unless
    // the far side hangs; then the signals, as the watchdog's (above): one SIGTERM can be lost
    if (!localSocket) terminate(child, exited, graceMs);
  };
  return { child, exited, stderr: () => tail, onLine: (f) => (onLine = f), early, end, ...(localSocket ? { localSocket } : {}) };
}

/** Over stdio: a second SIGTERM this long after the first, then SIGKILL as long after (see FORWARD_WATCHDOG). */
export const STDIO_TERM_AGAIN_MS = 500;

/** SIGTERM after `graceMs`, SIGTERM, SIGKILL, STDIO_TERM_AGAIN_MS apart, stopped once `exited` resolves; the timers hold no process up. */
function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const steps: NodeJS.Signals[] = ['SIGTERM', 'SIGTERM', 'SIGKILL'];
  let timer: NodeJS.Timeout | undefined;
  let gone = false;
  const next = (): void => {
    const sig = steps.shift();
    if (gone || !sig) return;
    child.kill(sig);
    timer = setTimeout(next, STDIO_TERM_AGAIN_MS).unref();
  };
  void exited.then(() => {
    gone = true;
    clearTimeout(timer);
  });
  if (graceMs <= 0) next();
  else timer = setTimeout(next, graceMs).unref();
}

/** Children started early, by their exact argv: taken by the first sshTree that asks for the same. */
const prestarted = new Map<string, SshChild>();
const key = (argv: string[]): string => argv.join('\0');

export function takePrestarted(argv: string[]): SshChild | undefined {
  const c = prestarted.get(key(argv));
  prestarted.delete(key(argv));
  return c;
}

/** End the early children no tree took (a guess that did not match): called when the command ends. */
export function discardPrestarted(): SshChild[] {
  const ended = [...prestarted.values()];
  for (const c of ended) {
    c.end();
    removeLocalSocket(c);
  }
  prestarted.clear();
  return ended;
}

/**
 * Before `omirr sync`'s modules load: start the ssh children its ssh:// ends will need, from a
 * light reading of its arguments (SRC, DST, --rsh, --omirr-path, --dry-run). Only a guess: a
 * child is used only when sshTree later builds exactly the same argv, and one that is not is
 * ended by discardPrestarted(). Wrong guesses cost a wasted ssh start, never a wrong session.
 */
export function prestartSyncSsh(args: string[]): void {
  const a = readSyncArgv(args);
  if (!a) return;
  [a.src, a.dst].forEach((spec, i) => {
    if (!spec.startsWith('ssh://')) return;
    let u: SshUrl;
    try {
      u = parseSshUrl(spec);
    } catch {
      return; // the real parse reports it
    }
    const writable = i === 1 && !a.dryRun;
    const o: SshCommandOptions = {
      writable,
      ...(a.opts['--rsh'] !== undefined ? { rsh: a.opts['--rsh'] } : {}),
      ...(a.opts['--omirr-path'] !== undefined ? { remoteCommand: a.opts['--omirr-path'] } : {}),
      // (as sshTree's: from the level this command will log at)
      ...(farLogLevel(a.opts['--log-level'] ?? process.env.OMIRR_LOG_LEVEL) ? { farLogLevel: 'warn' as const } : {}),
    };
    let argv: string[];
    try {
      const socket = remoteSocketOf(u, o);
      argv = socket ? sshForwardArgv(u, socket, o) : sshArgv(u, o);
    } catch {
      return; // the real open reports it
    }
    if (!prestarted.has(key(argv))) prestarted.set(key(argv), spawnSsh(argv, true));
  });
}

/** A forward's local socket and its directory, once its ssh is ended. */
export function removeLocalSocket(c: SshChild): void {
  if (c.localSocket) rmSync(dirname(c.localSocket), { recursive: true, force: true });
}
