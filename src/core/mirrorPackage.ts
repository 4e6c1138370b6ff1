// One mirror package's values turned into what the engine needs (pure; the little I/O it
// needs — `<file` values, user and group names — is injected): where to read from, where to
// write, the PlanOptions for planSync, and the package-level settings runMirror obeys.
import { posix } from 'node:path';
import type { Entry } from './entry.js';
import type { PlanOptions } from './plan.js';
import {
  MIRROR_KEYWORDS,
  cleanupRegex,
  compilePerlRegex,
  istrue,
  parseIntValue,
  parseLimitValue,
  parseModeValue,
} from './mirrorKeywords.js';
import type { MirrorPackage, PackageLoc } from './packageFile.js';
import { perlBoolean, perlSingleQuoted, perlTruthy } from './perlValue.js';
import { compilePerlSubst, PerlCodeError } from './perlSubst.js';
import { namesUnchanged, type LocalNameOptions } from './mirrorNames.js';

/** The default port of an omirr node (`omirr serve`), used for omirr:// sites without a port. */
export const OMIRR_DEFAULT_PORT = 7878;

export interface MirrorJob {
  name: string;
  loc: PackageLoc;
  /** Set when the package is not to run (skip=, or this host is the site without force). */
  skipReason?: string;
  /** site= and remote_dir= as written (for -L and the update_log line). */
  site: string;
  remoteDir: string;
  /** The source for openTree: a local path, or a URL (ftp://host/dir for a bare host name; omirr://, ssh://, ftps://, http(s)://, sftp://). */
  source: string;
  /**
   * exclude_patt (with local_ignore ORed in): remote paths to drop from the listing, each
   * path tested on its own (an excluded directory's children are tested too, as mirror's
   * recursive listing does). Applied by runMirror before planning.
   */
  remoteExclude?: (path: string) => boolean;
  /**
   * mirror's connection keywords for an FTP site (src/sites/ftp.ts FtpSiteOptions), set only
   * where the package sets them, so the URL's own user and port still count.
   */
  ftp?: Record<string, unknown>;
  /** get_file=false: mirror's upload mode, local_dir put on the (FTP or sftp) site. */
  upload?: boolean;
  /** update_local: fetch only what lies under the local top-level entries (get_patt is built from them). */
  updateLocal: boolean;
  /** get_patt was set to something other than `.` (update_local then ignores it, with mirror's message). */
  getPattSet: boolean;
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
  /** Keywords set that omirr accepts but ignores (cosmetic, or FTP-only on another site). */
  warnings: string[];
  /**
   * How remote names become local ones (name_mappings, compress_patt, compress_conv_patt);
   * absent when every local name is the remote one (src/core/mirrorNames.ts).
   */
  names?: LocalNameOptions;
  /** The shell commands that compress a fetched file (stdin to stdout), as mirror runs them. */
  compressCommand?: string;
  /** compress -> gzip conversion: uncompress a .Z and gzip it (stdin to stdout). */
  convertCommand?: string;
  /** follow_local_symlinks: local symlinks whose paths match are followed while scanning. */
  followLocal?: RegExp;
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
  /** A program's absolute path when it is on $PATH (mirror's find_prog), for compress_prog. */
  findProgram?: (name: string) => string | undefined;
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
  // Line 0: set on the command line (-kKEY, -gSITE:PATH), not in a file.
  return loc.line === 0 ? `${loc.file}: ` : `${loc.file}:${loc.line}: `;
}

/**
 * The source as the report's header shows it: an FTP site's `ftp_port` (when not 21) in its
 * URL, as the site's driver dials it (the port given apart from `site` wins over the URL's).
 */
export function shownSource(source: string, ftpPort: unknown): string {
  if (typeof ftpPort !== 'number' || ftpPort === 21) return source;
  return source.replace(/^(ftps?:\/\/(?:[^@/]*@)?(?:\[[^\]]+\]|[^:/@]+))(?::\d+)?(?=\/|$)/i, `$1:${ftpPort}`);
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

/**
 * Every value as mirror's set_variables leaves it: booleans evaluated as Perl evaluates
 * `&istrue( VALUE )` ('1' or ''), other values read as the single-quoted Perl string
 * mirror builds (regexes cleaned up first, as checkout_regexps does). A value Perl would
 * not read reliably stops the package with file:line (src/core/perlValue.ts).
 */
