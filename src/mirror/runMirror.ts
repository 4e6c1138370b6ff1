// The built-in mirror: runs mirror 2.9 package files with omirr's engine. For each selected
// package, in order: interpret its values, scan the local tree (local_dir) while the site is
// opened read-only and listed (mirror did one, then the other), plan with planSync, execute,
// chown, log.
//
// Exit codes are mirror's: 0 ok (also for skipped packages), 1 a failure after reaching the
// site (listing failed, a transfer or delete failed), 2 could not reach the site, local_dir
// problems, or bad settings. Two repairs, documented in docs/mirror.md:
// - the run's status is the WORST status of the selected packages (mirror returned the status
//   of the last package handled, so `mirror -pX file` reported X only when X came last);
// - per-file failures give 1 (mirror returned 0 even when transfers failed, which left mm no
//   way to retry sooner).
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Entry } from '../core/entry.js';
import type { ScanSkip, Tree, TreeOp } from '../core/tree.js';
import { planSync, type PlanOptions, type SyncPlan } from '../core/plan.js';
import {
  applyOverrides,
  parsePackageFiles,
  type MirrorPackage,
  type PackageFileInput,
} from '../core/packageFile.js';
import { PackageSettingsError, evaluatedValues, interpretPackage, shownSource, type MirrorJob } from '../core/mirrorPackage.js';
import { mirrorDefaults } from '../core/mirrorKeywords.js';
import { findMirrorDefaults } from './mirrorDefaults.js';
import { INTERACTIVE_TRIPLE_KEYS, interactivePackages } from '../core/mirrorInteractive.js';
import { LocalTree, SMALL_UNPACK_FILES } from '../engine/localTree.js';
import type { SyncResult } from '../engine/executePlan.js';
import { emptyResult as emptySyncResult, partialResultOf, planHasWork } from '../engine/syncResult.js';
import { isRemoteSpec, openTree } from '../engine/openTree.js';
import '../sites/register.js';
import { silentLogger, type Logger } from '../log.js';
import type { InspectionEvent } from 'xstate';
import type { OmirrMetrics } from '../inspect/omirrMetrics.js';
import { lookupGroup, lookupUser } from './systemIds.js';
import { warmPools } from '../workers/pool.js';
import { localView, updateLocalName } from '../core/mirrorNames.js';
import { compressStaged, stagingName } from './compressLocal.js';
import { followLinks, LocalRoots } from './followLocal.js';
import { findProgram } from './findProgram.js';
import { mark } from '../engine/timing.js';
import { openAndList } from './siteListing.js';
import { discardEarlySite, takeEarlySite } from './earlySite.js';

export type MirrorExitCode = 0 | 1 | 2;

export interface RunMirrorOptions {
  /** Package files to read, in order (all parsed as one stream, as mirror does). */
  files?: string[];
  /** Package texts given directly (e.g. standard input), read after `files`. */
  texts?: PackageFileInput[];
  /** -p: run only these packages (exact names); package=defaults blocks always apply. */
  packages?: string[];
  /** -k key=value: override keywords in every package. */
  overrides?: Record<string, string>;
  /** -n: plan and report, change nothing (local_dir is not even created). */
  dryRun?: boolean;
  /**
   * -R: skip packages until one of these (or of `packages`) is met, then run it and every
   * later package (mirror's skip_till).
   */
  restartFrom?: string[];
  /** -L: print mirror's list of what each package mirrors (name, comment, site:dir --> local_dir); touch nothing. */
  listOnly?: boolean;
  /** -T: transfer nothing; give existing local files the remote mtimes. */
  timestampsOnly?: boolean;
  /** -gsite:path (repeatable): one-shot gets into the current directory, without mirror.defaults. */
  oneShot?: string[];
  /**
   * -G / -P (mirror's interactive mode): `local_dir remote_dir [pattern]` triples from the
   * command line, run as the package `interactive`; no package file and no mirror.defaults.
   */
  interactive?: string[];
  /**
   * mirror.defaults: true (default) searches where mirror searched (src/mirror/mirrorDefaults.ts),
   * false is -N, a string is that file.
   */
  defaults?: boolean | string;
  log?: Logger;
  /** Report lines (what mirror printed to stdout; mm captures it in logs/<site>:<pkg>). */
  out?: (line: string) => void;
  /** Directory relative local_dir, site, <file and update_log names are resolved against. */
  cwd?: string;
  signal?: AbortSignal;
  /**
   * How to authenticate omirr:// sites (passed to openTree/connectTree): e.g. `config` (an
   * omirr.conf with our key and the peers' pins), `pin`, `secret`, `secretFile`.
   */
  connect?: Record<string, unknown>;
  /** xstate inspection for each package's transferSession actor (e.g. the inspector's). */
  inspect?: (ev: InspectionEvent) => void;
  /** Count what arrived: `omirr_files_received_total`, `omirr_bytes_received_total` (peer = the source's label). */
  metrics?: OmirrMetrics;
}

