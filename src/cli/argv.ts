// Options every command understands, settled on the raw argv before commander (or mm's own
// parser) sees it, so they behave the same everywhere:
//   --inspect ADDR / --inspect=ADDR: a next word that looks like HOST:PORT, [V6]:PORT, :PORT
//     or PORT is the inspector's address; any other next word (a file, a tree) is not
//     taken (commander would otherwise read `--inspect in.mm` as the address "in.mm");
//   --log-format text|json (or --log-format=...): sets OMIRR_LOG_FORMAT for this process
//     and the commands it runs (mm's jobs), read by createLogger (src/log.ts).
// Nothing after `--` is touched.
import { LOG_FORMATS, type LogFormat } from '../core/logFormat.js';
import { UsageError } from './exitCodes.js';

/** The options every command takes (settled before the command parses its own): shown under every help. */
export const COMMON_HELP =
  'Every command also takes:\n' +
  '  --log-format text|json  log lines as text (default; for cron mail, journald, less) or JSON\n' +
  '                          (for log shippers); or set OMIRR_LOG_FORMAT. Level: OMIRR_LOG_LEVEL\n' +
  '  --inspect [ADDR]        (daemon, mm, mirror, sync) the live inspector; ADDR is HOST:PORT,\n' +
  '                          :PORT or PORT, as the next word or after =';

/** Does this word look like an inspector address (HOST:PORT, [V6]:PORT, :PORT, PORT)? */
export function looksLikeAddress(word: string | undefined): boolean {
  if (word === undefined) return false;
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)?:\d{1,5}$/.test(word) || /^\d{1,5}$/.test(word);
}

export interface CommonArgs {
  /** argv with the common options rewritten (--inspect ADDR -> --inspect=ADDR) or taken out (--log-format). */
  argv: string[];
  logFormat?: LogFormat;
}

/**
 * Settle the common options of `args` (the words after the command name). `bareInspect` is
 * what a lone `--inspect` becomes: commander's optional value needs `--inspect=` (default
 * address) so that it does not take the next word; mm's own parser keeps `--inspect`.
 */
export function settleCommonArgs(args: string[], bareInspect = '--inspect='): CommonArgs {
  const out: string[] = [];
  let logFormat: LogFormat | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (a === '--inspect') {
      if (looksLikeAddress(args[i + 1])) out.push(`--inspect=${args[++i]}`);
      else out.push(bareInspect);
    } else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const v = a === '--log-format' ? args[++i] : a.slice('--log-format='.length);
      logFormat = parseLogFormat(v, '--log-format');
    } else out.push(a);
  }
  return { argv: out, ...(logFormat ? { logFormat } : {}) };
}

/** A log format name, or a UsageError naming where it came from. */
export function parseLogFormat(v: string | undefined, from: string): LogFormat {
  if (v !== undefined && (LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new UsageError(`${from}: expected ${LOG_FORMATS.join(' or ')}, got '${v ?? ''}'`);
}

export interface SettledArgv {
  /** process.argv with the common options settled. */
  argv: string[];
  /** The command word (`sync`, `mm`, ...), when one was given. */
  command?: string;
}

/**
 * The whole command line (process.argv): settles the common options of whichever command it
 * names, and sets OMIRR_LOG_FORMAT from --log-format (or checks the one in the environment).
 */
export function settleProcessArgv(rawArgv: string[], env: NodeJS.ProcessEnv = process.env): SettledArgv {
  const words = rawArgv.slice(2);
  const command = words.find((w, i) => !w.startsWith('-') && words[i - 1] !== '--log-format');
  // mm parses its own flags and does not take the next word as --inspect's value
  const common = settleCommonArgs(words, command === 'mm' ? '--inspect' : '--inspect=');
  if (common.logFormat) env.OMIRR_LOG_FORMAT = common.logFormat;
  else if (env.OMIRR_LOG_FORMAT) parseLogFormat(env.OMIRR_LOG_FORMAT, 'OMIRR_LOG_FORMAT');
  return { argv: [...rawArgv.slice(0, 2), ...common.argv], ...(command !== undefined ? { command } : {}) };
}
