// One mirror package's values turned into what the engine needs (pure; the little I/O it
// needs — `<file` values, user and group names — is injected): where to read from, where to
// write, the PlanOptions for planSync, and the package-level settings runMirror obeys.
import { posix } from 'node:path';
import type { Entry } from './entry.js';
import type { PlanOptions } from './plan.js';
import {
  MIRROR_KEYWORDS,
  compilePerlRegex,
  istrue,
  parseIntValue,
  parseLimitValue,
  parseModeValue,
} from './mirrorKeywords.js';
import type { MirrorPackage, PackageLoc } from './packageFile.js';

/** The default port of an omirr node (`omirr serve`), used for omirr:// sites without a port. */
export const OMIRR_DEFAULT_PORT = 7878;

export interface MirrorJob {
  name: string;
  loc: PackageLoc;
  /** Set when the package is not to run (skip=, or this host is the site without force). */
  skipReason?: string;
  /** The source for openTree: a local path, or a URL (ftp://host/dir for a bare host name; omirr://, ssh://, ftps://, http(s)://, sftp://). */
  source: string;
  localDir: string;
  /** Do not create local_dir; skip the package (exit 2) when it is missing. */
  localDirCheck: boolean;
  recursive: boolean;
  plan: PlanOptions;
  /** Where save_deletes moves deleted entries: relative to local_dir, or absolute. */
  saveDir?: string;
  /** chown for created entries (only when both user and group are set, as mirror). */
  chown?: { uid: number; gid: number };
  updateLog?: string;
  /** Seconds allowed to reach the site (mirror's per-operation timeout, applied to connecting). */
  timeoutSec: number;
  comment: string;
  /** Keywords set that omirr accepts but ignores (FTP-only or not implemented). */
  warnings: string[];
}

/** A package that cannot run because of its settings: mirror's exit code 2. */
export class PackageSettingsError extends Error {
  override name = 'PackageSettingsError';
  constructor(message: string) {
    super(message);
  }
}

export interface InterpretEnv {
  /** Now, epoch ms (max_days, force_times=false). */
  nowMs: number;
  /** The first line of a file, for `<file` values (mirror's indirect values). */
  readFirstLine?: (file: string) => string;
  /** Resolve a user or group name to its id; undefined when unknown. */
  lookupUser?: (name: string) => number | undefined;
  lookupGroup?: (name: string) => number | undefined;
  /** This host's name: a package whose site is this host is skipped unless force (mirror). */
  hostname?: string;
}

/** The keywords whose values may be `<file` indirections (all but package). */
function resolveIndirect(pkg: MirrorPackage, env: InterpretEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(pkg.values)) {
    if (key !== 'package' && value.startsWith('<') && value.length > 1) {
      if (!env.readFirstLine) throw new PackageSettingsError(`${key}: cannot read ${value}`);
      try {
        out[key] = env.readFirstLine(value.slice(1).trim());
      } catch (err) {
        throw new PackageSettingsError(`${where(pkg, key)}${key}: cannot read ${value.slice(1)}: ${(err as Error).message}`);
      }
    } else out[key] = value;
  }
  return out;
}

function where(pkg: MirrorPackage, key: string): string {
  const loc = pkg.locs[key] ?? pkg.loc;
  return `${loc.file}:${loc.line}: `;
}