export interface PackageResult {
  name: string;
  file: string;
  line: number;
  status: 'ok' | 'skipped' | 'failed';
  exitCode: MirrorExitCode;
  /** Why it was skipped or failed. */
  message?: string;
  dirsMade: number;
  filesGot: number;
  bytes: number;
  symlinksMade: number;
  attrsSet: number;
  deleted: number;
  /** Deletes withheld by max_delete_files / max_delete_dirs (all-or-nothing). */
  deletesRefused?: string;
  failed: Array<{ path: string; error: string }>;
  warnings: string[];
}

export interface RunMirrorResult {
  /** The mirror.defaults file read in front of the package files, if any. */
  defaultsFile?: string;
  /** The worst exit code of the selected packages (see the header comment). */
  exitCode: MirrorExitCode;
  packages: PackageResult[];
  warnings: string[];
}


/**
 * What the source's listing left out (a name the site's client could not read, a directory
 * it could not list, a fifo): an unmirrorable one fails the package by name, and none has
 * its copy deleted for being unlisted (PlanOptions.srcSkipped). The plan options to use.
 */
function withSourceSkips(r: PackageResult, skips: ScanSkip[], plan: PlanOptions): PlanOptions {
  for (const s of skips) if (s.unmirrorable) r.failed.push({ path: s.path, error: `not mirrored: ${s.reason}` });
  return skips.length > 0 ? { ...plan, srcSkipped: skips.map((s) => s.path) } : plan;
}

/** mirror's -p rule: a name needs at least one letter or digit. */
export function checkPackageName(name: string): void {
  if (!/[A-Za-z0-9]/.test(name)) throw new PackageSettingsError(`Invalid package name: '${name}'`);
}

export async function runMirror(opts: RunMirrorOptions): Promise<RunMirrorResult> {
  const log = opts.log ?? silentLogger;
  const out = opts.out ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  for (const p of [...(opts.packages ?? []), ...(opts.restartFrom ?? [])]) checkPackageName(p);

  // -g: one-shot gets, no package files and no mirror.defaults (as mirror's -g).
  const oneShot = (opts.oneShot ?? []).map(oneShotPackage).reverse(); // mirror pops them off the end

  // -G / -P: the transfer list from the command line; a -k of its own keywords is ignored.
  const interactive = opts.interactive ? interactivePackages(opts.interactive) : undefined;
  if (interactive && opts.overrides) {
    const overrides = { ...opts.overrides };
    for (const k of INTERACTIVE_TRIPLE_KEYS) delete overrides[k];
    opts = { ...opts, overrides };
  }

  // mirror.defaults goes in front of the package files (mirror splices it into the list).
  let defaultsFile: string | undefined;
  if (oneShot.length === 0 && !interactive && opts.defaults !== false) {
    defaultsFile = typeof opts.defaults === 'string' ? opts.defaults : findMirrorDefaults({ cwd });
    if (defaultsFile) log.info(`defaults from ${defaultsFile}`);
    else log.info('No mirror.defaults found (see docs/mirror.md for where it is looked for)');
  }

  // Read and parse everything first: an unknown keyword anywhere stops the run before any
  // package runs (mirror, which interprets while reading, had already run the ones before).
  const inputs: PackageFileInput[] = [
    ...(defaultsFile ? [{ file: defaultsFile, text: readFileSync(resolve(cwd, defaultsFile), 'utf8') }] : []),
    ...(opts.files ?? []).map((file) => ({ file, text: readFileSync(resolve(cwd, file), 'utf8') })),
    ...(opts.texts ?? []),
  ];
  const parsed =
    oneShot.length > 0 ? { packages: oneShot, warnings: [] } : interactive ? { packages: interactive, warnings: [] } : parsePackageFiles(inputs);
  const warnings = parsed.warnings.map((w) => `${w.loc.file}:${w.loc.line}: ${w.message}`);
  for (const w of warnings) log.warn(w);

  // -p NAME: exact names. -R NAME: the same set, but once one is met every later package runs.
  const names = [...(opts.packages ?? []), ...(opts.restartFrom ?? [])];
  let limit = names.length > 0;
  const skipTill = (opts.restartFrom ?? []).length > 0;
  const selected = new Set(names);
  const results: PackageResult[] = [];
  for (const pkg of parsed.packages) {
    if (limit && !selected.has(pkg.name)) continue;
    if (skipTill) limit = false;
    if (opts.signal?.aborted) break;
    const r = opts.listOnly ? listPackage(pkg, opts, out, cwd) : await runPackage(pkg, opts, log, out, cwd);
    // the first package's early listing, if it did not take it (src/mirror/earlySite.ts)
    if (results.length === 0) await discardEarlySite();
    results.push(r);
  }
  for (const name of selected) {
    if (!parsed.packages.some((p) => p.name === name)) {
      const w = `package ${name}: not found in the package files`;
      warnings.push(w);
      log.warn(w);
    }
  }
  const exitCode = results.reduce<MirrorExitCode>((worst, r) => (r.exitCode > worst ? r.exitCode : worst), 0);
  return { exitCode, packages: results, warnings, ...(defaultsFile ? { defaultsFile } : {}) };
}

