// `omirr mirror PKGFILE...`: the first package's FTP site connected and listed while the
// command's modules load (commander, the engine, xstate, the worker pool: 0.1-0.3 s of a
// rerun whose listing takes about as long). Called from the command line's early start
// (src/cli/main.ts) with the raw arguments; runPackage (./runMirror.ts) takes the listing
// when its own package is the same, keyword for keyword; anything else opens the site as
// before, and a listing nobody took is closed at the end (discardEarlySite).
//
// Only a plain command line (package files, -N) and ftp:// or ftps:// sites: a guess from
// a light reading, never a different result. The listing's log lines wait for the
// command's logger and are written to it when the listing is taken.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { MirrorPackage } from '../core/packageFile.js';
import type { Logger } from '../log.js';
import type { SiteListing } from './siteListing.js';

interface Early {
  key: string;
  listing: Promise<SiteListing>;
  attach(to: Logger): void;
  /** Stops a connection still being made (a listing nobody takes). */
  abort: AbortController;
}

let early: Promise<Early | undefined> | undefined;
let settledEarly: Early | undefined;

/** The package as it decides what is listed: its name and every keyword's value. */
export function packageKey(pkg: MirrorPackage): string {
  return JSON.stringify([pkg.name, pkg.values]);
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
const LEVELS: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * A logger that holds its records until it is given the real one (the command's, made
 * once its modules have loaded), then writes them there and forwards what follows. Only
 * the level methods: all a site driver calls.
 */
export function lateLogger(): { log: Logger; attach(to: Logger): void } {
  let target: Logger | undefined;
  const held: Array<[Level, unknown[]]> = [];
  const log: Record<string, unknown> = {};
  for (const level of LEVELS) {
    log[level] = (...args: unknown[]): void => {
      if (target) (target[level] as (...a: unknown[]) => void)(...args);
      else held.push([level, args]);
    };
  }
  return {
    log: log as unknown as Logger,
    attach(to) {
      target = to;
      for (const [level, args] of held.splice(0)) (to[level] as (...a: unknown[]) => void)(...args);
    },
  };
}

/** Arguments that leave the package files' meaning as it is. */
const PLAIN_FLAGS = new Set(['-N', '--no-defaults']);

/** Start listing the first package's site, when the command line is plain and the site is FTP. Never throws. */
export function prestartMirrorSite(args: string[], cwd = process.cwd()): void {
  if (early || args.some((a) => a.startsWith('-') && !PLAIN_FLAGS.has(a))) return;
  const files = args.filter((a) => !a.startsWith('-'));
  if (files.length === 0) return;
  const noDefaults = args.some((a) => PLAIN_FLAGS.has(a));
  early = start(files, noDefaults, cwd).catch(() => undefined);
}

async function start(files: string[], noDefaults: boolean, cwd: string): Promise<Early | undefined> {
  const [{ parsePackageFiles, applyOverrides }, { interpretPackage }, { findMirrorDefaults }, ids, { findProgram }, { openAndList }] = await Promise.all([
    import('../core/packageFile.js'),
    import('../core/mirrorPackage.js'),
    import('./mirrorDefaults.js'),
    import('./systemIds.js'),
    import('./findProgram.js'),
    import('./siteListing.js'),
  ]);
  // the files as runMirror reads them: mirror.defaults in front, unless -N
  const defaultsFile = noDefaults ? undefined : findMirrorDefaults({ cwd });
  const inputs = [defaultsFile, ...files].filter((f): f is string => f !== undefined).map((file) => ({ file, text: readFileSync(resolve(cwd, file), 'utf8') }));
  const first = parsePackageFiles(inputs).packages[0];
  if (!first) return undefined;
  const { pkg } = applyOverrides(first, {});
  const job = interpretPackage(pkg, {
    nowMs: Date.now(),
    readFirstLine: (f) => readFileSync(resolve(cwd, f), 'utf8').split('\n')[0]!.replace(/\r$/, ''),
    lookupUser: ids.lookupUser,
    lookupGroup: ids.lookupGroup,
    hostname: hostname(),
    findProgram,
  });
  // upload mode lists the site writable, on a connection of its own: not this listing
  if (job.skipReason !== undefined || job.upload || !/^ftps?:\/\//i.test(job.source)) return undefined;
  const late = lateLogger();
  const abort = new AbortController();
  const e: Early = { key: packageKey(pkg), listing: openAndList(job, job.source, false, { signal: abort.signal }, late.log), attach: late.attach, abort };
  settledEarly = e;
  return e;
}

/**
 * The early listing of `pkg`'s site, if one was started for exactly this package (as
 * runPackage would list it: downloading, the command line's connection options); taken once.
 */
export async function takeEarlySite(pkg: MirrorPackage, log: Logger): Promise<SiteListing | undefined> {
  const e = await early;
  if (!e || e.key !== packageKey(pkg) || settledEarly !== e) return undefined;
  settledEarly = undefined;
  e.attach(log);
  return e.listing;
}

/**
 * Close the site of a listing nobody took: after the first package (runMirror.ts), so that
 * the site never has this idle connection beside a later package's, and at the command's end.
 */
export async function discardEarlySite(): Promise<void> {
  const e = await early;
  if (!e || settledEarly !== e) return;
  settledEarly = undefined;
  e.abort.abort(new Error('not needed'));
  const l = await e.listing;
  await l.tree?.close().catch(() => {});
}
