// The local name of each remote path, as mirror 2.9's compare_dirs derives it (pure):
// compression (`compress_patt`: NAME kept locally as NAME.gz / NAME.Z), compress-to-gzip
// conversion (`compress_conv_patt` + `compress_conv_expr`: NAME.Z kept as NAME.gz), and
// `name_mappings` (Perl code on the path). runMirror plans in local names: the remote
// listing is turned into a "local view" (entries at their local paths) and planSync
// compares it with the local scan, so a mapped or compressed local copy counts as the local
// copy of its remote file (kept, compared, never fetched again or deleted for its name).
import type { Entry } from './entry.js';
import { resolveLinkTarget } from './plan.js';

/** How the remote file becomes its local copy. */
export type LocalHow =
  /** fetched as it is */
  | 'copy'
  /** fetched, then compressed by compress_prog into the local name (NAME + suffix) */
  | 'compress'
  /** a remote .Z fetched, then uncompressed and gzipped into the local name (NAME.gz) */
  | 'convert';

export interface CompressSettings {
  /** compress_patt: remote files to keep compressed. */
  patt: RegExp;
  /** compress_excl (matched case-insensitively, as mirror does). */
  excl?: RegExp;
  /** compress_suffix without the dot: `gz` or `Z` (or a program's own). */
  suffix: string;
  /** compress_size_floor: only files larger than this (0: any). */
  sizeFloor: number;
}

export interface ConvertSettings {
  /** compress_conv_patt: remote .Z files kept as gzip (only when the suffix is gz). */
  patt: RegExp;
  /** compress_conv_expr: the renaming (`s/\.Z$/.gz/;s/\.taz$/.tgz/`). */
  rename: (path: string) => string;
}

export interface LocalNameOptions {
  /** name_mappings: remote path to local path (applied to every path, directories too). */
  map?: (path: string) => string;
  compress?: CompressSettings;
  convert?: ConvertSettings;
  /**
   * compress_suffix is `gz` (set with or without compress_patt): conversion and the mapping
   * of link targets only happen then, as in mirror.
   */
  gzipSuffix?: boolean;
}

export interface LocalCopy {
  /** The remote entry (its path is the remote path). */
  remote: Entry;
  how: LocalHow;
}

export interface LocalView {
  /** The remote entries at their local paths (symlink targets adjusted as mirror does). */
  entries: Entry[];
  /** Local path -> the remote entry it is the copy of. */
  copies: Map<string, LocalCopy>;
  /**
   * Remote paths not transferred, with the reason: as mirror (a compressed version exists
   * too...), or `failure` when omirr will not write where the mapping points.
   */
  skipped: Array<{ path: string; reason: string; failure?: true }>;
  /** Local paths two remote paths map to (the last in path order is used), for a warning. */
  collisions: string[];
}

/** mirror's $squished: names that are compressed already. */
const SQUISHED = /\.(Z|z|gz)$/;

/** True when no option changes any name: the view is the listing itself. */
export function namesUnchanged(opts: LocalNameOptions): boolean {
  return !opts.map && !opts.compress && !opts.convert;
}

/**
 * The local view of a remote listing. `remote` is the listing after exclude_patt and
 * max_days (what mirror's remote map holds); get_patt is still tested on the remote paths
 * by the caller (mirror tests it on the source path, not the mapped one).
 */