/**
 * -gsite:path as mirror builds it: `dir/` fetches the whole directory, `dir/name` the
 * entries matching ^name$ in dir, a bare `name` matches ^name$ in the login directory;
 * always into the current directory.
 */
function oneShotPackage(arg: string): MirrorPackage {
  const m = /^(.*):(.*)$/s.exec(arg);
  if (!m) throw new PackageSettingsError(`expected -gsite:path got ${arg}`);
  const [, site, path] = m as unknown as [string, string, string];
  let remoteDir: string;
  let getPatt: string;
  const d = /^(.*)\/([^/]*)$/s.exec(path);
  if (d) {
    remoteDir = d[1] === '' ? '/' : d[1]!;
    getPatt = d[2] === '' ? '.' : `^${d[2]}$`;
  } else {
    remoteDir = '.';
    getPatt = `^${path}$`;
  }
  const loc = { file: `-g${arg}`, line: 0 };
  return {
    name: '',
    loc,
    values: { ...mirrorDefaults(), site, remote_dir: remoteDir, get_patt: getPatt, local_dir: '.', remote_user: 'anonymous' },
    locs: { site: loc, remote_dir: loc, get_patt: loc, local_dir: loc },
  };
}

/** -L: mirror's "pretty list" of one package; nothing is read from the site or written. */
function listPackage(raw: MirrorPackage, opts: RunMirrorOptions, out: (line: string) => void, cwd: string): PackageResult {
  const r = emptyResult(raw);
  const { pkg } = applyOverrides(raw, opts.overrides);
  let v: Record<string, string>;
  try {
    v = evaluatedValues(pkg, { nowMs: Date.now(), readFirstLine: firstLineReader(cwd) });
  } catch (err) {
    if (err instanceof PackageSettingsError) return fail(r, 2, err.message, out, silentLogger);
    throw err;
  }
  if ((v.site ?? '') === '' || (v.remote_dir ?? '') === '' || (v.local_dir ?? '') === '') {
    out('Insufficient details for package to be fetched');
    out('Must give at least: site, remote_user, remote_dir and local_dir');
    r.status = 'failed';
    r.exitCode = 2;
    return r;
  }
  if ((v.skip ?? '') !== '') {
    r.status = 'skipped';
    return r;
  }
  out(`${pkg.name}  "${v.comment ?? ''}"`);
  out(`  ${v.site}:${v.remote_dir}  -->  ${v.local_dir}`);
  out('');
  return r;
}

function firstLineReader(cwd: string): (f: string) => string {
  return (f) => readFileSync(resolve(cwd, f), 'utf8').split('\n')[0]!.replace(/\r$/, '');
}

function emptyResult(pkg: MirrorPackage): PackageResult {
  return {
    name: pkg.name,
    file: pkg.loc.file,
    line: pkg.loc.line,
    status: 'ok',
    exitCode: 0,
    dirsMade: 0,
    filesGot: 0,
    bytes: 0,
    symlinksMade: 0,
    attrsSet: 0,
    deleted: 0,
    failed: [],
    warnings: [],
  };
}

/** Operations that failed make the package fail with 1 (mirror returned 0: see Repairs). */
function failedOps(r: PackageResult): void {
  if (r.failed.length === 0) return;
  r.status = 'failed';
  r.exitCode = 1;
  r.message = `${r.failed.length} operation(s) failed`;
}

function fail(r: PackageResult, exitCode: 1 | 2, message: string, out: (l: string) => void, log: Logger): PackageResult {
  r.status = 'failed';
  r.exitCode = exitCode;
  r.message = message;
  out(`package=${r.name}: ${message}`);
  log.error({ package: r.name, exitCode }, message);
  return r;
}

/**
 * The site's connection died mid-run (its omirr or ssh killed, the network dropped): the
 * package fails with one line that names the URL, what was seen (ssh's exit status and
 * stderr tail over ssh://) and how far it got, as `omirr sync` says it (lostConnection),
 * instead of a "not received" line per file. Exit 1, as any failure after reaching the site:
 * mm counts it as not ok and retries after min-restart-last-notok. Undefined: not lost.
 */
async function lostSite(r: PackageResult, site: Tree, howFar: () => string, say: (l: string) => void, log: Logger, cause?: unknown): Promise<PackageResult | undefined> {
  // (asked first: the error's module, net/remoteTree.js, loads the omirr protocol's ~15
  // modules, which every run paid for at start-up; lostReason only reads the site's state)
  if (!(await site.lostReason?.())) return undefined;
  const { lostConnection } = await import('../net/remoteTree.js');
  const lost = await lostConnection([site], howFar, cause);
  if (!lost) return undefined;
  // the report names the site's loss; what stopped this run is logged beside it (it may be
  // another failure the lost site caused, or one of its own)
  if (cause !== undefined) log.warn({ package: r.name, err: (cause as Error).message ?? String(cause) }, 'the transfer stopped');
  // what failed for another reason is still named (r.failed keeps every path)
  for (const f of r.failed) if (!f.error.startsWith('not received')) say(`failed ${f.path}: ${f.error}`);
  return fail(r, 1, lost.message, say, log);
}

