// The built-in mirror: runs mirror 2.9 package files with omirr's engine. For each selected
// package, in order: interpret its values, scan the local tree (local_dir) before connecting
// (as mirror does), open the site read-only, plan with planSync, execute, chown, log.
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
import type { Tree, TreeOp } from '../core/tree.js';
import { planSync, type SyncPlan } from '../core/plan.js';
import {
  applyOverrides,
  parsePackageFiles,
  type MirrorPackage,
  type PackageFileInput,
} from '../core/packageFile.js';
import { PackageSettingsError, interpretPackage, type MirrorJob } from '../core/mirrorPackage.js';
import { LocalTree } from '../engine/localTree.js';
import { executePlan, type SyncResult } from '../engine/executePlan.js';
import { isRemoteSpec, openTree } from '../engine/openTree.js';
import '../sites/register.js';
import { silentLogger, type Logger } from '../log.js';
import type { InspectionEvent } from 'xstate';
import type { OmirrMetrics } from '../inspect/omirrMetrics.js';
import { lookupGroup, lookupUser } from './systemIds.js';

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
  /** The worst exit code of the selected packages (see the header comment). */
  exitCode: MirrorExitCode;
  packages: PackageResult[];
  warnings: string[];
}

/** mirror's -p rule: a name needs at least one letter or digit. */
export function checkPackageName(name: string): void {
  if (!/[A-Za-z0-9]/.test(name)) throw new PackageSettingsError(`Invalid package name: '${name}'`);
}

export async function runMirror(opts: RunMirrorOptions): Promise<RunMirrorResult> {
  const log = opts.log ?? silentLogger;
  const out = opts.out ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  for (const p of opts.packages ?? []) checkPackageName(p);

  // Read and parse everything first: an unknown keyword anywhere stops the run before any
  // package runs (mirror, which interprets while reading, had already run the ones before).
  const inputs: PackageFileInput[] = [
    ...(opts.files ?? []).map((file) => ({ file, text: readFileSync(resolve(cwd, file), 'utf8') })),
    ...(opts.texts ?? []),
  ];
  const parsed = parsePackageFiles(inputs);
  const warnings = parsed.warnings.map((w) => `${w.loc.file}:${w.loc.line}: ${w.message}`);
  for (const w of warnings) log.warn(w);

  const selected = opts.packages && opts.packages.length > 0 ? new Set(opts.packages) : undefined;
  const results: PackageResult[] = [];
  for (const pkg of parsed.packages) {
    if (selected && !selected.has(pkg.name)) continue;
    if (opts.signal?.aborted) break;
    const r = await runPackage(pkg, opts, log, out, cwd);
    results.push(r);
  }
  if (selected) {
    for (const name of selected) {
      if (!parsed.packages.some((p) => p.name === name)) {
        const w = `package ${name}: not found in the package files`;
        warnings.push(w);
        log.warn(w);
      }
    }
  }
  const exitCode = results.reduce<MirrorExitCode>((worst, r) => (r.exitCode > worst ? r.exitCode : worst), 0);
  return { exitCode, packages: results, warnings };
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

function fail(r: PackageResult, exitCode: 1 | 2, message: string, out: (l: string) => void, log: Logger): PackageResult {
  r.status = 'failed';
  r.exitCode = exitCode;
  r.message = message;
  out(`package=${r.name}: ${message}`);
  log.error({ package: r.name, exitCode }, message);
  return r;
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
      readFirstLine: (f) => readFileSync(resolve(cwd, f), 'utf8').split('\n')[0]!.replace(/\r$/, ''),
      lookupUser,
      lookupGroup,
      hostname: hostname(),
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
  out(`package=${r.name} ${source} -> ${localDir}${opts.dryRun ? ' (dry run)' : ''}`);
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
      return finish(fail(r, 2, `save_dir ${job.saveDir} must be inside local_dir ${localDir}`, say, log), job, lines, cwd, opts);
    }
    saveDir = rel;
    const inner = job.plan.exclude;
    job.plan.exclude = (p, k) => p === rel || p.startsWith(rel + '/') || (inner?.(p, k) ?? false);
  }

  // local_dir: created when missing, unless local_dir_check (then the package is skipped
  // with status 2, as a local-directory failure).
  const exists = existsSync(localDir);
  if (exists && !statSync(localDir).isDirectory()) {
    return finish(fail(r, 2, `local_dir ${localDir} is not a directory`, say, log), job, lines, cwd, opts);
  }
  if (!exists) {
    if (job.localDirCheck) {
      return finish(fail(r, 2, `local_dir ${localDir} does not exist (local_dir_check is set)`, say, log), job, lines, cwd, opts);
    }
    if (!opts.dryRun) {
      try {
        mkdirSync(localDir, { recursive: true, mode: (job.plan.dirMode ?? 0o755) & ~(job.plan.umask ?? 0) });
      } catch (err) {
        return finish(fail(r, 2, `cannot create local_dir ${localDir}: ${(err as Error).message}`, say, log), job, lines, cwd, opts);
      }
    }
  }

  const dst = new LocalTree(localDir, { writable: !opts.dryRun, log });
  let src: Tree | undefined;
  try {
    // Scan the local tree before connecting, as mirror does.
    let dstEntries: Entry[];
    try {
      dstEntries = exists || !opts.dryRun ? await dst.scan({ recursive: job.recursive }) : [];
    } catch (err) {
      return finish(fail(r, 2, `cannot scan local_dir ${localDir}: ${(err as Error).message}`, say, log), job, lines, cwd, opts);
    }

    try {
      src = await withTimeout(
        (signal) =>
          openTree(source, { ...opts.connect, writable: false, log, signal, timeoutMs: job.timeoutSec * 1000 }),
        job.timeoutSec,
        `connecting to ${source}`,
        opts.signal,
      );
    } catch (err) {
      return finish(fail(r, 2, `cannot open ${source}: ${(err as Error).message}`, say, log), job, lines, cwd, opts);
    }

    let srcEntries: Entry[];
    try {
      srcEntries = await src.scan({ recursive: job.recursive });
    } catch (err) {
      return finish(fail(r, 1, `listing ${source} failed: ${(err as Error).message}`, say, log), job, lines, cwd, opts);
    }

    const plan = planSync(srcEntries, dstEntries, job.plan);
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
      return finish(r, job, lines, cwd, opts);
    }

    // save_deletes: the executor would rename whole directories into save_dir, which fails
    // once save_dir already holds that directory from an earlier run. We save files and
    // links one by one (their directories are made under save_dir as needed, merging with
    // earlier saves) and remove the directories they leave empty, children first.
    const saves = saveDir !== undefined ? plan.deletes : [];
    const result = await executePlan(src, dst, saveDir !== undefined ? { ...plan, deletes: [] } : plan, {
      // With force_times, directories the transfer wrote into get their source mtimes back.
      ...(job.plan.setTimes !== false ? { source: srcEntries } : {}),
      log,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.inspect ? { inspect: opts.inspect } : {}),
    });
    opts.metrics?.filesReceived.inc({ peer: src.label }, result.filesSent);
    opts.metrics?.bytesReceived.inc({ peer: src.label }, result.bytesSent);
    countResult(r, result);
    if (saveDir !== undefined && saves.length > 0) {
      const ops: TreeOp[] = saves.map((e) =>
        e.kind === 'dir' ? { op: 'remove', path: e.path } : { op: 'save', path: e.path, saveDir },
      );
      for (const res of await dst.apply(ops)) {
        if (res.ok) r.deleted++;
        else r.failed.push({ path: res.path, error: res.error ?? 'failed' });
      }
    }
    for (const f of r.failed) say(`failed ${f.path}: ${f.error}`);

    if (job.chown) await chownCreated(dst, plan, job.chown, r, log);

    if (r.failed.length > 0) {
      r.status = 'failed';
      r.exitCode = 1;
      r.message = `${r.failed.length} operation(s) failed`;
    }
    say(summary(r, false));
    return finish(r, job, lines, cwd, opts);
  } finally {
    await src?.close().catch(() => {});
    await dst.close().catch(() => {});
  }
}

