// The omirr command line: a thin layer over the programmatic API in src/index.ts.
// Each subcommand lives in its own module and registers itself here.
//
// Start-up is part of every small `omirr sync` and every mm job, so this module imports
// almost nothing: commander and each command's modules load after the command's first
// work has started (a local tree's scan, an ssh:// end's ssh: startEarly below).
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command as CommandType } from 'commander';
import type { LevelWithSilent } from 'pino';
import { EXIT, UsageError } from './exitCodes.js';
import { COMMON_HELP, settleProcessArgv, type SettledArgv } from './argv.js';
import { VERSION } from '../version.js';
import { readSyncArgv } from '../core/syncArgv.js';

type Register = (program: CommandType) => void;

/**
 * Every command, in help order, loaded on demand: a run of one command imports only that
 * command's module graph (start-up time counts in every small `omirr sync` and mm job).
 */
const COMMANDS: ReadonlyArray<[name: string, load: () => Promise<{ register: Register }>]> = [
  ['daemon', () => import('./daemon.js')],
  ['mm', () => import('./mm.js')],
  ['mirror', () => import('./mirror.js')],
  ['pkgs-to-mmin', () => import('./pkgsToMmin.js')],
  ['serve', () => import('./serve.js')],
  ['sync', () => import('./sync.js')],
  ['status', () => import('./status.js')],
  ['revert', () => import('./revert.js')],
  ['inspect', () => import('./inspect.js')],
  ['machines', () => import('./machines.js')],
  ['keygen', () => import('./keygen.js')],
];

/**
 * The program with the commands registered: only `only` when it names a command,
 * otherwise all of them (for --help, --version, `help CMD` and unknown names).
 */
export async function buildProgram(only?: string): Promise<CommandType> {
  const { Command } = await import('commander');
  const program = new Command('omirr')
    .description('Concurrent online mirroring (in.omirrd) and mirror master (mm) on xstate actors')
    .version(VERSION)
    .exitOverride()
    // A usage error is one line (commander's) plus where the help is, not the whole help.
    .showHelpAfterError(false)
    .configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, `omirr${COMMANDS.some(([n]) => n === only) ? ` ${only}` : ''}: `)),
    })
    // Program options only before the subcommand: mm's own flags (e.g. -V) must reach mm.
    .enablePositionalOptions()
    .addHelpText('afterAll', `\n${COMMON_HELP}`);
  const chosen = COMMANDS.filter(([name]) => name === only);
  for (const [, load] of chosen.length ? chosen : COMMANDS) {
    (await load()).register(program);
  }
  return program;
}

/** `see \`omirr CMD --help\``, for the command that was given when it is one of ours. */
export function helpHint(program: CommandType, command: string | undefined): string {
  const known = command !== undefined && program.commands.some((c) => c.name() === command);
  return `see \`omirr ${known ? `${command} ` : ''}--help\``;
}

/** The omirr:// client when `sync` connected early (its untaken connections are closed at the end). */
let omirrEarly: Promise<typeof import('../net/client.js')> | undefined;

/** net/sshSpawn.ts, once a sync with an ssh:// end has prestarted its children (startEarly): they are discarded at the end. */
let sshSpawn: typeof import('../net/sshSpawn.js') | undefined;

/**
 * `sync`'s omirr:// ends, connected before its modules load: each opens its tree once so
 * that the server starts its scan (net/client.ts prestartSyncOmirr). Called once the local
 * roots are listed: the TLS client's ~40 modules loading beside them delayed the first
 * readdir (docs/performance.md, "Tenth version").
 */
function prestartSyncOmirr(args: string[]): void {
  if (!args.some((a) => a.startsWith('omirr://'))) return;
  // not awaited: the TLS client's modules load beside the command's
  omirrEarly = import('../net/client.js').then((m) => {
    m.prestartSyncOmirr(args);
    return m;
  });
  omirrEarly.catch(() => undefined);
}

