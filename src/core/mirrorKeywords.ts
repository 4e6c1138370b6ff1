// mirror 2.9's package-file keywords (pure): kind, default and what omirr does with each.
// Defaults are mirror's own %default (shared reference §1.5), so a package file written for
// mirror behaves the same here. See docs/mirror.md for the table in prose.
import { perlRegex } from './perlRegex.js';

export { istrue } from './perlValue.js';

export type KeywordKind =
  /** Evaluated by Perl as `&istrue( VALUE )` (src/core/perlValue.ts): `true `, `'yes'` are true. */
  | 'bool'
  /** A Perl regex, cleaned up (|| collapsed, outer | stripped) and test-compiled before a package runs. */
  | 'regex'
  /** A whole number. */
  | 'int'
  /** Permission bits: octal when written with a leading 0 (as Perl's oct), decimal otherwise. */
  | 'mode'
  /** `N%` of the destination's count, or a plain count (max_delete_files / max_delete_dirs). */
  | 'limit'
  | 'string';

/**
 * What omirr does with a keyword (docs/mirror.md lists each):
 * - yes: implemented as mirror 2.9 did;
 * - ftp: a connection or listing setting for FTP sites, handed to the site driver; for
 *   other sites a warning when set;
 * - refuse: not implemented, and its absence could delete or overwrite local files: a
 *   package that sets it stops with file:line before anything is touched (exit 2);
 * - cosmetic: not implemented, and its absence changes no local file (mail, logs, dbm
 *   files, settings that only matter with a refused keyword): a warning when set, ignored.
 */
export type KeywordSupport = 'yes' | 'ftp' | 'refuse' | 'cosmetic';

export interface KeywordSpec {
  kind: KeywordKind;
  default: string;
  support: KeywordSupport;
  /** For `refuse`: what mirror would have done, shown in the refusal. */
  note?: string;
}

const k = (kind: KeywordKind, def: string, support: KeywordSupport, note?: string): KeywordSpec =>
  note === undefined ? { kind, default: def, support } : { kind, default: def, support, note };