/** site + remote_dir as a source spec for openTree. */
export function sourceSpec(site: string, remoteDir: string): string {
  const s = site.trim();
  const rel = remoteDir.replace(/^\/+/, '');
  // Site drivers (src/sites): remote_dir is a path below the URL's (absolute on the server).
  const url = /^(ftps?|https?|sftp):\/\/([^/]+)(\/.*)?$/i.exec(s);
  if (url) {
    const basePath = (url[3] ?? '').replace(/\/+$/, '');
    return `${url[1]!.toLowerCase()}://${url[2]}${basePath}/${rel}`;
  }
  if (/^omirr:\/\//i.test(s)) {
    const hostPort = s.slice('omirr://'.length).replace(/\/+$/, '');
    if (hostPort === '') throw new PackageSettingsError(`site=${s}: no host`);
    return `omirr://${withPort(hostPort)}/${rel}`;
  }
  if (/^ssh:\/\//i.test(s)) {
    const auth = s.slice('ssh://'.length).replace(/\/+$/, '');
    if (auth === '') throw new PackageSettingsError(`site=${s}: no host`);
    // As in any URL, the path is absolute on that host: remote_dir pub and /pub are both /pub.
    return `ssh://${auth}/${rel}`;
  }
  if (s.startsWith('/') || s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..') {
    return posix.join(s, rel === '' ? '.' : rel);
  }
  if (/^file:\/\//i.test(s)) return posix.join(s.slice('file://'.length), rel === '' ? '.' : rel);
  // A bare host, as mirror 2.9 wrote it, is an FTP site (port 21, or the one given).
  if (/^[A-Za-z0-9._-]+(:\d+)?$/.test(s)) return `ftp://${s}/${rel}`;
  throw new PackageSettingsError(
    `site=${s}: expected a host name (FTP), ftp://, ftps://, http(s)://, sftp://, omirr://host[:port], ssh://[user@]host[:port] or a local path`,
  );
}

function withPort(hostPort: string): string {
  // [v6]:port or host:port already carry a port.
  if (/:\d+$/.test(hostPort) && (!hostPort.includes(']') || /\]:\d+$/.test(hostPort))) {
    return hostPort;
  }
  return `${hostPort}:${OMIRR_DEFAULT_PORT}`;
}

function regexOf(pkg: MirrorPackage, values: Record<string, string>, key: string): RegExp | undefined {
  try {
    return compilePerlRegex(values[key] ?? '', key === 'compress_excl');
  } catch (err) {
    throw new PackageSettingsError(`${where(pkg, key)}Problem with regexp ${key}: ${(err as Error).message}`);
  }
}

function intOf(pkg: MirrorPackage, values: Record<string, string>, key: string): number {
  const n = parseIntValue(values[key] ?? '');
  if (n === undefined) throw new PackageSettingsError(`${where(pkg, key)}${key}: expected a whole number, got '${values[key]}'`);
  return n;
}

function modeOf(pkg: MirrorPackage, values: Record<string, string>, key: string): number {
  const n = parseModeValue(values[key] ?? '');
  if (n === undefined || n > 0o7777) {
    throw new PackageSettingsError(`${where(pkg, key)}${key}: expected permission bits (0644 is octal), got '${values[key]}'`);
  }
  return n;
}

function limitOf(pkg: MirrorPackage, values: Record<string, string>, key: string): number | { percent: number } {
  const l = parseLimitValue(values[key] ?? '');
  if (l === undefined) throw new PackageSettingsError(`${where(pkg, key)}${key}: expected N% or a count, got '${values[key]}'`);
  return l;
}

function idOf(
  value: string,
  lookup: ((name: string) => number | undefined) | undefined,
  what: string,
): number {
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const id = lookup?.(v);
  if (id === undefined) throw new PackageSettingsError(`${what}=${v}: unknown ${what}`);
  return id;
}