/** A `scheme://` spec (a remote end), as opposed to a local path (engine/openers.ts schemeOf). */
const isUrl = (spec: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(spec);

/**
 * The only flags with which `omirr sync` between two local directories first checks for a
 * no-op, or copies a few rewritten small files itself (engine/quickLocal.ts, quickCopy.ts):
 * none of them changes what such a run prints or does (neither has anything to delete, and
 * a small file is copied whole either way). Any other flag (output, dry run, excludes,
 * logging) goes the full way.
 */
const QUICK_SYNC_FLAGS = new Set(['--delete', '-W', '--whole-file']);

/** Whether a no-op or quick-copy run would log anything (the session's transitions show at debug). */
const logsNoop = (): boolean => ['debug', 'trace'].includes(process.env.OMIRR_LOG_LEVEL ?? '');

/** Options of `omirr serve` that take a value. */
const SERVE_VALUE_OPTIONS = new Set(['-c', '--config', '--listen', '--log-level']);

/**
 * `serve --stdio`'s arguments when they are only --stdio, --writable, --log-level LEVEL and
 * one path (what an ssh:// peer runs); undefined for anything else, which commander parses
 * (and reports).
 */
function leanServeStdio(args: string[]): { path: string; writable: boolean; logLevel?: LevelWithSilent } | undefined {
  let path: string | undefined;
  let writable = false;
  let logLevel: LevelWithSilent | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--stdio') continue;
    if (a === '--writable') writable = true;
    else if (a === '--log-level' && i + 1 < args.length && LOG_LEVELS.has(args[i + 1]!)) logLevel = args[++i] as LevelWithSilent;
    else if (!a.startsWith('-') && path === undefined) path = a;
    else return undefined;
  }
  return path === undefined ? undefined : { path, writable, ...(logLevel ? { logLevel } : {}) };
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/**
 * The command's first work, started before its modules load (they take 100-300 ms, and the
 * work does not need them): the io threads, and
 * - `sync`: the scan of each local end (engine/localScan.ts; the trees take these scans when
 *   they are opened) and the ssh child of each ssh:// end (net/sshSpawn.ts);
 * - `serve --stdio PATH` (the far side of an ssh:// sync): the scan of PATH, which the peer
 *   asks for right after the handshake, walked on this thread and encoded as the listing
 *   that goes on the wire (engine/localScan.ts prescanListing; a big tree's rest in a thread);
 * - `mirror`: the first package's FTP site connected and listed (mirror/earlySite.ts); no
 *   io thread (its local tree is walked on the main thread while the site is listed, a big
 *   tree's rest on an io thread started then: runMirror.ts, localScan.ts scanOneThread).
 * Guesses from a light reading of the arguments: a scan or an ssh child nobody takes is
 * dropped at the end, and a guess that is wrong costs time, never a wrong result.
 * A `sync` of two local directories with no flag but QUICK_SYNC_FLAGS first checks whether
 * it is a no-op (engine/quickLocal.ts), and `serve --stdio` with the usual arguments is run
 * from here (leanServeStdio); true: the command is done.
 */
async function startEarly(argv: string[]): Promise<boolean> {
  const cmd = argv[2] ?? '';
  const args = argv.slice(3);
  if (args.includes('--help') || args.includes('-h')) return false;
  let roots: string[] = [];
  if (cmd === 'sync') {
    // the ssh children's module (node:child_process) only for a sync with an ssh:// end
    if (args.some((a) => a.startsWith('ssh://'))) {
      sshSpawn = await import('../net/sshSpawn.js');
      sshSpawn.prestartSyncSsh(args);
    }
    const a = readSyncArgv(args);
    if (a) roots = [a.src, a.dst].filter((s) => !isUrl(s));
    if (a && roots.length === 2 && !logsNoop() && args.every((x) => !x.startsWith('-') || QUICK_SYNC_FLAGS.has(x))) {
      try {
        const { quickLocalSync } = await import('../engine/quickLocal.js');
        if (await quickLocalSync(a.src, a.dst)) return true;
      } catch {
        /* only a shortcut: the command does the work anyway */
      }
    }
  } else if (cmd === 'serve' && args.includes('--stdio')) {
    const path: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (SERVE_VALUE_OPTIONS.has(args[i]!)) i++;
      else if (!args[i]!.startsWith('-')) path.push(args[i]!);
    }
    // its tree scanned and encoded as the binary listing in a thread of its own, no pool
    if (path.length === 1) {
      try {
        const { prescanListing } = await import('../engine/localScan.js');
        await prescanListing(realpathSync(path[0]!));
      } catch {
        /* missing: the command says so */
      }
    }
    // the usual arguments (what an ssh:// peer runs): served without loading commander
    const lean = leanServeStdio(args);
    if (lean) {
      await (await import('./serveStdio.js')).runServeStdio(lean.path, lean);
      return true;
    }
    return false;
  } else if (cmd === 'mirror') {
    // the first package's FTP site, connected and listed while the modules load (not awaited)
    void import('../mirror/earlySite.js').then((m) => m.prestartMirrorSite(args), () => undefined);
    // and no io thread: its local tree is walked on this thread (localScan.ts scanOneThread;
    // a big tree's rest starts one), while the site is listed
    return false;
  } else return false;
  try {
    const localScan = await import('../engine/localScan.js');
    // one local end and a remote one: its root listed now, the rest walked on this thread
    // while the other end's listing is awaited (prescanWhenTaken), no pool
    if (cmd === 'sync' && roots.length === 1) await localScan.prescanWhenTaken(resolve(roots[0]!));
    else {
      // a local rerun the quick check found changed (it offered its scans): one io thread
      // to start with, not all (localScan.ts ioThreadsToWarm)
      const rerun = cmd === 'sync' && roots.length === 2 && localScan.ioThreadsToWarm(resolve(roots[1]!)) === 1;
      await localScan.startScans(roots, false, rerun ? 1 : undefined);
    }
    if (cmd === 'sync') prestartSyncOmirr(args);
  } catch {
    /* only a head start: the command does the work anyway */
  }
  return false;
}

export async function main(rawArgv: string[]): Promise<void> {
  // `omirr --version` alone: the answer needs no command registered (buildProgram would load them all)
  if (rawArgv.length === 3 && (rawArgv[2] === '--version' || rawArgv[2] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  let settled: SettledArgv;
  try {
    settled = settleProcessArgv(rawArgv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`omirr: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  const { argv, command } = settled;
  // awaited: its few modules load before the command's many, so the threads boot (and the
  // scans start) while those load, not after
  if (await startEarly(argv)) return;
  const program = await buildProgram(argv[2]);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const { CommanderError } = await import('commander');
    if (err instanceof CommanderError) {
      // help and version are "errors" with exit code 0 under exitOverride
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      if (err.exitCode !== 0) process.stderr.write(`${helpHint(program, command)}\n`);
      return;
    }
    if (err instanceof UsageError) {
      // a bad flag value gets the same pointer to the help as commander's errors; a bad
      // configuration (file:line) or a refusal from elsewhere does not need it
      const flagError = err.exitCode === EXIT.USAGE && !err.message.includes('\n') && !/:\d+: /.test(err.message);
      process.stderr.write(`omirr: ${err.message}\n${flagError ? `${helpHint(program, command)}\n` : ''}`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  } finally {
    sshSpawn?.discardPrestarted();
    if (command === 'mirror') await (await import('../mirror/earlySite.js')).discardEarlySite();
    if (omirrEarly) await (await omirrEarly.catch(() => undefined))?.discardEarlyConnections();
  }
}
