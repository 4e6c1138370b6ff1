// The ssh child of an ssh:// tree: its argv, and its start, which `omirr sync` makes as early
// as it can. ssh's own connection and key exchange, then the remote `omirr serve --stdio`
// start-up, are most of a small ssh:// sync's time (docs/performance.md): started while this
// process still loads the command's modules (~0.1-0.25 s), they overlap with that. Light on
// purpose (no imports beyond node's and a pure argv reader): src/cli/main.ts loads it before
// everything else.
import { spawn, type ChildProcess } from 'node:child_process';
import { readSyncArgv } from '../core/syncArgv.js';

/** What decides the ssh command line (src/net/ssh.ts SshOptions has the rest). */
export interface SshCommandOptions {
  writable?: boolean;
  /** The omirr command on the remote host (rsync's --rsync-path); default $OMIRR_REMOTE_COMMAND or `omirr`. */
  remoteCommand?: string;
  /** The ssh command and its options, split on spaces (rsync's -e); default `ssh`, or $OMIRR_RSH. */
  rsh?: string;
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
export function sshArgv(u: SshUrl, opts: SshCommandOptions): string[] {
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
}

export function spawnSsh(argv: string[], early = false): SshChild {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
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
  return { child, exited, stderr: () => tail, onLine: (f) => (onLine = f), early };
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
  for (const c of ended) c.child.kill('SIGTERM');
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
    const argv = sshArgv(u, {
      writable,
      ...(a.opts['--rsh'] !== undefined ? { rsh: a.opts['--rsh'] } : {}),
      ...(a.opts['--omirr-path'] !== undefined ? { remoteCommand: a.opts['--omirr-path'] } : {}),
    });
    if (!prestarted.has(key(argv))) prestarted.set(key(argv), spawnSsh(argv, true));
  });
}
