// mirror's package-file language (pure): statements, continuation, package boundaries and
// package=defaults, as mirror 2.9's interpret_config reads them (shared reference §1.1-1.3).
//
// - A line whose first non-blank character is `#` is a comment; blank lines are ignored.
//   A `#` after a value is part of the value (mirror has no trailing comments).
// - `key=value` sets, `key+value` appends. The key is a run of characters other than blanks,
//   `=` and `+`; blanks may precede the key and sit between key and operator.
// - The value runs to the end of the line. OUR CHOICE: blanks right after the operator are
//   dropped (`key = x` gives `x`, where mirror keeps ` x`), because mm's language and our
//   omirr.conf allow blanks around `=` and a leading blank in a path or regex is never meant;
//   the rest of the value is kept verbatim, trailing blanks included, as mirror does. A `\r`
//   before the newline (CRLF files) is dropped.
// - A value ending in `&` continues on the next line: the `&` goes, the next line's leading
//   blanks go, and it is joined on (repeatedly, up to end of input).
// - An unknown keyword is fatal, naming file:line. A line of neither form is a warning.
// - Files do not close packages: keywords at the top of a second file before its first
//   package= line belong to the last package of the previous file, as in mirror; keywords
//   before the very first package= line belong to the first package (mirror resets its
//   values only when a named package ends).
// - `package=defaults` is not a package: its values become the defaults of every later
//   package, in this file and in later files of the same run.
// - Values are raw strings here; `<file` indirection, booleans and regexes are interpreted
//   when the package runs (src/core/mirrorPackage.ts, src/mirror/runMirror.ts).
import { MIRROR_KEYWORDS, isKeyword, istrue, mirrorDefaults } from './mirrorKeywords.js';

export interface PackageLoc {
  file: string;
  line: number;
}

export interface PackageDiagnostic {
  loc: PackageLoc;
  message: string;
}

/** One package as mirror would run it: every keyword's value (defaults filled in). */
export interface MirrorPackage {
  name: string;
  /** Where its package= line is. */
  loc: PackageLoc;
  values: Record<string, string>;
  /** Where each keyword was last set for this package, or in the defaults it inherited (absent for mirror's built-in defaults). */
  locs: Record<string, PackageLoc>;
}

export interface PackageFileInput {
  file: string;
  text: string;
}

export interface ParsePackageOptions {
  /** Starting defaults (default: mirror's built-in %default). */
  defaults?: Record<string, string>;
}

export interface ParsedPackages {
  /** Every package in order, `defaults` blocks excluded (they are folded into later packages). */
  packages: MirrorPackage[];
  warnings: PackageDiagnostic[];
}

/** A fatal error in a package file; its message names file:line. */
export class PackageFileError extends Error {
  override name = 'PackageFileError';
  constructor(readonly loc: PackageLoc, readonly detail: string) {
    super(`${loc.file}:${loc.line}: ${detail}`);
  }
}

const STATEMENT_RE = /^\s*([^\s=+]+)\s*([=+])[ \t]*(.*)$/s;

/** Parse the files of one mirror invocation, in order, as one stream. */
export function parsePackageFiles(
  inputs: PackageFileInput[],
  opts: ParsePackageOptions = {},
): ParsedPackages {
  let defaults = { ...(opts.defaults ?? mirrorDefaults()) };
  const packages: MirrorPackage[] = [];
  const warnings: PackageDiagnostic[] = [];
  // mirror keeps one set of values. Before the first package= line it holds the defaults,
  // and keywords set there stay for the first package (mirror resets the values only when
  // a package= line ends a package that has a name).
  // Where each default was set (a package=defaults block, mirror.defaults), so messages about
  // an inherited value name the line that set it.
  let defaultLocs: Record<string, PackageLoc> = {};
  const fresh = (): MirrorPackage => ({ name: '', loc: { file: '', line: 0 }, values: { ...defaults }, locs: { ...defaultLocs } });
  let open = fresh();
  const named = (p: MirrorPackage): boolean => p.name !== '' && p.name !== '0'; // Perl truth

  const close = (): void => {
    if (open.name === 'defaults') {
      defaults = { ...open.values };
      const { package: _p, ...rest } = open.locs;
      defaultLocs = rest;
    }
    else packages.push(open);
  };

  for (const input of inputs) {
    const lines = input.text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; i++) {
      const loc: PackageLoc = { file: input.file, line: i + 1 };
      const line = stripCr(lines[i]!);
      if (/^\s*(#|$)/.test(line)) continue;
      const m = STATEMENT_RE.exec(line);
      if (!m) {
        warnings.push({ loc, message: `unknown input: ${line}` });
        continue;
      }
      const key = m[1]!;
      const op = m[2] as '=' | '+';
      let value = m[3]!;
      // Continuation: the & goes, the next line (leading blanks stripped) is joined on.
      while (value.endsWith('&') && i + 1 < lines.length) {
        i++;
        value = value.slice(0, -1) + stripCr(lines[i]!).replace(/^\s+/, '');
      }
      if (value.endsWith('&') && i + 1 >= lines.length) value = value.slice(0, -1);
      if (!isKeyword(key)) throw new PackageFileError(loc, `unknown keyword '${key}'`);

      if (key === 'package') {
        if (named(open)) {
          close();
          open = fresh();
        }
        open.name = value;
        open.loc = loc;
        open.values.package = value;
        open.locs.package = loc;
        continue;
      }
      open.values[key] = op === '+' ? (open.values[key] ?? '') + value : value;
      open.locs[key] = loc;
    }
  }
  if (named(open)) close();
  return { packages, warnings };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Apply `-k key=value` overrides to one package, as mirror does at the start of every
 * package (they win over the file). Unknown keys are warned about and ignored (Debian #93853).
 */
export function applyOverrides(
  pkg: MirrorPackage,
  overrides: Record<string, string> | undefined,
): { pkg: MirrorPackage; warnings: string[] } {
  if (!overrides) return { pkg, warnings: [] };
  const warnings: string[] = [];
  const values = { ...pkg.values };
  const locs = { ...pkg.locs };
  for (const [key, value] of Object.entries(overrides)) {
    if (!isKeyword(key) || key === 'package') {
      warnings.push(`-k ${key}: unknown keyword, ignored`);
      continue;
    }
    // mirror's command_line_override: a boolean becomes istrue of the raw text (1 or ''),
    // which set_variables then evaluates again.
    values[key] = MIRROR_KEYWORDS[key]!.kind === 'bool' ? (istrue(value) ? '1' : '') : value;
    locs[key] = { file: `-k${key}`, line: 0 };
  }
  return { pkg: { ...pkg, values, locs }, warnings };
}

/**
 * mirror's %command_line as its argument loop fills it: in order, a later setting of a
 * keyword winning over an earlier one, whether it came from -k (a `key=value` text) or from
 * a flag that stands for keywords (-G is get_file=true interactive=true, -P get_file=false
 * interactive=true, -f force, ...). So `-G -kget_file=false` puts, and `-kget_file=false -G`
 * gets, as in mirror.pl.
 */
export function commandLineOverrides(steps: Array<string | Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps) Object.assign(out, typeof s === 'string' ? parseOverrideArgs([s]) : s);
  return out;
}

/** Parse `-k` arguments (`key=value`) into a record; a later one wins. */
export function parseOverrideArgs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new Error(`-k expects key=value, got '${a}'`);
    out[a.slice(0, i).trim()] = a.slice(i + 1);
  }
  return out;
}