async function runPackage(
  raw: MirrorPackage,
  opts: RunMirrorOptions,
  log: Logger,
  out: (line: string) => void,
  cwd: string,
): Promise<PackageResult> {
  const r = emptyResult(raw);
  const { pkg, warnings: ovWarnings } = applyOverrides(raw, opts.overrides);
  r.warnings.push(...ovWarnings);
  const nowMs = Date.now();

  let job: MirrorJob;
  try {
    job = interpretPackage(pkg, {
      nowMs,
      readFirstLine: firstLineReader(cwd),
      lookupUser,
      lookupGroup,
      hostname: hostname(),
      findProgram,
    });
  } catch (err) {
    if (err instanceof PackageSettingsError) return fail(r, 2, err.message, out, log);
    throw err;
  }
  r.warnings.push(...job.warnings);
  for (const w of r.warnings) log.warn({ package: r.name }, w);

  if (job.skipReason !== undefined) {
    r.status = 'skipped';
    r.message = job.skipReason;
    out(`Skipping package ${r.name}: ${job.skipReason}`);
    return r;
  }

  const source = isRemoteSpec(job.source) ? job.source : resolve(cwd, job.source);
  const localDir = resolve(cwd, job.localDir);
  if (job.upload) return runUpload(job, r, source, localDir, opts, log, out);
  out(`package=${r.name} ${shownSource(source, job.ftp?.port)} -> ${localDir}${opts.dryRun ? ' (dry run)' : ''}`);
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    out(line);
  };

  // save_dir must be inside local_dir (the engine moves entries within the tree); it is
  // hidden from the comparison so that saved entries are never mirrored over or deleted.
  let saveDir: string | undefined;
  if (job.saveDir !== undefined) {
    const abs = resolve(localDir, job.saveDir);
    const rel = relative(localDir, abs);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      return fail(r, 2, `save_dir ${job.saveDir} must be inside local_dir ${localDir}`, say, log);
    }
    saveDir = rel;
    const inner = job.plan.exclude;
    job.plan.exclude = (p, k) => p === rel || p.startsWith(rel + '/') || (inner?.(p, k) ?? false);
  }

  let createdLocalDir = false;
  // local_dir: created when missing, unless local_dir_check (then the package is skipped
  // with status 2, as a local-directory failure).
  const exists = existsSync(localDir);
  if (exists && !statSync(localDir).isDirectory()) {
    return fail(r, 2, `local_dir ${localDir} is not a directory`, say, log);
  }
  if (!exists) {
    if (job.localDirCheck || opts.timestampsOnly) {
      const why = opts.timestampsOnly ? '(-T sets timestamps only)' : '(local_dir_check is set)';
      return fail(r, 2, `local_dir ${localDir} does not exist ${why}`, say, log);
    }
    if (!opts.dryRun) {
      createdLocalDir = true;
      try {
        mkdirSync(localDir, { recursive: true, mode: (job.plan.dirMode ?? 0o755) & ~(job.plan.umask ?? 0) });
      } catch (err) {
        return fail(r, 2, `cannot create local_dir ${localDir}: ${(err as Error).message}`, say, log);
      }
    }
  }

  // one thread scans (the site's listing takes longer; a second thread cost 0.1 s of CPU
  // on a no-op of 20,000 files and saved no time): this one, a big tree's rest an io thread
  // (localScan.ts scanOneThread); a few mkdir and attribute changes are made here too
  // (smallHere); files' bytes are written by a thread
  const dst = new LocalTree(localDir, { writable: !opts.dryRun, log, smallUnpackFiles: SMALL_UNPACK_FILES, oneScanThread: true, smallHere: true });
  let roots = new LocalRoots(dst, [], { writable: !opts.dryRun, log });
  let src: Tree | undefined;
  // The site is opened and listed while the local tree is scanned (mirror scanned first,
  // then connected): neither needs the other, and a rerun's time was their sum. A local
  // failure is still the one reported (exit 2), and the site's connection is closed.
  const listing = takeEarlySite(pkg, log).then((l) => l ?? openAndList(job, source, false, opts, log));
  try {
    let dstEntries: Entry[];
    try {
      dstEntries = exists || !opts.dryRun ? await dst.scan({ recursive: job.recursive }) : [];
      mark('local_dir scanned');
      if (job.followLocal && dstEntries.some((e) => e.kind === 'symlink')) {
        // follow_local_symlinks: matching links are seen as what they point to (src/mirror/followLocal.ts)
        const f = await followLinks(localDir, dstEntries, job.followLocal, { recursive: job.recursive, log, warn: say });
        dstEntries = f.entries;
        roots = new LocalRoots(dst, f.roots, { writable: !opts.dryRun, log });
      }
    } catch (err) {
      void listing.then((l) => l.tree?.close().catch(() => {}));
      return fail(r, 2, `cannot scan local_dir ${localDir}: ${(err as Error).message}`, say, log);
    }

    const listed = await listing;
    src = listed.tree;
    if ('failure' in listed) return fail(r, listed.failure[0], listed.failure[1], say, log);
    const site = listed.tree;
    // The remote listing at its local names (name_mappings, compressed copies): planned
    // against the local scan in local names, so a mapped or compressed local copy is the
    // copy of its remote file (src/core/mirrorNames.ts).
    let srcEntries = listed.entries;
    const view = job.names ? localView(srcEntries, job.names) : undefined;
    if (view) {
      for (const s of view.skipped) {
        if (s.failure) r.failed.push({ path: s.path, error: s.reason });
        else say(`${s.path}: ${s.reason}`);
      }
      for (const c of view.collisions) say(`warning: several remote paths map to ${c}; the last one is used`);
      const local = new Map(dstEntries.map((e) => [e.path, e]));
      // A compressed copy's size says nothing about the remote file's (mirror does not
      // compare sizes for these): the local size stands in, so only times decide.
      srcEntries = view.entries.map((e) => {
        const how = view.copies.get(e.path)?.how ?? 'copy';
        const d = local.get(e.path);
        return how !== 'copy' && d?.kind === 'file' ? { ...e, size: d.size } : e;
      });
    }
    const remoteOf = (p: string): string => view?.copies.get(p)?.remote.path ?? p;
    if (job.updateLocal) applyUpdateLocal(job, dstEntries, say);
    if (view && job.plan.include) {
      // get_patt is tested on the remote path, as mirror does (before mapping)
      const inc = job.plan.include;
      job.plan.include = (p, k) => inc(remoteOf(p), k);
    }

    if (opts.timestampsOnly) {
      await setTimestamps(roots, srcEntries, dstEntries, job, r, say, opts.dryRun === true);
      return r; // -T: no transfers, deletes or logs (mirror)
    }

    const plan = planSync(srcEntries, dstEntries, withSourceSkips(r, listed.skipped, job.plan));
    mark('planned');
    // The thread that writes what arrives starts as soon as the plan has files for it (it
    // boots while the first ones download). Not before: a no-op rerun of 20,000 files spent
    // 0.27 of its 0.85 s of CPU starting that thread for nothing. One: a site's files come in
    // one tar stream on a small machine; more start if more streams ask. A small rerun's
    // files are written by an io thread (already up from the scan) and start none.
    if (!opts.dryRun && plan.transfers.length > SMALL_UNPACK_FILES) warmPools(['extract'], 1);
    for (const s of plan.skipped) say(`skipped ${s.path}: ${s.reason}`);
    if (plan.deletesRefused) {
      r.deletesRefused = plan.deletesRefused;
      say(plan.deletesRefused);
      log.warn({ package: r.name }, plan.deletesRefused);
    }

    if (opts.dryRun) {
      describePlan(plan, say, saveDir);
      countPlan(r, plan);
      say(summary(r, true));
      return r; // -n: no logs (mirror)
    }

    // save_deletes: the executor would rename whole directories into save_dir, which fails
    // once save_dir already holds that directory from an earlier run. We save files and
    // links one by one (their directories are made under save_dir as needed, merging with
    // earlier saves) and remove the directories they leave empty, children first.
    const saves = saveDir !== undefined ? plan.deletes : [];
    // compress_patt / compress_conv_patt: such files are fetched under mirror's temporary
    // name (.in.NAME.), then compressed into their local name (src/mirror/compressLocal.ts).
    const stagedFrom = new Map<string, string>();
    const compressions: Array<{ staged: string; final: string; command: string; mode: number; mtimeMs: number }> = [];
    const transfers = plan.transfers.map((t) => {
      const c = view?.copies.get(t.path);
      const command = c?.how === 'compress' ? job.compressCommand : c?.how === 'convert' ? job.convertCommand : undefined;
      if (!c || command === undefined) return t;
      const staged = stagingName(t.path);
      stagedFrom.set(staged, c.remote.path);
      compressions.push({ staged, final: t.path, command, mode: t.mode, mtimeMs: t.mtimeMs });
      return { ...t, path: staged, size: c.remote.size };
    });
    const execPlan: SyncPlan = { ...plan, transfers, deletes: saveDir !== undefined ? [] : plan.deletes };
    const renamed = view !== undefined || roots.trees.length > 1;
    const plans = roots.split(execPlan);
    const gotSoFar = (): string => `${r.filesGot} of ${transfers.length} files got by then`;
    try {
      for (let i = 0; i < plans.length; i++) {
        const sub = plans[i]!;
        if (!planHasWork(sub)) {
          // nothing to do here: no transfer actor (nor xstate and the executor, for a no-op), unless watched
          if (i > 0) continue;
          if (!opts.inspect && !log.isLevelEnabled('debug')) {
            countResult(r, emptySyncResult(sub, false));
            continue;
          }
        }
        const prefix = roots.prefixOf(i);
        const full = (p: string): string => (prefix ? `${prefix}/${p}` : p);
        // (its module, with tar-stream, only for a run that renames)
        const from = renamed ? new (await import('./renamedSource.js')).RenamedSource(site, (p) => stagedFrom.get(full(p)) ?? remoteOf(full(p))) : site;
        const { executePlan } = await import('../engine/executePlan.js');
        const counted = (result: SyncResult): void => {
          opts.metrics?.filesReceived.inc({ peer: site.label }, result.filesSent);
          opts.metrics?.bytesReceived.inc({ peer: site.label }, result.bytesSent);
          countResult(r, { ...result, failed: result.failed.map((f) => ({ ...f, path: full(f.path) })) });
        };
        let result: SyncResult;
        try {
          result = await executePlan(from, roots.trees[i]!, sub, {
            // With force_times, directories the transfer wrote into get their source mtimes back.
            ...(job.plan.setTimes !== false ? { source: roots.entriesOf(i, srcEntries) } : {}),
            // the listing the plan came from: changed large files go as deltas (docs/engine.md)
            target: roots.entriesOf(i, dstEntries),
            log,
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(opts.inspect ? { inspect: opts.inspect } : {}),
          });
        } catch (err) {
          // what it did before it failed (files got, a file the site refused) still counts
          const partial = partialResultOf(err);
          if (partial) counted(partial);
          throw err;
        }
        counted(result);
      }
    } catch (err) {
      const lost = await lostSite(r, site, gotSoFar, say, log, err);
      if (lost) return lost;
      throw err;
    }
    if (compressions.length > 0) {
      const failedNow = new Set(r.failed.map((f) => f.path));
      for (const c of compressions) {
        if (failedNow.has(c.staged)) {
          // the fetch failed: report it under the local name
          for (const f of r.failed) if (f.path === c.staged) f.path = c.final;
          continue;
        }
        const { tree, rel } = roots.route(c.staged);
        const base = roots.trees[tree]!.root;
        const finalRel = roots.route(c.final).rel;
        try {
          await compressStaged({ root: base, staged: rel, final: finalRel, command: c.command, mode: c.mode, mtimeMs: c.mtimeMs });
        } catch (err) {
          r.failed.push({ path: c.final, error: `compressing: ${(err as Error).message}` });
        }
      }
    }
    if (saveDir !== undefined && saves.length > 0) {
      const ops: TreeOp[] = saves
        .filter((e) => !roots.isFollowedLink(e.path))
        .map((e) => (e.kind === 'dir' ? { op: 'remove', path: e.path } : { op: 'save', path: e.path, saveDir }));
      // save_dir lies in local_dir: entries below a followed link cannot be moved there
      const inFollowed = ops.filter((o) => roots.route(o.path).tree !== 0);
      for (const o of inFollowed) r.failed.push({ path: o.path, error: 'save_deletes cannot move an entry out of a followed symlinked directory' });
      for (const res of await roots.apply(ops.filter((o) => roots.route(o.path).tree === 0))) {
        if (res.ok) r.deleted++;
        else r.failed.push({ path: res.path, error: res.error ?? 'failed' });
      }
    }
    const lost = await lostSite(r, site, gotSoFar, say, log);
    if (lost) return lost; // (no update_log: the package did not run to its end)
    for (const f of r.failed) say(`failed ${f.path}: ${f.error}`);

    if (job.chown) await chownCreated(roots, plan, job.chown, r, log);

    failedOps(r);
    say(summary(r, false));
    writeUpdateLog(r, job, localDir, logLines(plan, r, saveDir, localDir, createdLocalDir));
    return r;
  } finally {
    await src?.close().catch(() => {});
    await roots.close();
  }
}

