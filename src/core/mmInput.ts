// mm's input language, parsed (pure). Statements are returned in order; the supervisor
// obeys them in order while "reading". See docs/mm-input.md and shared reference §2.2.
//
// Compatibility: the tests below mirror mm.pl 2.9's `parse_file` line by line, in the same
// order (comment/blank, EXIT, home, max, mirror, cmd, cmdin, skip, job), with the same
// column-0 anchoring and the same greedy job regex. Differences are listed in docs/mm-input.md.

export interface SourceLoc {
  file: string;
  line: number;
}

export interface MmDiagnostic {
  loc: SourceLoc;
  message: string;
}

/**
 * A `key=value` line whose key the caller declared as a setting (omirr.conf's extra keywords
 * such as node, listen, key, peer, tree). The value is trimmed; its meaning is the caller's.
 */
export interface MmSettingStatement {
  kind: 'setting';
  key: string;
  value: string;
  loc: SourceLoc;
}

export type MmStatement =
  | { kind: 'home'; dir: string; loc: SourceLoc }
  | { kind: 'max'; max: number; loc: SourceLoc }
  | { kind: 'mirror'; template: string; loc: SourceLoc }
  | { kind: 'cmd'; command: string; loc: SourceLoc }
  | { kind: 'cmdin'; command: string; loc: SourceLoc }
  | { kind: 'skip'; sitePackage: string; loc: SourceLoc }
  | {
      kind: 'job';
      site: string;
      pkg: string;
      okHours: number;
      notokHours: number;
      /** The line's mirror-args (may be ''). */
      args: string;
      loc: SourceLoc;
    }
  | MmSettingStatement;

export type MmJobStatement = Extract<MmStatement, { kind: 'job' }>;

export interface MmParseResult {
  statements: MmStatement[];
  /** Unparsable lines ("Cannot parse, so skipping"), each naming file:line. */
  warnings: MmDiagnostic[];
}

export interface MmParseOptions {
  /** Extra keywords accepted as `key=value` settings (omirr.conf reuses mm's language). */
  settings?: ReadonlySet<string>;
}

/** The message stem of the original for a line that is neither a statement nor a job. */
export const CANNOT_PARSE = 'Cannot parse, so skipping';

// mm.pl's regexes, column 0 anchored exactly as in the original.
const HOME_RE = /^home\s*=\s*(\S+)/;
const HOME_KEY_RE = /^home\s*=/;
const MAX_KEY_RE = /^max\s*=\s*(.*)$/s;
const MIRROR_RE = /^mirror\s*=\s*(.*)$/s;
const CMD_RE = /^cmd\s*=\s*(.*)$/s;
const CMDIN_RE = /^cmdin\s*=\s*(.*)$/s;
const SKIP_RE = /^skip\s*=\s*(.*)$/s;
/**
 * The original job regex, unchanged: both `(.+)` are greedy, so the site ends at the LAST
 * colon that still lets the rest match, and the package runs to the last place where two
 * whole numbers follow (numbers inside the mirror-args can be taken as the hours).
 * JavaScript's backtracking gives the same captures as Perl's for this pattern (the `s` flag
 * makes `.` match every character, as Perl's does within a line).
 */
export const MM_JOB_RE = /^(.+):(.+)\s+(\d+)\s+(\d+)(\s*)?(.*)?/s;
const SETTING_RE = /^([^\s=]+)\s*=\s*(.*)$/s;

/** Parse one input text (a file, stdin, or a cmdin command's output). EXIT ends it. */
export function parseMmInput(text: string, file: string, opts: MmParseOptions = {}): MmParseResult {
  const statements: MmStatement[] = [];
  const warnings: MmDiagnostic[] = [];
  // Lines end at \n; a \r before it is dropped (the original kept it, which made every
  // CRLF line's last field carry a \r). A last line without \n is read whole (the original's
  // `chop` cut its last character instead).
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const loc: SourceLoc = { file, line: i + 1 };

    // Comments only in column 0 (unlike mirror's package files); blank = whitespace only.
    if (line.startsWith('#') || /^\s*$/.test(line)) continue;
    if (line === 'EXIT') break;

    const st = parseLine(line, loc, opts, warnings);
    if (st) statements.push(st);
  }
  return { statements, warnings };
}

function parseLine(
  line: string,
  loc: SourceLoc,
  opts: MmParseOptions,
  warnings: MmDiagnostic[],
): MmStatement | undefined {
  let m: RegExpExecArray | null;

  if ((m = HOME_RE.exec(line))) return { kind: 'home', dir: m[1]!, loc };
  if (HOME_KEY_RE.test(line)) {
    warnings.push({ loc, message: `home: expected a directory, got nothing; skipping: ${line}` });
    return undefined;
  }

  if ((m = MAX_KEY_RE.exec(line))) {
    // The original takes the leading digits (`max=6abc` is 6) and would hang on max=0
    // ("Waiting for NO children"); we keep the leading digits, refuse 0, and say so.
    const raw = m[1]!.trim();
    const digits = /^\d+/.exec(raw)?.[0];
    const max = digits === undefined ? NaN : Number(digits);
    if (!Number.isSafeInteger(max) || max < 1) {
      warnings.push({ loc, message: `max: expected a positive whole number, got '${raw}'; ignored` });
      return undefined;
    }
    if (digits !== raw) {
      warnings.push({ loc, message: `max: ignoring '${raw.slice(digits!.length)}' after ${digits}` });
    }
    return { kind: 'max', max, loc };
  }

  if ((m = MIRROR_RE.exec(line))) return { kind: 'mirror', template: m[1]!.trim(), loc };
  if ((m = CMD_RE.exec(line))) return { kind: 'cmd', command: m[1]!.trim(), loc };
  if ((m = CMDIN_RE.exec(line))) return { kind: 'cmdin', command: m[1]!.trim(), loc };
  if ((m = SKIP_RE.exec(line))) return { kind: 'skip', sitePackage: m[1]!.trim(), loc };

  if (opts.settings && opts.settings.size > 0 && (m = SETTING_RE.exec(line)) && opts.settings.has(m[1]!)) {
    return { kind: 'setting', key: m[1]!, value: m[2]!.trim(), loc };
  }

  if ((m = MM_JOB_RE.exec(line))) {
    const okHours = Number(m[3]);
    const notokHours = Number(m[4]);
    if (!Number.isSafeInteger(okHours) || !Number.isSafeInteger(notokHours)) {
      warnings.push({ loc, message: `hours too large; skipping: ${line}` });
      return undefined;
    }
    return {
      kind: 'job',
      site: m[1]!,
      // REPAIR: the greedy package keeps all but one of the blanks before the hours, so
      // aligned columns (`a:b    20 20`) gave the package 'b   ' and mirror -p'b   ' found
      // nothing; trailing whitespace is never part of a package name here.
      pkg: m[2]!.trimEnd(),
      okHours,
      notokHours,
      args: (m[6] ?? '').trimEnd(),
      loc,
    };
  }

  warnings.push({ loc, message: `${CANNOT_PARSE}: ${line}` });
  return undefined;
}

/** `site:package`, the key of a job everywhere (skip list, -o, mm.status, logs). */
export function sitePackageOf(job: Pick<MmJobStatement, 'site' | 'pkg'>): string {
  return `${job.site}:${job.pkg}`;
}

/** `file:line: message`, the form every diagnostic is printed in. */
export function formatDiagnostic(d: MmDiagnostic): string {
  return `${d.loc.file}:${d.loc.line}: ${d.message}`;
}