/** Interpret one package (overrides already applied). Throws PackageSettingsError (exit 2). */
export function interpretPackage(pkg: MirrorPackage, env: InterpretEnv): MirrorJob {
  const v = resolveIndirect(pkg, env);
  const warnings: string[] = [];

  // mirror's checkout_regexps: every regex keyword is test-compiled, implemented or not.
  const re: Record<string, RegExp | undefined> = {};
  for (const [key, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (spec.kind === 'regex') re[key] = regexOf(pkg, v, key);
  }
  for (const [key, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (spec.support === 'yes' || v[key] === spec.default) continue;
    warnings.push(
      spec.support === 'ftp'
        ? `${where(pkg, key)}${key} only applies to FTP sites; ignored`
        : `${where(pkg, key)}${key} is not implemented by omirr's mirror; ignored`,
    );
  }

  const name = pkg.name;
  const skip = v.skip ?? '';
  const site = v.site ?? '';
  const remoteDir = v.remote_dir ?? '';
  const localDir = v.local_dir ?? '';
  const missing = (['site', 'remote_dir', 'local_dir'] as const).filter((k) => (v[k] ?? '') === '');
  if (skip === '' && missing.length > 0) {
    throw new PackageSettingsError(`${where(pkg, 'package')}package=${name}: ${missing.join(', ')} must be set`);
  }
  const force = istrue(v.force);
  let skipReason = skip !== '' ? skip : undefined;
  if (!skipReason && !force && env.hostname && site.trim() === env.hostname) {
    skipReason = `site ${site} is this host (set force to mirror anyway)`;
  }
  const source = skipReason ? '' : sourceSpec(site, remoteDir);

  // local_ignore is ORed into exclude_patt (mirror), so both hide paths on both sides.
  const excludes = [re.exclude_patt, re.local_ignore].filter((r): r is RegExp => r !== undefined);
  const getPatt = re.get_patt;
  const deletePatt = istrue(v.delete_get_patt) ? getPatt : re.delete_patt;
  const deleteExcl = re.delete_excl;
  const modeCopy = istrue(v.mode_copy);
  const maxDays = intOf(pkg, v, 'max_days');
  const maxSize = intOf(pkg, v, 'max_size');

  const plan: PlanOptions = {
    delete: istrue(v.do_deletes),
    getNewer: istrue(v.get_newer),
    getSizeChange: istrue(v.get_size_change),
    getMissing: istrue(v.get_missing),
    force,
    setTimes: istrue(v.force_times),
    nowMs: env.nowMs,
    umask: modeOf(pkg, v, 'umask'),
    makeBadSymlinks: istrue(v.make_bad_symlinks),
    maxDeleteFiles: limitOf(pkg, v, 'max_delete_files'),
    maxDeleteDirs: limitOf(pkg, v, 'max_delete_dirs'),
  };
  if (!modeCopy) {
    plan.fileMode = modeOf(pkg, v, 'file_mode');
    plan.dirMode = modeOf(pkg, v, 'dir_mode');
  }
  if (excludes.length > 0) plan.exclude = (p) => excludes.some((r) => r.test(p));
  if (getPatt) plan.include = (p) => getPatt.test(p);
  plan.deletable = (p: string, _k: Entry['kind']) =>
    (deletePatt ? deletePatt.test(p) : true) && !(deleteExcl?.test(p) ?? false);
  if (maxDays > 0) plan.notOlderThanMs = env.nowMs - maxDays * 86_400_000;
  if (maxSize > 0) plan.maxSize = maxSize;

  let chown: MirrorJob['chown'];
  const user = (v.user ?? '').trim();
  const group = (v.group ?? '').trim();
  if (user !== '' && group !== '') {
    chown = { uid: idOf(user, env.lookupUser, 'user'), gid: idOf(group, env.lookupGroup, 'group') };
  }

  const job: MirrorJob = {
    name,
    loc: pkg.loc,
    source,
    localDir,
    localDirCheck: istrue(v.local_dir_check),
    recursive: istrue(v.recursive),
    plan,
    timeoutSec: intOf(pkg, v, 'timeout'),
    comment: v.comment ?? '',
    warnings,
  };
  if (skipReason !== undefined) job.skipReason = skipReason;
  if (istrue(v.save_deletes)) job.saveDir = v.save_dir === '' ? 'Old' : v.save_dir ?? 'Old';
  if (chown) job.chown = chown;
  if ((v.update_log ?? '') !== '') job.updateLog = v.update_log!;
  return job;
}