/**
 * get_file=false, mirror's upload mode: local_dir is the source and the (FTP) site the
 * destination, with mirror's rules turned around: local_ignore hides local paths,
 * exclude_patt remote ones, get_patt selects local paths, do_deletes deletes on the site
 * (the limits count the site's files), modes are set by SITE CHMOD (file_mode / dir_mode,
 * or the local modes with mode_copy). As in mirror: no symlinks are made remotely ("Cannot
 * create symlinks on remote systems"), remote times are not set, save_deletes saves
 * nothing and deletes nothing ("NEED TO implement remote save_deletes"), -T does nothing.
 */
async function runUpload(
  job: MirrorJob,
  r: PackageResult,
  source: string,
  localDir: string,
  opts: RunMirrorOptions,
  log: Logger,
  out: (line: string) => void,
): Promise<PackageResult> {
  out(`package=${r.name} ${localDir} -> ${shownSource(source, job.ftp?.port)}${opts.dryRun ? ' (dry run)' : ''}`);
  const say = out;
  if (!existsSync(localDir) || !statSync(localDir).isDirectory()) {
    return fail(r, 2, `local_dir ${localDir} does not exist: nothing to put`, say, log);
  }
  if (opts.timestampsOnly) {
    say('Cannot set remote timestamps');
    return r;
  }
  const local = new LocalTree(localDir, { writable: false, log });
  let site: Tree | undefined;
  try {
    let localEntries: Entry[];
    const localSkips: ScanSkip[] = [];
    try {
      localEntries = await local.scan({ recursive: job.recursive, onSkipped: (k) => localSkips.push(k) });
    } catch (err) {
      return fail(r, 2, `cannot scan local_dir ${localDir}: ${(err as Error).message}`, say, log);
    }
    const listed = await openAndList(job, source, !opts.dryRun, opts, log);
    site = listed.tree;
    if ('failure' in listed) return fail(r, listed.failure[0], listed.failure[1], say, log);
    const siteEntries = listed.entries;
    const to = listed.tree;
    if (job.updateLocal) applyUpdateLocal(job, localEntries, say);

    const plan = planSync(localEntries, siteEntries, withSourceSkips(r, localSkips, { ...job.plan, setTimes: false }));
    for (const l of plan.symlinks) say(`Cannot create symlinks on remote systems (${l.path} -> ${l.target ?? ''})`);
    plan.symlinks = [];
    if (job.saveDir !== undefined && plan.deletes.length > 0) {
      say('NEED TO implement remote save_deletes');
      plan.deletes = [];
    }
    for (const s of plan.skipped) say(`skipped ${s.path}: ${s.reason}`);
    if (plan.deletesRefused) {
      r.deletesRefused = plan.deletesRefused;
      say(plan.deletesRefused);
    }
    if (opts.dryRun) {
      describePlan(plan, say, undefined);
      countPlan(r, plan);
      say(summary(r, true));
      return r;
    }
    const { executePlan } = await import('../engine/executePlan.js');
    const result = await executePlan(local, to, plan, {
      log,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
    });
    countResult(r, result);
    for (const f of r.failed) say(`failed ${f.path}: ${f.error}`);
    failedOps(r);
    say(summary(r, false).replace(': got ', ': put '));
    const failed = new Set(r.failed.map((f) => f.path));
    writeUpdateLog(r, job, localDir, plan.transfers.filter((t) => !failed.has(t.path)).map((t) => `Put ${t.path} ${t.size} bytes`));
    return r;
  } finally {
    await site?.close().catch(() => {});
    await local.close().catch(() => {});
  }
}

