// One place to make loggers: JSON lines by default (for machines and log shippers),
// readable colour output when stderr is a terminal. Logs go to stderr so that a
// command's real output (e.g. pkgs-to-mmin lines, --json summaries) owns stdout.
// Writes are synchronous: pino's async buffer lost lines on SIGTERM in our tests.
import { createRequire } from 'node:module';
import { pino, destination, type Logger, type LevelWithSilent } from 'pino';
import type { PrettyStream } from 'pino-pretty';

// pino-pretty costs ~20 ms to load: only a terminal needs it.
const loadPretty = (): typeof import('pino-pretty') => createRequire(import.meta.url)('pino-pretty');

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
  /** Write to this fd instead of stderr (2). */
  fd?: number;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 2;
  const level = opts.level ?? (process.env.OMIRR_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const wantPretty = opts.pretty ?? (fd === 2 ? process.stderr.isTTY === true : false);
  const base = { name: opts.name ?? 'omirr' };
  if (wantPretty) {
    const stream: PrettyStream = loadPretty()({ destination: fd, sync: true, colorize: true, ignore: 'pid,hostname' });
    return pino({ level, base }, stream);
  }
  return pino({ level, base }, destination({ fd, sync: true }));
}

/** A logger that drops everything: the default for the programmatic API. */
export const silentLogger: Logger = pino({ level: 'silent' });