export const MIRROR_KEYWORDS: Readonly<Record<string, KeywordSpec>> = Object.freeze({
  // Identity and connection
  hostname: k('string', '', 'yes'),
  package: k('string', '', 'yes'),
  site: k('string', '', 'yes'),
  remote_dir: k('string', '', 'yes'),
  local_dir: k('string', '', 'yes'),
  remote_user: k('string', 'anonymous', 'ftp'),
  remote_password: k('string', '', 'ftp'),
  remote_account: k('string', '', 'ftp'),
  remote_group: k('string', '', 'ftp'),
  remote_gpass: k('string', '', 'ftp'),
  timeout: k('int', '120', 'yes'),
  ftp_port: k('int', '21', 'ftp'),
  proxy: k('bool', '0', 'ftp'),
  proxy_ftp_port: k('int', '4514', 'ftp'),
  proxy_gateway: k('string', '', 'ftp'),
  using_socks: k('bool', '0', 'ftp'),
  passive_ftp: k('bool', '0', 'ftp'),
  retry_call: k('bool', '1', 'ftp'),
  disconnect: k('bool', '0', 'ftp'),
  remote_idle: k('string', '', 'ftp'),
  // What to fetch and compare
  get_patt: k('regex', '.', 'yes'),
  exclude_patt: k('regex', '', 'yes'),
  local_ignore: k('regex', '', 'yes'),
  get_newer: k('bool', '1', 'yes'),
  get_size_change: k('bool', '1', 'yes'),
  get_missing: k('bool', '1', 'yes'),
  max_days: k('int', '0', 'yes'),
  max_size: k('int', '0', 'yes'),
  force: k('bool', '0', 'yes'),
  update_local: k('bool', '0', 'yes'),
  recursive: k('bool', '1', 'yes'),
  recurse_hard: k('bool', '0', 'ftp'),
  flags_recursive: k('string', '-lRat', 'ftp'),
  flags_nonrecursive: k('string', '-lat', 'ftp'),
  algorithm: k('int', '0', 'refuse', 'algorithm=1 mirrors directory by directory (no recursive listing, bad symlinks made, deletes judged per directory)'),
  remote_fs: k('string', 'unix', 'ftp'),
  ls_lR_file: k('string', '', 'ftp'),
  local_ls_lR_file: k('string', '', 'ftp'),
  ls_fix_mappings: k('string', '', 'refuse', 'ls_fix_mappings runs Perl code on every listed path; without it the local copies would not be kept and would be deleted'),
  store_remote_listing: k('string', '', 'cosmetic'),
  name_mappings: k('string', '', 'yes'),
  external_mapping: k('string', '', 'refuse', 'external_mapping loads Perl code that renames remote paths to local ones'),
  follow_local_symlinks: k('regex', '', 'yes'),
  make_bad_symlinks: k('bool', '0', 'yes'),
  get_symlink_files: k('bool', '0', 'cosmetic'),
  failed_gets_excl: k('regex', '', 'cosmetic'),
  get_file: k('bool', '1', 'yes', 'get_file=false is upload mode (local files put on the site), implemented for FTP and sftp sites only; elsewhere omirr would download over the files meant for upload'),
  text_mode: k('bool', '0', 'refuse', 'text_mode makes ASCII transfers that rewrite line ends; binary copies would differ and overwrite the local files'),
  strip_cr: k('bool', '0', 'refuse', 'strip_cr deletes carriage returns from fetched files; unstripped copies would overwrite the local files'),
  vms_keep_versions: k('string', '1', 'cosmetic'),
  vms_xfer_text: k('string', 'readme$|info$|listing$|\\.c$', 'cosmetic'),
  local_dir_check: k('bool', '0', 'yes'),
  delete_source: k('bool', '0', 'refuse', 'delete_source deletes each remote file once fetched'),
  // Local attributes
  chmod: k('string', '1', 'yes'),
  mode_copy: k('bool', '0', 'yes'),
  file_mode: k('mode', '0444', 'yes'),
  dir_mode: k('mode', '0755', 'yes'),
  user: k('string', '', 'yes'),
  group: k('string', '', 'yes'),
  umask: k('mode', '07000', 'yes'),
  force_times: k('bool', '1', 'yes'),
  use_timelocal: k('bool', '1', 'ftp'),
  // Deletion
  do_deletes: k('bool', '0', 'yes'),
  delete_patt: k('regex', '.', 'yes'),
  delete_get_patt: k('bool', '0', 'yes'),
  delete_excl: k('regex', '', 'yes'),
  max_delete_files: k('limit', '10%', 'yes'),
  max_delete_dirs: k('limit', '10%', 'yes'),
  save_deletes: k('bool', '0', 'yes'),
  save_dir: k('string', 'Old', 'yes'),
  // Compression and splitting of local copies
  compress_patt: k('regex', '', 'yes'),
  compress_excl: k('regex', '\\.(Z|z|gz)$', 'yes'),
  compress_prog: k('string', 'compress', 'yes'),
  compress_suffix: k('string', 'Z', 'yes'),
  compress_size_floor: k('int', '0', 'yes'),
  compress_conv_patt: k('regex', '(\\.Z|\\.taz)$', 'yes'),
  compress_conv_expr: k('string', 's/\\.Z$/.gz/;s/\\.taz$/.tgz/', 'yes'),
  split_max: k('string', '0', 'cosmetic'),
  split_patt: k('regex', '', 'cosmetic'),
  split_chunk: k('int', '102400', 'cosmetic'),
  // Reporting and miscellaneous
  update_log: k('string', '', 'yes'),
  mail_to: k('string', '', 'cosmetic'),
  mail_prog: k('string', '', 'cosmetic'),
  mail_subject: k('string', "-s 'mirror update'", 'cosmetic'),
  comment: k('string', '', 'yes'),
  skip: k('string', '', 'yes'),
  use_files: k('bool', '0', 'cosmetic'),
  interactive: k('bool', '0', 'refuse', 'interactive mode takes its directories from the command line: give -G / -P (or -kinteractive=true) there, not interactive= in a package file'),
  verbose: k('bool', '0', 'cosmetic'),
});

export function isKeyword(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(MIRROR_KEYWORDS, name);
}

/** mirror's built-in defaults, the values every package starts from. */
export function mirrorDefaults(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(MIRROR_KEYWORDS)) out[name] = spec.default;
  return out;
}

/** mirror's regex clean-up: runs of `||` collapse to `|`, a leading or trailing `|` goes. */
export function cleanupRegex(value: string): string {
  return value.replace(/\|\|+/g, '|').replace(/^\|/, '').replace(/\|$/, '');
}

/**
 * A Perl regex (cleaned up as mirror does) as a JS RegExp, translated by perlRegex.
 * Throws on a pattern that does not compile or cannot be translated faithfully (mirror's
 * "Problem with regexp"). Returns undefined for an empty pattern (= not set).
 */
export function compilePerlRegex(value: string, caseInsensitive = false): RegExp | undefined {
  const src = cleanupRegex(value);
  if (src === '') return undefined;
  return perlRegex(src, caseInsensitive);
}

/** Parse a `mode` value as mirror does: Perl's oct() when it starts with 0, else decimal. */
export function parseModeValue(value: string): number | undefined {
  const v = value.trim();
  if (/^0[0-7]*$/.test(v)) return parseInt(v, 8);
  if (/^\d+$/.test(v)) return parseInt(v, 10);
  return undefined;
}

/** Parse a whole number (leading/trailing blanks allowed). */
export function parseIntValue(value: string): number | undefined {
  const v = value.trim();
  return /^\d+$/.test(v) ? Number(v) : undefined;
}

/** `N%` or a count; undefined when neither. A percentage outside 1..100 is returned as is. */
export function parseLimitValue(value: string): number | { percent: number } | undefined {
  const v = value.trim();
  let m: RegExpExecArray | null;
  if ((m = /^(\d+)%$/.exec(v))) return { percent: Number(m[1]) };
  if (/^\d+$/.test(v)) return Number(v);
  return undefined;
}