/** user=/group= (both set): give every entry this run created or rewrote that owner. */
async function chownCreated(
  dst: Pick<Tree, 'apply'>,
  plan: SyncPlan,
  owner: { uid: number; gid: number },
  r: PackageResult,
  log: Logger,
): Promise<void> {
  const failedPaths = new Set(r.failed.map((f) => f.path));
  const ops: TreeOp[] = [...plan.mkdirs, ...plan.transfers, ...plan.symlinks]
    .filter((e) => !failedPaths.has(e.path))
    .map((e) => ({ op: 'setattr', path: e.path, uid: owner.uid, gid: owner.gid }));
  if (ops.length === 0) return;
  if (process.getuid?.() !== 0) {
    log.warn({ package: r.name }, 'user/group set but not running as root: ownership not changed');
    return;
  }
  for (const res of await dst.apply(ops)) {
    if (!res.ok) r.failed.push({ path: res.path, error: `chown: ${res.error ?? 'failed'}` });
  }
}

function describePlan(plan: SyncPlan, say: (l: string) => void, saveDir: string | undefined): void {
  for (const e of plan.replaced ?? []) say(`replace ${e.path}`);
  for (const e of plan.mkdirs) say(`mkdir ${e.path}`);
  for (const e of plan.transfers) say(`get ${e.path} (${e.size} bytes)`);
  for (const e of plan.symlinks) say(`symlink ${e.path} -> ${e.target ?? ''}`);
  for (const e of plan.setattrs) say(`setattr ${e.path}`);
  for (const e of plan.deletes) say(saveDir !== undefined ? `save ${e.path} in ${saveDir}` : `delete ${e.path}`);
}

