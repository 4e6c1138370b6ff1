// The omirr command line: a thin layer over the programmatic API in src/index.ts.
// Each subcommand lives in its own module and registers itself here.
import type { Command as CommandType } from 'commander';
import { Command, CommanderError } from 'commander';
import { EXIT, UsageError } from './exitCodes.js';
import { COMMON_HELP, settleProcessArgv, type SettledArgv } from './argv.js';
import { VERSION } from '../version.js';
import { discardPrestarted, prestartSyncSsh } from '../net/sshSpawn.js';

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

/** Commands that start with a walk of local trees in the io workers. */
const WALKS_FIRST = new Set(['sync', 'mirror']);

export async function main(rawArgv: string[]): Promise<void> {
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
  // Their worker threads boot (~40-60 ms each: a thread, then the task module graph) on the
  // other core while this thread loads the command's modules, not after.
  // `serve --stdio` (the far side of an ssh:// sync) is asked for a scan right after its handshake.
  const walksFirst = WALKS_FIRST.has(argv[2] ?? '') || (argv[2] === 'serve' && argv.includes('--stdio'));
  if (walksFirst && !argv.includes('--help') && !argv.includes('-h')) {
    void import('../workers/pool.js').then((m) => m.warmPools(['io']), () => undefined);
  }
  // An ssh:// end's ssh (connection, key exchange, the remote omirr's start-up) runs while
  // this process loads the command's modules, not after (src/net/sshSpawn.ts).
  if (argv[2] === 'sync' && !argv.includes('--help') && !argv.includes('-h')) prestartSyncSsh(argv.slice(3));
  const program = await buildProgram(argv[2]);
  try {
    await program.parseAsync(argv);
  } catch (err) {
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
    discardPrestarted();
  }
}