async function withTimeout<T>(
  start: (signal: AbortSignal) => Promise<T>,
  seconds: number,
  what: string,
  outer?: AbortSignal,
): Promise<T> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const p = start(ac.signal);
    if (!(seconds > 0)) return await p;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`timeout after ${seconds} s ${what}`));
        reject(new Error(`timeout after ${seconds} s ${what}`));
      }, seconds * 1000);
    });
    return await Promise.race([p, t]);
  } finally {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/** user=/group= (both set): give every entry this run created or rewrote that owner. */
async function chownCreated(
  dst: Tree,
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

/** Fold the executor's result into the package result (counts what really happened). */
function countResult(r: PackageResult, result: SyncResult): void {
  r.dirsMade = result.dirsCreated;
  r.filesGot = result.filesSent;
  r.bytes = result.bytesSent;
  r.symlinksMade = result.symlinks;
  r.attrsSet = result.attrsSet;
  r.deleted = result.deleted;
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

/** update_log: a completion line, then the package's report lines (mirror's update log). */
function finish(
  r: PackageResult,
  job: MirrorJob,
  lines: string[],
  cwd: string,
  opts: RunMirrorOptions,
): PackageResult {
  if (job.updateLog && !opts.dryRun) {
    const when = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    const head = `${when} mirror package=${r.name} ${job.source} -> ${job.localDir}: ${r.status} (exit ${r.exitCode})${
      job.comment ? ` ${job.comment}` : ''
    }`;
    try {
      appendFileSync(resolve(cwd, job.updateLog), [head, ...lines.map((l) => `  ${l}`)].join('\n') + '\n');
    } catch (err) {
      r.warnings.push(`update_log ${job.updateLog}: ${(err as Error).message}`);
    }
  }
  return r;
}
