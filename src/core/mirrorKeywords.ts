// mirror 2.9's package-file keywords (pure): kind, default and what omirr does with each.
// Defaults are mirror's own %default (shared reference §1.5), so a package file written for
// mirror behaves the same here. See docs/mirror.md for the table in prose.

export type KeywordKind =
  /** mirror's istrue: exactly 1, yes, ok or true (case-sensitive); anything else is false. */
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
 * yes: implemented. ftp: only meaningful for FTP sites; accepted, warned about when set,
 * ignored. no: a mirror feature omirr does not have (compression, splitting, mail, put mode);
 * accepted, warned about when set, ignored.
 */
export type KeywordSupport = 'yes' | 'ftp' | 'no';

export interface KeywordSpec {
  kind: KeywordKind;
  default: string;
  support: KeywordSupport;
}

const k = (kind: KeywordKind, def: string, support: KeywordSupport): KeywordSpec => ({
  kind,
  default: def,
  support,
});

export const MIRROR_KEYWORDS: Readonly<Record<string, KeywordSpec>> = Object.freeze({
  // Identity and connection
  hostname: k('string', '', 'no'),
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
  update_local: k('bool', '0', 'no'),
  recursive: k('bool', '1', 'yes'),
  recurse_hard: k('bool', '0', 'ftp'),
  flags_recursive: k('string', '-lRat', 'ftp'),
  flags_nonrecursive: k('string', '-lat', 'ftp'),
  algorithm: k('int', '0', 'ftp'),
  remote_fs: k('string', 'unix', 'ftp'),
  ls_lR_file: k('string', '', 'ftp'),
  local_ls_lR_file: k('string', '', 'ftp'),
  ls_fix_mappings: k('string', '', 'ftp'),
  store_remote_listing: k('string', '', 'ftp'),
  name_mappings: k('string', '', 'no'),
  external_mapping: k('string', '', 'no'),
  follow_local_symlinks: k('regex', '', 'no'),
  make_bad_symlinks: k('bool', '0', 'yes'),
  get_symlink_files: k('bool', '0', 'no'),
  failed_gets_excl: k('regex', '', 'ftp'),
  get_file: k('bool', '1', 'no'),
  text_mode: k('bool', '0', 'ftp'),
  strip_cr: k('bool', '0', 'ftp'),
  vms_keep_versions: k('string', '1', 'ftp'),
  vms_xfer_text: k('string', 'readme$|info$|listing$|\\.c$', 'ftp'),
  local_dir_check: k('bool', '0', 'yes'),
  delete_source: k('bool', '0', 'no'),
  // Local attributes
  chmod: k('string', '1', 'no'),
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
  compress_patt: k('regex', '', 'no'),
  compress_excl: k('regex', '\\.(Z|z|gz)$', 'no'),
  compress_prog: k('string', 'compress', 'no'),
  compress_suffix: k('string', 'Z', 'no'),
  compress_size_floor: k('int', '0', 'no'),
  compress_conv_patt: k('regex', '(\\.Z|\\.taz)$', 'no'),
  compress_conv_expr: k('string', 's/\\.Z$/.gz/;s/\\.taz$/.tgz/', 'no'),
  split_max: k('string', '0', 'no'),
  split_patt: k('regex', '', 'no'),
  split_chunk: k('int', '102400', 'no'),
  // Reporting and miscellaneous
  update_log: k('string', '', 'yes'),
  mail_to: k('string', '', 'no'),
  mail_prog: k('string', '', 'no'),
  mail_subject: k('string', "-s 'mirror update'", 'no'),
  comment: k('string', '', 'yes'),
  skip: k('string', '', 'yes'),
  use_files: k('bool', '0', 'no'),
  interactive: k('bool', '0', 'no'),
  verbose: k('bool', '0', 'ftp'),
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

/** mirror's istrue: exactly `1`, `yes`, `ok` or `true` (case-sensitive). */
export function istrue(value: string | undefined): boolean {
  return value === '1' || value === 'yes' || value === 'ok' || value === 'true';
}

/** mirror's regex clean-up: runs of `||` collapse to `|`, a leading or trailing `|` goes. */
export function cleanupRegex(value: string): string {
  return value.replace(/\|\|+/g, '|').replace(/^\|/, '').replace(/\|$/, '');
}

/**
 * A Perl regex as a JS RegExp. The common syntax is the same; the Perl-only anchors
 * \A \z \Z and a leading (?i) are translated. Throws on a pattern that does not compile
 * (mirror's "Problem with regexp"). Returns undefined for an empty pattern (= not set).
 */
export function compilePerlRegex(value: string, caseInsensitive = false): RegExp | undefined {
  let src = cleanupRegex(value);
  if (src === '') return undefined;
  let flags = caseInsensitive ? 'i' : '';
  if (src.startsWith('(?i)')) {
    src = src.slice(4);
    flags = 'i';
  }
  src = src.replace(/(^|[^\\])\\A/g, '$1^').replace(/(^|[^\\])\\[zZ]/g, '$1$');
  return new RegExp(src, flags);
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