export function localView(remote: Entry[], opts: LocalNameOptions): LocalView {
  const byPath = new Map(remote.map((e) => [e.path, e]));
  const copies = new Map<string, LocalCopy>();
  const skipped: LocalView['skipped'] = [];
  const collisions: string[] = [];
  const entries = new Map<string, Entry>();
  const c = opts.compress;
  const conv = opts.convert;
  const gzip = opts.gzipSuffix === true || c?.suffix === 'gz';

  // mirror's will_compress: a plain file matching compress_patt, over the size floor, not
  // excluded, and not one the gzip conversion handles.
  const willCompress = (path: string, e: Entry | undefined): boolean =>
    !!c &&
    e?.kind === 'file' &&
    c.patt.test(path) &&
    (c.sizeFloor <= 0 || c.sizeFloor < e.size) &&
    !(c.excl?.test(path) ?? false) &&
    !(gzip && conv !== undefined && conv.patt.test(path));

  // A symlink's final target inside the listing (mirror follows up to 10 links).
  const realOf = (e: Entry): { path: string; entry: Entry | undefined } | undefined => {
    let cur = e;
    let path: string | undefined;
    for (let n = 0; n <= 10 && cur.kind === 'symlink'; n++) {
      path = resolveLinkTarget(cur.path, cur.target ?? '');
      if (path === undefined) return undefined;
      const next = byPath.get(path);
      if (!next) return { path, entry: undefined };
      cur = next;
    }
    return path === undefined ? undefined : { path, entry: cur };
  };

  for (const s of [...remote].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    let dest = s.path;
    let how: LocalHow = 'copy';
    let target = s.target;
    if (willCompress(s.path, s)) {
      if (!SQUISHED.test(dest)) {
        const other = byPath.has(`${s.path}.Z`) ? `${s.path}.Z` : byPath.has(`${s.path}.gz`) ? `${s.path}.gz` : undefined;
        if (other) {
          skipped.push({ path: s.path, reason: `not fetched: the site also has ${other}` });
          continue;
        }
        how = 'compress';
        dest += `.${c!.suffix}`;
      }
    } else if (s.kind === 'symlink' && c) {
      // A link to a file that is kept compressed points at the compressed copy.
      const real = realOf(s);
      if (real && willCompress(real.path, real.entry)) {
        dest += `.${c.suffix}`;
        target = `${target ?? ''}.${c.suffix}`;
        if (byPath.has(dest)) {
          skipped.push({ path: s.path, reason: `not made: the site also has ${dest}` });
          continue;
        }
      }
    }
    // compress -> gzip conversion of remote .Z files (and links named like them). mirror
    // applies it to directories too, making a directory NAME.gz beside the real one: not
    // reproduced (a directory is never renamed by compression).
    if (how === 'copy' && gzip && conv && s.kind !== 'dir' && conv.patt.test(s.path)) {
      dest = conv.rename(dest);
      if (byPath.has(dest) && dest !== s.path) {
        skipped.push({ path: s.path, reason: `not fetched: the site also has ${dest}` });
        continue;
      }
      if (s.kind === 'file') how = 'convert';
    }
    if (s.kind === 'symlink' && gzip) {
      // A link to a .Z that is converted points at the .gz. mirror maps link targets with
      // name_mappings only here, when the suffix is gz.
      const real = resolveLinkTarget(s.path, target ?? '');
      const re = real === undefined ? undefined : byPath.get(real);
      if (conv && real !== undefined && re?.kind !== 'dir' && conv.patt.test(real)) {
        dest = dest.replace(/Z$/, 'gz');
        target = (target ?? '').replace(/Z$/, 'gz');
      }
      if (opts.map && target !== undefined) target = opts.map(target);
    }
    if (s.kind === 'symlink' && gzip && conv && target !== undefined && conv.patt.test(target)) {
      // the symlink branch of mirror's transfer decision renames the target once more
      target = conv.rename(target);
    }
    if (opts.map) dest = opts.map(dest);
    // mirror would write wherever the mapping points (an absolute path, ../): omirr keeps
    // every local copy inside local_dir and reports the others.
    dest = dest.replace(/\/+/g, '/').replace(/\/+$/, '');
    if (dest === '' || dest.startsWith('/') || dest.split('/').some((seg) => seg === '..' || seg === '.')) {
      skipped.push({ path: s.path, reason: `name_mappings gives '${dest}', which is not a path inside local_dir`, failure: true });
      continue;
    }
    if (copies.has(dest)) collisions.push(dest);
    copies.set(dest, { remote: s, how });
    const e: Entry = { ...s, path: dest };
    if (target !== undefined) e.target = target;
    entries.set(dest, e);
  }

  // A mapping may move a file away from its directory's mapped name: its local parents
  // still come (mirror's transfer makes them), as directories like the remote one's.
  for (const dest of [...entries.keys()]) {
    for (let i = dest.lastIndexOf('/'); i > 0; i = dest.lastIndexOf('/', i - 1)) {
      const dir = dest.slice(0, i);
      const have = entries.get(dir);
      if (have) break;
      const remoteDir = byPath.get(copies.get(dest)!.remote.path.split('/').slice(0, -1).join('/'));
      entries.set(dir, { path: dir, kind: 'dir', size: 0, mtimeMs: remoteDir?.mtimeMs ?? 0, mode: remoteDir?.mode ?? 0o755 });
    }
  }
  return { entries: [...entries.values()], copies, skipped, collisions };
}

/**
 * update_local's top-level names, as mirror's get_patt from them: names of compressed
 * copies lose their suffix (`Packages.gz` stands for `Packages`). mirror stripped the
 * suffix from the end of the joined pattern only, i.e. from the last name; omirr from each.
 */
export function updateLocalName(name: string): string {
  return name.replace(SQUISHED, '');
}