function evaluateValues(pkg: MirrorPackage, raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = MIRROR_KEYWORDS[key];
    if (!spec || key === 'package') {
      out[key] = value;
      continue;
    }
    const inherited = pkg.locs[key] === undefined && value === spec.default;
    if (inherited) {
      out[key] = spec.kind === 'bool' ? (istrue(value) ? '1' : '') : value;
      continue;
    }
    if (spec.kind === 'bool') {
      const b = perlBoolean(value);
      if (!b.ok) throw new PackageSettingsError(`${where(pkg, key)}${key}: ${b.error}`);
      out[key] = b.value ? '1' : '';
      continue;
    }
    const q = perlSingleQuoted(spec.kind === 'regex' ? cleanupRegex(value) : value);
    if (!q.ok) throw new PackageSettingsError(`${where(pkg, key)}${key}: ${q.error}`);
    out[key] = q.value;
  }
  return out;
}

/**
 * The safety rule: keywords omirr does not implement whose absence could delete or
 * overwrite local files. Each one set stops the package, naming where it was set.
 */
function refusals(pkg: MirrorPackage, v: Record<string, string>, siteWrites: boolean): string[] {
  const out: string[] = [];
  const refuse = (key: string, why: string): void => {
    out.push(`${where(pkg, key)}${key}=${pkg.values[key] ?? ''}: not implemented by omirr: ${why}`);
  };
  for (const [key, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (spec.support !== 'refuse') continue;
    const value = v[key] ?? '';
    const isSet =
      spec.kind === 'bool'
        ? (value === '1') !== istrue(spec.default)
        : key === 'algorithm'
          ? Number(value.trim()) === 1 // mirror only tests algorithm == 1
          : key === 'compress_patt'
            ? value !== '' && (v.compress_prog ?? '') !== '' // mirror drops compress_patt without a compress_prog
            : value !== '';
    if (isSet) refuse(key, spec.note ?? 'see docs/mirror.md');
  }
  if (!istrue(v.get_file) && !siteWrites) refuse('get_file', MIRROR_KEYWORDS.get_file!.note!);
  if (!istrue(v.get_file)) {
    // Upload mode puts local files under names mirror would map or compress on the way:
    // not implemented, and the site's copies would be overwritten under other names.
    for (const key of ['name_mappings', 'follow_local_symlinks'] as const) {
      if ((v[key] ?? '') !== '') refuse(key, `${key} in upload mode (get_file=false) is not implemented; the site's copies would be written under other names`);
    }
    if ((v.compress_patt ?? '') !== '') refuse('compress_patt', 'compress_patt in upload mode (get_file=false) is not implemented; the site would get plain copies where mirror put compressed ones');
  }
  const fs = (v.remote_fs ?? 'unix').trim();
  if (!(fs in LISTING_FORMATS)) {
    refuse('remote_fs', `omirr parses Unix (ls -l) and DOS listings only (remote_fs=unix, dls, dosftp, dosish); paths read from a ${fs} listing would differ and the local copies would be deleted`);
  }
  // Settings that only act together.
  if (toBytes(v.split_max ?? '0') > 0 && (v.split_patt ?? '') !== '') {
    refuse('split_patt', 'large files matching it are kept locally split into NAME-split/partNN; without it the parts would be deleted');
  }
  return out;
}

/** mirror's to_bytes: N, Nk, Nb (512-byte blocks), Nm; anything else is Perl's number prefix. */
function toBytes(value: string): number {
  const m = /^(\d+)\s*([kbm])s*$/i.exec(value);
  if (m) return Number(m[1]) * ({ k: 1024, b: 512, m: 1024 * 1024 }[m[2]!.toLowerCase() as 'k' | 'b' | 'm']);
  const n = /^\s*(\d+)/.exec(value);
  return n ? Number(n[1]) : 0;
}

/** FTP sites get the connection keywords; anything else warns that they are ignored. */
function isFtpSource(source: string): boolean {
  return /^ftps?:\/\//i.test(source);
}

/** Sites whose drivers write (upload mode, get_file=false): FTP and sftp. */
function siteWrites(source: string): boolean {
  return isFtpSource(source) || /^sftp:\/\//i.test(source);
}

/** Every value of a package as mirror uses it (indirections read, Perl evaluation done). */
export function evaluatedValues(pkg: MirrorPackage, env: InterpretEnv): Record<string, string> {
  return evaluateValues(pkg, resolveIndirect(pkg, env));
}

/** The FTP keywords ftpOptions hands to the driver; the other 'ftp' keywords are warned about. */
const FTP_DRIVER_KEYWORDS = new Set(
  'remote_user remote_password remote_account ftp_port passive_ftp timeout remote_fs recurse_hard flags_recursive ls_lR_file local_ls_lR_file use_timelocal'.split(' '),
);

/** remote_fs values whose listings the FTP driver parses (Unix ls -l, DOS dir). */
const LISTING_FORMATS: Record<string, 'auto' | 'dos'> = { unix: 'auto', dls: 'auto', dosftp: 'dos', dosish: 'dos' };

function ftpOptions(pkg: MirrorPackage, v: Record<string, string>, env: InterpretEnv): Record<string, unknown> {
  const set = (k: string): boolean => pkg.locs[k] !== undefined;
  const o: Record<string, unknown> = { user: v.remote_user || 'anonymous', timeoutSec: intOf(pkg, v, 'timeout') };
  if ((v.remote_password ?? '') !== '') o.password = v.remote_password;
  if ((v.remote_account ?? '') !== '') o.account = v.remote_account;
  if (set('ftp_port')) o.port = intOf(pkg, v, 'ftp_port');
  if (set('passive_ftp')) o.passive = istrue(v.passive_ftp);
  o.remoteFs = LISTING_FORMATS[(v.remote_fs ?? 'unix').trim()] ?? 'auto';
  if (istrue(v.recurse_hard)) o.listing = 'walk';
  if (set('flags_recursive')) o.listFlags = v.flags_recursive;
  if ((v.ls_lR_file ?? '') !== '') o.lsLRFile = v.ls_lR_file;
  if ((v.local_ls_lR_file ?? '') !== '') o.localLsLR = v.local_ls_lR_file;
  // use_timelocal (default on): listing times are this host's local time, as mirror read them.
  o.tzOffsetMin = istrue(v.use_timelocal) ? -new Date(env.nowMs).getTimezoneOffset() : 0;
  return o;
}

/** Is `a` set after `b` for this package (a later line of the same file, or b came from another file such as mirror.defaults)? */
function setAfter(pkg: MirrorPackage, a: string, b: string): boolean {
  const la = pkg.locs[a];
  const lb = pkg.locs[b];
  if (!la) return false;
  if (!lb) return true;
  if (la.line === 0) return true; // -k overrides win
  if (la.file === lb.file) return la.line > lb.line;
  return la.file === pkg.loc.file; // the package's own file comes after mirror.defaults
}

/**
 * name_mappings, compress_patt and compress_conv_patt as mirror's set_variables and
 * compare_dirs use them: the Perl code read (src/core/perlSubst.ts), the compress program
 * found as mirror's find_prog finds it. A program that is not installed, or Perl code omirr
 * does not run, stops the package with file:line (the safety rule: the local copies made
 * with it would otherwise be fetched again under other names and deleted).
 */
function localNames(
  pkg: MirrorPackage,
  v: Record<string, string>,
  re: Record<string, RegExp | undefined>,
  env: InterpretEnv,
  warnings: string[],
): Pick<MirrorJob, 'names' | 'compressCommand' | 'convertCommand'> {
  const perl = (key: string): ((p: string) => string) => {
    try {
      return compilePerlSubst(v[key] ?? '');
    } catch (err) {
      if (err instanceof PerlCodeError) {
        throw new PackageSettingsError(`${where(pkg, key)}${key}=${pkg.values[key] ?? ''}: ${err.message}\npackage=${pkg.name} not run; nothing was touched`);
      }
      throw err;
    }
  };
  const find = (name: string): string | undefined => env.findProgram?.(name);
  const prog = v.compress_prog ?? '';
  // compress_prog=compress / gzip name the program and set the suffix (gzip at -9), unless
  // compress_suffix is set after it ("can be reset ... by setting it after compress_prog").
  let command: string | undefined;
  let suffix = v.compress_suffix ?? 'Z';
  let missing: string | undefined;
  if (prog === 'compress') {
    const path = find('compress');
    if (path) command = path;
    else missing = "compress_prog=compress: the compress program (.Z) is not installed on this host (mirror's find_prog found none), so the local .Z copies cannot be made; install ncompress, or use compress_prog=gzip";
    if (!setAfter(pkg, 'compress_suffix', 'compress_prog')) suffix = 'Z';
  } else if (prog === 'gzip') {
    const path = find('gzip');
    if (path) command = `${path} -9`;
    else missing = 'compress_prog=gzip: gzip is not on $PATH (mirror: "Trying to use gzip but not found in PATH")';
    if (!setAfter(pkg, 'compress_suffix', 'compress_prog')) suffix = 'gz';
  } else if (prog.trim() !== '') {
    // Any other program: run as mirror ran it (`PROG < file > file.SUFFIX`), if it exists.
    const first = prog.trim().split(/\s+/)[0]!;
    if (find(first)) command = prog;
    else missing = `compress_prog=${prog}: ${first} is not an executable program on this host`;
  }
  const names: LocalNameOptions = {};
  if (suffix === 'gz') names.gzipSuffix = true;
  if ((v.name_mappings ?? '') !== '') names.map = perl('name_mappings');
  if (re.compress_patt) {
    if (prog.trim() === '') {
      warnings.push(`${where(pkg, 'compress_prog')}compress_patt set but no compress_prog so compress_patt reset to nothing`);
    } else if (missing) {
      // Named where it was set: compress_prog, or compress_patt when the default program is missing.
      const at = pkg.locs.compress_prog ? where(pkg, 'compress_prog') : `${where(pkg, 'compress_patt')}compress_patt=${pkg.values.compress_patt}: `;
      throw new PackageSettingsError(`${at}${missing}\npackage=${pkg.name} not run; nothing was touched`);
    } else {
      names.compress = {
        patt: re.compress_patt,
        ...(re.compress_excl ? { excl: re.compress_excl } : {}),
        suffix,
        sizeFloor: intOf(pkg, v, 'compress_size_floor'),
      };
    }
  }
  if (suffix === 'gz' && re.compress_conv_patt) {
    const gzip = find('gzip');
    if (!gzip) {
      throw new PackageSettingsError(`${where(pkg, 'compress_conv_patt')}compress_conv_patt: gzip is not on $PATH to turn remote .Z files into the local .gz copies (set compress_conv_patt= to turn it off)\npackage=${pkg.name} not run; nothing was touched`);
    }
    names.convert = { patt: re.compress_conv_patt, rename: perl('compress_conv_expr') };
    // gzip -d reads compress's .Z (LZW) as well: mirror ran `compress -d | gzip -9`.
    const out: Pick<MirrorJob, 'names' | 'compressCommand' | 'convertCommand'> = { names, convertCommand: `${gzip} -dc | ${gzip} -9` };
    if (command && names.compress) out.compressCommand = command;
    return out;
  }
  const out: Pick<MirrorJob, 'names' | 'compressCommand' | 'convertCommand'> = {};
  if (!namesUnchanged(names)) out.names = names;
  if (command && names.compress) out.compressCommand = command;
  return out;
}

/** Interpret one package (overrides already applied). Throws PackageSettingsError (exit 2). */
export function interpretPackage(pkg: MirrorPackage, env: InterpretEnv): MirrorJob {
  const v = evaluateValues(pkg, resolveIndirect(pkg, env));
  const warnings: string[] = [];

  // mirror's checkout_regexps: every regex keyword is test-compiled, implemented or not.
  const re: Record<string, RegExp | undefined> = {};
  for (const [key, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (spec.kind === 'regex') re[key] = regexOf(pkg, v, key);
  }

  const name = pkg.name;
  const skip = v.skip ?? '';
  const site = v.site ?? '';
  const remoteDir = v.remote_dir ?? '';
  const localDir = v.local_dir ?? '';
  const missing = (['site', 'remote_dir', 'local_dir'] as const).filter((k) => (v[k] ?? '') === '');
  if (missing.length > 0) {
    throw new PackageSettingsError(`${where(pkg, 'package')}package=${name}: ${missing.join(', ')} must be set (Insufficient details for package to be fetched)`);
  }
  const force = istrue(v.force);
  // hostname= replaces the local host's name for this test (set_variables assigns it).
  const thisHost = (v.hostname ?? '').trim() !== '' ? v.hostname!.trim() : env.hostname;
  let skipReason = skip !== '' ? skip : undefined;
  if (!skipReason && !force && thisHost && site.trim() === thisHost) {
    skipReason = `site ${site} is this host (set force to mirror anyway)`;
  }
  if (!skipReason) {
    // Upload mode (get_file=false) is implemented for FTP and sftp sites, whose drivers write.
    const refused = refusals(pkg, v, siteWrites(sourceSpec(site, remoteDir)));
    if (refused.length > 0) {
      throw new PackageSettingsError(`${refused.join('\n')}\npackage=${name} not run; nothing was touched`);
    }
  }
  const source = skipReason ? '' : sourceSpec(site, remoteDir);
  for (const [key, spec] of Object.entries(MIRROR_KEYWORDS)) {
    if (pkg.locs[key] === undefined) continue;
    const dflt = spec.kind === 'bool' ? (istrue(spec.default) ? '1' : '') : spec.default;
    if (v[key] === dflt) continue;
    if (spec.support === 'cosmetic') warnings.push(`${where(pkg, key)}${key} is not implemented by omirr's mirror; ignored (it changes no local file)`);
    else if (spec.support === 'ftp' && !skipReason) {
      if (!isFtpSource(source)) warnings.push(`${where(pkg, key)}${key} only applies to FTP sites; ignored`);
      else if (!FTP_DRIVER_KEYWORDS.has(key)) warnings.push(`${where(pkg, key)}${key} is not implemented by omirr's FTP driver; ignored (it changes no local file)`);
    }
  }

  // exclude_patt (with local_ignore ORed in, as mirror does) filters the remote listing,
  // path by path; local_ignore alone hides local paths (mirror's local scan skips them and
  // does not descend), so a local file matching only exclude_patt is not kept and is
  // reclaimed by do_deletes, as in mirror.
  const remoteExcludes = [re.exclude_patt, re.local_ignore].filter((r): r is RegExp => r !== undefined);
  const localIgnore = re.local_ignore;
  const getPatt = re.get_patt;
  const deletePatt = istrue(v.delete_get_patt) ? getPatt : re.delete_patt;
  const deleteExcl = re.delete_excl;
  const chmod = perlTruthy(v.chmod ?? '1');
  const modeCopy = istrue(v.mode_copy) && chmod;
  const maxDays = intOf(pkg, v, 'max_days');
  const maxSize = intOf(pkg, v, 'max_size');

  const plan: PlanOptions = {
    // save_deletes moves entries aside even without do_deletes (mirror: do_deletes || save_deletes).
    delete: istrue(v.do_deletes) || istrue(v.save_deletes),
    getNewer: istrue(v.get_newer),
    getSizeChange: istrue(v.get_size_change),
    listingPrecision: true,
    getMissing: istrue(v.get_missing),
    force,
    setTimes: istrue(v.force_times),
    nowMs: env.nowMs,
    umask: modeOf(pkg, v, 'umask'),
    makeBadSymlinks: istrue(v.make_bad_symlinks),
    maxDeleteFiles: limitOf(pkg, v, 'max_delete_files'),
    maxDeleteDirs: limitOf(pkg, v, 'max_delete_dirs'),
  };
  // mirror chmods only what it makes or fetches.
  plan.fixModes = false;
  if (!chmod) {
    // chmod false: no chmod after a transfer; files keep the mode they were created with.
    plan.fileMode = 0o666;
    plan.dirMode = 0o755;
  } else {
    if (!modeCopy) plan.fileMode = modeOf(pkg, v, 'file_mode');
    // Directories get dir_mode even with mode_copy: mirror's recursive listing parse skips
    // the directory lines (it learns directories from the `dir:` headers, without modes).
    plan.dirMode = modeOf(pkg, v, 'dir_mode');
  }
  if (localIgnore) plan.exclude = (p) => localIgnore.test(p);
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
    site,
    remoteDir,
    source,
    localDir,
    localDirCheck: istrue(v.local_dir_check),
    recursive: istrue(v.recursive),
    plan,
    timeoutSec: intOf(pkg, v, 'timeout'),
    comment: v.comment ?? '',
    warnings,
    updateLocal: istrue(v.update_local),
    getPattSet: (v.get_patt ?? '') !== '.' && (v.get_patt ?? '') !== '',
  };
  if (isFtpSource(source)) job.ftp = ftpOptions(pkg, v, env);
  if (!istrue(v.get_file)) job.upload = true;
  if (remoteExcludes.length > 0) job.remoteExclude = (p) => remoteExcludes.some((r) => r.test(p));
  if (skipReason !== undefined) job.skipReason = skipReason;
  if (istrue(v.save_deletes)) job.saveDir = v.save_dir === '' ? 'Old' : v.save_dir ?? 'Old';
  if (chown) job.chown = chown;
  if ((v.update_log ?? '') !== '') job.updateLog = v.update_log!;
  if (skipReason === undefined) Object.assign(job, localNames(pkg, v, re, env, warnings));
  if (job.upload && job.names?.convert) {
    throw new PackageSettingsError(`${where(pkg, 'compress_conv_patt')}compress_conv_patt: not implemented by omirr in upload mode (get_file=false): the site's .Z files would be compared with local .gz names (set compress_conv_patt= to turn it off)\npackage=${name} not run; nothing was touched`);
  }
  if (re.follow_local_symlinks) job.followLocal = re.follow_local_symlinks;
  return job;
}
