// One place to make loggers. Logs go to stderr so that a command's real output (e.g.
// pkgs-to-mmin lines, --json summaries) owns stdout. Writes are synchronous: pino's async
// buffer lost lines on SIGTERM in our tests.
//
// Two formats, chosen by `--log-format text|json` (every command) or $OMIRR_LOG_FORMAT:
//  - text (the default): one line per record, `TIME LEVEL name: message key=value ...`,
//    coloured on a terminal. The default everywhere, terminal or not, because the people
//    who read a log that is not on a terminal are reading cron mail, `journalctl -u omirr`
//    or `2>&1 | less`: JSON there is noise to a person, and journald stamps lines itself.
//  - json: pino's JSON lines, for log shippers (Loki, Elasticsearch, jq); ask for it.
//
// pino itself (~20 ms of CPU to load, with its transports' machinery) loads on the first record
// a logger really writes, or the first use of anything but a level method, `level`,
// `isLevelEnabled` and `child` (lazyLogger): a re-run at the default levels that has nothing to
// say, on either end of an ssh:// sync, never loads it.
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger, LevelWithSilent } from 'pino';

export type { Logger };

import { defaultLogFormat, type LogFormat } from './core/logFormat.js';

export { LOG_FORMATS, defaultLogFormat, type LogFormat } from './core/logFormat.js';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** text or json; default $OMIRR_LOG_FORMAT, else text. */
  format?: LogFormat;
  /** Colour the text format; default: when the destination is a terminal. */
  colour?: boolean;
  /** Write to this fd instead of stderr (2). */
  fd?: number;
  name?: string;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** pino's own fields, not shown as key=value. */
const OWN = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
    // an error (pino serialises err as {type, message, stack}): its message is what a person needs
    return JSON.stringify((v as { message: string }).message);
  }
  return JSON.stringify(v) ?? String(v);
}

/**
 * A name's bytes that are not UTF-8 travel as U+DC80..U+DCFF (src/core/names.ts); a person
 * reads them as `\xNN`, whether raw in the line or as the `\udcNN` a JSON-quoted value has.
 */
function showEscapedBytes(line: string): string {
  return line.replace(/(?<!\\)\\udc([89a-f][0-9a-f])|[\uDC80-\uDCFF]/gu, (m, hex: string | undefined) => `\\x${hex ?? (m.charCodeAt(0) - 0xdc00).toString(16)}`);
}

/** One pino JSON record as a line of text: `TIME LEVEL name: message key=value ...`. */
export function formatLogLine(rec: Record<string, unknown>, colour = false): string {
  const level = typeof rec.level === 'number' ? rec.level : 30;
  let name = LEVEL_NAMES[level] ?? String(level);
  name = name.padEnd(5);
  if (colour) name = `\x1b[${LEVEL_COLOURS[level] ?? '0'}m${name}\x1b[0m`;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString() : new Date().toISOString();
  const fields = Object.entries(rec)
    .filter(([k, v]) => !OWN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const who = typeof rec.name === 'string' ? `${rec.name}: ` : '';
  return showEscapedBytes([`${time} ${name} ${who}${String(rec.msg ?? '')}`, ...fields].join(' ') + '\n');
}

/** A text line as formatLogLine writes it: ISO time, then the level name (coloured on a terminal). */
const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:\x1b\[\d+m)?([A-Z]+)\b/;

/**
 * Is this line one of omirr's own log records (either format) below WARN? A far `omirr serve
 * --stdio` logs to ssh's stderr, mixed with ssh's own lines: its info and debug records are
 * left out of a lost connection's error (src/net/ssh.ts), where they would hide ssh's
 * complaint; its warnings and errors, and every line not in omirr's format, are kept.
 */
export function isQuietLogLine(line: string): boolean {
  const text = TEXT_LINE.exec(line);
  if (text) {
    const level = Object.entries(LEVEL_NAMES).find(([, n]) => n === text[1]);
    return level !== undefined && Number(level[0]) < 40;
  }
  if (!line.startsWith('{"level":')) return false;
  try {
    const rec = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return typeof rec.level === 'number' && rec.level < 40 && 'msg' in rec;
  } catch {
    return false;
  }
}

/** A pino destination writing each record as a text line (synchronously). */
function textDestination(fd: number, colour: boolean): { write(s: string): void } {
  return {
    write(s: string) {
      let line: string;
      try {
        line = formatLogLine(JSON.parse(s) as Record<string, unknown>, colour);
      } catch {
        line = s;
      }
      writeSync(fd, line);
    },
  };
}

type Pino = typeof import('pino');
let pinoModule: Pino | undefined;
/** pino, loaded now (it is CommonJS: a synchronous require, so a logger can make itself at its first record). */
function loadPino(): Pino {
  return (pinoModule ??= createRequire(import.meta.url)('pino') as Pino);
}

/** pino's level values; a record is written when its level's value is at least the logger's. */
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/**
 * A Logger that makes its pino logger (`make`) only when it must: a call of a level method
 * below `level` does nothing; `level`, `isLevelEnabled` and `child` are answered without it
 * (a child is lazy too, and makes itself from its parent's real logger); anything else
 * (a record to write, a level set, `bindings()`, `flush()`) makes it and goes to it from then on.
 */
function lazyLogger(level: LevelWithSilent, make: () => Logger): Logger {
  // a level pino does not know: made now, so that its error comes where the level was given
  if (LEVEL_VALUES[level] === undefined) return make();
  let real: Logger | undefined;
  const threshold = LEVEL_VALUES[level];
  const noop = (): void => {};
  const fromReal = (k: string | symbol): unknown => {
    real ??= make();
    const v = Reflect.get(real, k, real) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
  };
  return new Proxy({} as Logger, {
    get(_t, k) {
      if (real || typeof k !== 'string') return fromReal(k);
      const value = LEVEL_VALUES[k];
      if (value !== undefined) return k === 'silent' || value < threshold ? noop : fromReal(k);
      if (k === 'level') return level;
      if (k === 'isLevelEnabled') return (l: string) => (LEVEL_VALUES[l] ?? Infinity) >= threshold && threshold !== Infinity;
      if (k === 'child') {
        return (bindings: Record<string, unknown>, options?: { level?: LevelWithSilent }) =>
          lazyLogger(options?.level ?? level, () => (fromReal('child') as Logger['child'])(bindings, options));
      }
      return fromReal(k);
    },
    set(_t, k, v) {
      real ??= make();
      return Reflect.set(real, k, v, real);
    },
    has(_t, k) {
      real ??= make();
      return Reflect.has(real, k);
    },
  });
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 2;
  const level = opts.level ?? (process.env.OMIRR_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const format = opts.format ?? defaultLogFormat();
  const base = { name: opts.name ?? 'omirr' };
  if (format === 'text') {
    const colour = opts.colour ?? (fd === 2 && process.stderr.isTTY === true && !process.env.NO_COLOR);
    return lazyLogger(level, () => loadPino().pino({ level, base }, textDestination(fd, colour)));
  }
  return lazyLogger(level, () => loadPino().pino({ level, base }, loadPino().destination({ fd, sync: true })));
}

/** A logger that drops everything: the default for the programmatic API. */
export const silentLogger: Logger = lazyLogger('silent', () => loadPino().pino({ level: 'silent' }));