function countPlan(r: PackageResult, plan: SyncPlan): void {
  r.dirsMade = plan.mkdirs.length;
  r.filesGot = plan.transfers.length;
  r.bytes = plan.transfers.reduce((n, e) => n + e.size, 0);
  r.symlinksMade = plan.symlinks.length;
  r.attrsSet = plan.setattrs.length;
  r.deleted = plan.deletes.length;
}

/** Add an executor's result to the package result (counts what really happened). */
function countResult(r: PackageResult, result: SyncResult): void {
  r.dirsMade += result.dirsCreated;
  r.filesGot += result.filesSent;
  r.bytes += result.bytesSent;
  r.symlinksMade += result.symlinks;
  r.attrsSet += result.attrsSet;
  r.deleted += result.deleted;
  r.failed.push(...result.failed);
}

function summary(r: PackageResult, dry: boolean): string {
  const verb = dry ? 'would get' : 'got';
  return (
    `package=${r.name}: ${verb} ${r.filesGot} file(s) (${r.bytes} bytes), ${r.dirsMade} dir(s), ` +
    `${r.symlinksMade} symlink(s), ${r.attrsSet} attribute fix(es), ${dry ? 'would delete' : 'deleted'} ${r.deleted}` +
    (r.deletesRefused ? ' (deletes refused)' : '') +
    (r.failed.length > 0 ? `, ${r.failed.length} failed` : '')
  );
}

