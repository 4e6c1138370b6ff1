// `omirr mm` arguments (pure), in mm.pl's order. The original tested each argument with an
// UNANCHORED regex (any argument containing `-t` ignored the timers, any containing `-s`
// turned on status debugging, any containing `-o` set the -o pattern), which swallowed
// mirror's own flags such as `-sSITE` or `-kx=a-t`. We match mm's flags exactly, so every
// other `-` argument reaches mirror intact. See docs/mm-input.md ("Command line").
import { UsageError } from './exitCodes.js';
import type { OrphanPolicy } from './mmJobChildren.js';

export interface MmOptions {
  /** -t: ignore the retry timers (locks still hold). */
  ignoreTimers: boolean;
  /** -o: a regex matched, unanchored, against `site:package`. */
  only?: string;
  /** -debug, repeatable: 1 prints starts and ends, 2+ traces parsing, 4+ reasons for skips. */
  debug: number;
  /** -s: print every mm.status line read or written. */
  showStatus: boolean;
  /** Any other `-` argument, passed on to mirror (in $args) in the given order. */
  extraArgs: string[];
  /** Input files ('-' is standard input); none means standard input. */
  files: string[];
  /** --strict: an unparsable input line is an error, not a warning. */
  strict: boolean;
  /** --inspect[=host:port]: serve the live statechart page. */
  inspect?: string | true;
  /** --orphans=wait|stop: jobs left running by a dead omirr mm (default wait). */
  orphans?: OrphanPolicy;
  /** -h/--help was given (the caller prints help; nothing else is done). */
  help?: true;
}

/** Is `source` a valid regex? Throws UsageError naming the flag otherwise. */
function checkRegex(source: string): string {
  try {
    new RegExp(source);
  } catch (err) {
    throw new UsageError(`-o: invalid regular expression '${source}': ${(err as Error).message}`);
  }
  return source;
}

/** Parse the arguments after the `mm` word. */
export function parseMmArgs(argv: string[]): MmOptions {
  const opts: MmOptions = { ignoreTimers: false, debug: 0, showStatus: false, extraArgs: [], files: [], strict: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    // The first argument not starting with '-' ends the options; '-' alone is a file
    // (standard input) and '--' ends the options explicitly.
    if (!arg.startsWith('-') || arg === '-') break;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('-o')) {
      if (arg.length > 2) {
        opts.only = checkRegex(arg.slice(2));
      } else {
        // REPAIR: `-o REGEX` (as the man page shows it). The original read an empty
        // pattern here and took REGEX as the first input file.
        const next = argv[++i];
        if (next === undefined) throw new UsageError('-o: expected a regular expression');
        opts.only = checkRegex(next);
      }
      // An empty pattern means no restriction, as in the original.
      if (opts.only === '') delete opts.only;
    } else if (arg === '-t') {
      opts.ignoreTimers = true;
    } else if (arg === '-debug' || arg === '--debug') {
      opts.debug++;
    } else if (arg === '-s') {
      opts.showStatus = true;
    } else if (arg === '--strict') {
      opts.strict = true;
    } else if (arg === '--inspect') {
      opts.inspect = true;
    } else if (arg.startsWith('--inspect=')) {
      const addr = arg.slice('--inspect='.length);
      if (addr === '') throw new UsageError('--inspect=: expected host:port');
      opts.inspect = addr;
    } else if (arg.startsWith('--orphans=')) {
      const policy = arg.slice('--orphans='.length);
      if (policy !== 'wait' && policy !== 'stop') throw new UsageError(`--orphans=: expected wait or stop, not '${policy}'`);
      opts.orphans = policy;
    } else if (arg === '-h' || arg === '--help') {
      opts.help = true;
    } else {
      opts.extraArgs.push(arg);
    }
  }
  opts.files = argv.slice(i);
  return opts;
}
