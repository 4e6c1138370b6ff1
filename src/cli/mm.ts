// `omirr mm`: the mirror master, one run. mm's flags are single-dash words (-debug, -oREGEX)
// that commander would split or reject, so this command takes its arguments raw and hands
// them to parseMmArgs (src/core/mmArgs.ts); the work is runMm (src/mm/runMm.ts).
import type { Command } from 'commander';
import { parseMmArgs } from '../core/mmArgs.js';
import { createLogger } from '../log.js';
import { startCliInspect } from '../inspect/cliInspect.js';
import { EXIT } from './exitCodes.js';
import { COMMON_HELP } from './argv.js';
import { runMm, signalJobGroups } from '../mm/runMm.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Jobs run in their own sessions (so a later run can find them by process group): a
 * terminal's Ctrl-C or a SIGTERM to mm would no longer reach them. Pass these signals on to
 * every running job's group, then die of the same signal as before.
 */
function forwardSignalsToJobs(): () => void {
  const on = (sig: NodeJS.Signals) => {
    signalJobGroups(sig);
    off();
    process.kill(process.pid, sig);
  };
  const off = () => {
    for (const sig of FORWARDED) process.off(sig, on);
  };
  for (const sig of FORWARDED) process.on(sig, on);
  return off;
}

const HELP = `
Flags (written as in mm's man page):
  -t            ignore the retry timers (locks still hold)
  -oREGEX       only site:package matching REGEX (unanchored); -o REGEX works too
  -debug        more logging; repeatable: -debug = debug (every actor transition),
                -debug -debug = trace
  -s            show every mm.status line read (Status:) and written (upd:/new:)
  --strict      an unparsable input line is an error (exit 2), not a warning
  --orphans=wait|stop  jobs still running after the omirr mm that started them
                died: wait (default: they hold their locks) or stop them when due
  --inspect [ADDR]  serve the live statechart inspector during the run; ADDR
                (HOST:PORT, :PORT or PORT) as the next word or --inspect=ADDR
  -h, --help    this help
  -anything     any other flag is passed on to the mirror command in $args

Input: the files given, or standard input when none ('-' is standard input).
Statements: home= max= mirror= cmd= cmdin= skip= EXIT and job lines
  site:package ok-hours notok-hours [mirror-args]
State: mm.status in home; logs: logs/<site>:<pkg> in home.
Exit: 0 every job that ran succeeded (or none was due), 1 a job failed,
      2 bad flags or input (file:line named). See docs/mm.md.
`;

/** mm's -debug count as a pino level. */
export function mmLogLevel(debug: number): 'info' | 'debug' | 'trace' {
  return debug <= 0 ? 'info' : debug === 1 ? 'debug' : 'trace';
}

export function register(program: Command): void {
  program
    .command('mm')
    .description('mirror master: run the due site:package jobs of mm input, at most max at once')
    .usage('[-t] [-oREGEX] [-debug]... [-s] [--strict] [--orphans=wait|stop] [mirror-flags...] [files...]')
    .argument('[args...]', 'flags and input files, as for mm')
    // mm's flags are not commander's: take every argument as it was written.
    .helpOption(false)
    .passThroughOptions()
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', HELP)
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      const opts = parseMmArgs(cmd.args);
      if (opts.help) {
        process.stdout.write(cmd.helpInformation() + HELP + `\n${COMMON_HELP}\n`);
        return;
      }
      const logger = createLogger({ level: mmLogLevel(opts.debug), name: 'mm' });
      // --inspect[=host:port]: the live statechart page for this run (src/inspect).
      const inspector = opts.inspect !== undefined ? await startCliInspect({ inspect: opts.inspect }, { log: logger, command: 'mm' }) : undefined;
      let result;
      const unforward = forwardSignalsToJobs();
      try {
        result = await runMm({
          options: opts,
          logger,
          ...(inspector?.inspect ? { inspect: inspector.inspect } : {}),
          // /metrics: job runs by result, their durations, the time of the last success.
          ...(inspector ? { metrics: inspector.m } : {}),
        });
      } finally {
        unforward();
        await inspector?.close();
      }
      process.exitCode = result.exitCode === 0 ? EXIT.OK : result.exitCode === 1 ? EXIT.FAILED : EXIT.USAGE;
    });
}