/**
 * update_log, as mirror writes it once a package has run to its end (not after an early
 * failure, -n or -T): `mirroring PKG (SITE:REMOTE_DIR) completed successfully @ DATE`, then
 * the package's log lines. A relative name is relative to local_dir (mirror has changed into
 * it by then). DATE is mirror's time_to_standard: `%2d Mon %2d HH:MM` in GMT, its year
 * field being years since 1900 (`6 Dec 126 00:05`), kept for tools that parse these logs.
 */
function writeUpdateLog(r: PackageResult, job: MirrorJob, localDir: string, body: string[]): void {
  if (!job.updateLog) return;
  const now = new Date();
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const date = `${String(now.getUTCDate()).padStart(2)} ${months[now.getUTCMonth()]} ${String(now.getUTCFullYear() - 1900).padStart(2)} ${p2(now.getUTCHours())}:${p2(now.getUTCMinutes())}`;
  const head = `mirroring ${r.name} (${job.site}:${job.remoteDir}) completed successfully @ ${date}`;
  try {
    appendFileSync(resolve(localDir, job.updateLog), [head, ...body].map((l) => l + '\n').join(''));
  } catch (err) {
    // mirror: "Cannot append to LOG" on stdout, not fatal.
    r.warnings.push(`Cannot append to ${job.updateLog} because: ${(err as Error).message}`);
  }
}

/** mirror's log lines (the messages it flags for the update log), from what was done. */
function logLines(plan: SyncPlan, r: PackageResult, saveDir: string | undefined, localDir: string, createdLocalDir: boolean): string[] {
  const failed = new Map(r.failed.map((f) => [f.path, f.error]));
  const out: string[] = [];
  if (createdLocalDir) out.push(`Created local dir ${localDir}`);
  for (const t of plan.transfers) {
    const err = failed.get(t.path);
    out.push(err === undefined ? `Got ${t.path} ${t.size} 0` : `Failed to get ${t.path}: ${err}`);
  }
  for (const l of plan.symlinks) if (!failed.has(l.path)) out.push(`symlink ${l.target ?? ''} to ${l.path}`);
  for (const d of plan.deletes) {
    if (failed.has(d.path)) continue;
    if (saveDir !== undefined && d.kind !== 'dir') out.push(`Moved ${d.path} to ${localDir}/${saveDir}/${d.path}`);
    else out.push(`${d.kind === 'dir' ? 'rmdir' : 'unlink'} ${localDir}/${d.path}`);
  }
  return out;
}


/**
 * update_local: get_patt becomes `^NAME1|^NAME2...` for the local top-level files and
 * directories (symlinks are not counted, as mirror's scan does not), so only what already
 * exists locally is updated. With nothing local, mirror's pattern is empty and matches
 * everything; so is ours. Names are regex-escaped (mirror pasted them in raw).
 */
function applyUpdateLocal(job: MirrorJob, dstEntries: Entry[], say: (l: string) => void): void {
  if (job.getPattSet) say('Cannot mix get_patt and update_local.  get_patt ignored');
  // Names of compressed copies stand for the remote name (mirror's s/$squished//).
  const top = dstEntries.filter((e) => !e.path.includes('/') && e.kind !== 'symlink').map((e) => updateLocalName(e.path));
  if (top.length === 0) {
    delete job.plan.include;
    return;
  }
  const esc = (n: string): string => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const re = new RegExp(top.map((n) => `^${esc(n)}`).join('|'));
  job.plan.include = (p) => re.test(p);
}

/**
 * -T: transfer nothing; every file the comparison would consider that exists locally with
 * another mtime gets the remote one (mirror's set_timestamps). Nothing is made or deleted.
 */
async function setTimestamps(
  dst: Pick<Tree, 'apply'>,
  srcEntries: Entry[],
  dstEntries: Entry[],
  job: MirrorJob,
  r: PackageResult,
  say: (l: string) => void,
  dryRun: boolean,
): Promise<void> {
  const plan = planSync(srcEntries, dstEntries, { ...job.plan, force: true, delete: false, setTimes: true });
  const local = new Map(dstEntries.map((e) => [e.path, e]));
  const ops: TreeOp[] = [];
  for (const t of plan.transfers) {
    const d = local.get(t.path);
    if (!d || d.kind !== 'file' || Math.floor(d.mtimeMs / 1000) === Math.floor(t.mtimeMs / 1000)) continue;
    const when = new Date(t.mtimeMs).toISOString();
    say(dryRun ? `Should set time of ${t.path} to ${when}` : `Setting time of ${t.path} to ${when}`);
    ops.push({ op: 'setattr', path: t.path, mtimeMs: t.mtimeMs });
  }
  if (dryRun || ops.length === 0) return;
  for (const res of await dst.apply(ops)) {
    if (res.ok) r.attrsSet++;
    else r.failed.push({ path: res.path, error: `Cannot set file times: ${res.error ?? 'failed'}` });
  }
  failedOps(r);
}
