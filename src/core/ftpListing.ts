// FTP directory listings as Entries (pure). Servers answer LIST in the format of their
// system's `ls -l` (Unix) or of the DOS/IIS `dir` (DOS); MLSD (RFC 3659) where offered;
// and mirror's recursive `ls -lR` form (a section per directory, headed `dir:`), which is
// also the form of an ls-lR file.
//
// A listing's times are coarse: `Dec  5 12:34` is to the minute (and has no year: the
// latest year that does not put it more than a day ahead of now, as ls shows dates within
// the last six months), `Dec  5  2019` to the day, DOS to the minute, MLSD to the second.
// Listings give times in UTC (vsftpd's default; RFC 3659 for MLSD); `tzOffsetMin` shifts
// LIST times of servers that list local time. Each entry says its precision in
// `mtimePrecisionMs`, so a comparison can treat times within it as equal.
import type { Entry } from './entry.js';

export type ListingFormat = 'unix' | 'dos' | 'mlsd';

export interface ListedEntry extends Entry {
  /** How precise mtimeMs is (60 000 for `hh:mm`, 86 400 000 for a date with a year). */
  mtimePrecisionMs: number;
}

export interface ListingOptions {
  /** Now, epoch ms: places the year of `Mon dd hh:mm` dates. */
  nowMs: number;
  /** Minutes east of UTC of the times in LIST output (not MLSD, which is UTC). */
  tzOffsetMin?: number;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

// type, 9 permission letters, an optional ACL/xattr mark, then (lazily) links, owner and group,
// then size, the date and the name. Owner or group may be missing, or numeric.
const UNIX_LINE =
  /^([-dlbcpsD])([-r][-w][-xsStTlL][-r][-w][-xsStTlL][-r][-w][-xsStTtT])[+@.]?\s+(?:(.*?)\s+)?(\d+)\s+(?:([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})|(\d{4})-(\d{2})-(\d{2})\s+(\d{2}):(\d{2}))\s(.*)$/;

/** Permission bits of an `ls -l` mode string's 9 letters (setuid, setgid and sticky included). */
export function parseUnixMode(perm: string): number {
  let mode = 0;
  const bit = (i: number, v: number): void => {
    if (perm[i] !== '-') mode |= v;
  };
  bit(0, 0o400);
  bit(1, 0o200);
  bit(3, 0o040);
  bit(4, 0o020);
  bit(6, 0o004);
  bit(7, 0o002);
  const exec = (c: string, x: number, special: number, plainSpecial: string, xSpecial: string): void => {
    if (c === 'x') mode |= x;
    else if (c === xSpecial) mode |= x | special;
    else if (c === plainSpecial) mode |= special;
  };
  exec(perm[2]!, 0o100, 0o4000, 'S', 's');
  exec(perm[5]!, 0o010, 0o2000, 'S', 's');
  if (perm[5] === 'l' || perm[5] === 'L') mode |= 0o2000; // mandatory locking: setgid without x
  exec(perm[8]!, 0o001, 0o1000, 'T', 't');
  return mode;
}

/** parseUnixMode of each permission string seen (a listing has few). */
const modeCache = new Map<string, number>();

function cachedUnixMode(perm: string): number {
  let mode = modeCache.get(perm);
  if (mode === undefined) {
    mode = parseUnixMode(perm);
    if (modeCache.size < 4096) modeCache.set(perm, mode);
  }
  return mode;
}

/** The mtime and precision of an `ls -l` date: `Mon dd hh:mm` (year placed by now) or `Mon dd yyyy`. */
export function parseUnixDate(mon: string, day: string, timeOrYear: string, o: ListingOptions): { ms: number; precision: number } | undefined {
  const m = MONTHS[mon.toLowerCase()];
  const d = Number(day);
  if (m === undefined || !(d >= 1 && d <= 31)) return undefined;
  const shift = (o.tzOffsetMin ?? 0) * MINUTE_MS;
  if (timeOrYear.includes(':')) {
    const [hh, mm] = timeOrYear.split(':').map(Number) as [number, number];
    if (hh > 23 || mm > 59) return undefined;
    // ls shows hh:mm for the last six months: the latest year not more than a day ahead of now
    let year = new Date(o.nowMs).getUTCFullYear() + 1;
    let ms = Date.UTC(year, m, d, hh, mm) - shift;
    while (ms > o.nowMs + DAY_MS) ms = Date.UTC(--year, m, d, hh, mm) - shift;
    return { ms, precision: MINUTE_MS };
  }
  return { ms: Date.UTC(Number(timeOrYear), m, d) - shift, precision: DAY_MS };
}

/**
 * parseUnixDate, remembered per listing options: a tree's files share few dates (a release
 * is written within minutes), and placing the year (Date objects, Date.UTC) for each of
 * 20,000 lines was the largest part of parsing a listing.
 */
const dateCache = new WeakMap<ListingOptions, Map<string, { ms: number; precision: number } | undefined>>();
const DATE_CACHE_MAX = 4096;

function cachedUnixDate(mon: string, day: string, timeOrYear: string, o: ListingOptions): { ms: number; precision: number } | undefined {
  let c = dateCache.get(o);
  if (!c) dateCache.set(o, (c = new Map()));
  const key = `${mon} ${day} ${timeOrYear}`;
  let d = c.get(key);
  if (d === undefined && !c.has(key)) {
    d = parseUnixDate(mon, day, timeOrYear, o);
    if (c.size >= DATE_CACHE_MAX) c.clear();
    c.set(key, d);
  }
  return d;
}

export interface UnixLine {
  kind: Entry['kind'] | 'other';
  name: string;
  size: number;
  mode: number;
  mtimeMs: number;
  precision: number;
  target?: string;
}

/** One `ls -l` line; undefined when it is not one (a `total` line, a header, garbage). */
export function parseUnixLine(line: string, o: ListingOptions): UnixLine | undefined {
  const m = UNIX_LINE.exec(line);
  if (!m) return undefined;
  const type = m[1]!;
  let date: { ms: number; precision: number } | undefined;
  if (m[5] !== undefined) date = cachedUnixDate(m[5], m[6]!, m[7]!, o);
  else {
    const ms = Date.UTC(Number(m[8]), Number(m[9]) - 1, Number(m[10]), Number(m[11]), Number(m[12])) - (o.tzOffsetMin ?? 0) * MINUTE_MS;
    date = { ms, precision: MINUTE_MS };
  }
  if (!date) return undefined;
  const kind = type === '-' ? 'file' : type === 'd' ? 'dir' : type === 'l' ? 'symlink' : 'other';
  let name = m[13]!;
  let target: string | undefined;
  if (kind === 'symlink') {
    const at = name.indexOf(' -> ');
    if (at >= 0) {
      target = name.slice(at + 4);
      name = name.slice(0, at);
    }
  }
  // `ls -F` marks (vsftpd never adds them; some servers do with -F in the flags)
  if (kind === 'dir' && name.endsWith('/') && name.length > 1) name = name.slice(0, -1);
  return {
    kind,
    name,
    size: kind === 'file' ? Number(m[4]) : 0,
    mode: cachedUnixMode(m[2]!),
    mtimeMs: date.ms,
    precision: date.precision,
    ...(target !== undefined ? { target } : {}),
  };
}

// 12-05-26  01:23PM  <DIR>  name   |   2026-12-05  13:23   1234 name
const DOS_LINE = /^(\d{1,2})-(\d{1,2})-(\d{2}|\d{4})\s+(\d{1,2}):(\d{2})\s*([AaPp][Mm])?\s+(<DIR>|\d+)\s+(.+)$/;

/** One DOS/IIS `dir` line (mm-dd-yy hh:mm[AP]M, <DIR> or a size, the name). */
export function parseDosLine(line: string, o: ListingOptions): UnixLine | undefined {
  const m = DOS_LINE.exec(line.trim());
  if (!m) return undefined;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 70 ? 2000 : 1900;
  let hh = Number(m[4]);
  const ampm = m[6]?.toUpperCase();
  if (ampm === 'PM' && hh < 12) hh += 12;
  if (ampm === 'AM' && hh === 12) hh = 0;
  const month = Number(m[1]) - 1;
  const day = Number(m[2]);
  if (month > 11 || day < 1 || day > 31 || hh > 23) return undefined;
  const dir = m[7] === '<DIR>';
  return {
    kind: dir ? 'dir' : 'file',
    name: m[8]!,
    size: dir ? 0 : Number(m[7]),
    // DOS listings carry no permissions: what a fresh file or directory gets
    mode: dir ? 0o755 : 0o644,
    mtimeMs: Date.UTC(year, month, day, hh, Number(m[5])) - (o.tzOffsetMin ?? 0) * MINUTE_MS,
    precision: MINUTE_MS,
  };
}

/** One MLSD line (`fact=value;...; name`); undefined for `.`/`..` (cdir, pdir) and garbage. */
export function parseMlsdLine(line: string): UnixLine | undefined {
  const sp = line.indexOf(' ');
  if (sp < 0) return undefined;
  const name = line.slice(sp + 1);
  const facts = new Map<string, string>();
  for (const f of line.slice(0, sp).split(';')) {
    const eq = f.indexOf('=');
    if (eq > 0) facts.set(f.slice(0, eq).toLowerCase(), f.slice(eq + 1));
  }
  const type = (facts.get('type') ?? '').toLowerCase();
  if (type === 'cdir' || type === 'pdir' || name === '' || name === '.' || name === '..') return undefined;
  let kind: UnixLine['kind'] = type === 'file' ? 'file' : type === 'dir' ? 'dir' : 'other';
  let target: string | undefined;
  // OS.unix=slink:/target (some servers), or OS.unix=symlink
  const os = type.startsWith('os.unix=') ? type.slice('os.unix='.length) : '';
  if (os.startsWith('slink') || os === 'symlink') {
    kind = 'symlink';
    const t = (facts.get('type') ?? '').split(':').slice(1).join(':');
    if (t) target = t;
  }
  const mod = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(facts.get('modify') ?? '');
  let mtimeMs = 0;
  let precision = DAY_MS;
  if (mod) {
    const frac = mod[7] ? Number(mod[7].padEnd(3, '0')) : 0;
    mtimeMs = Date.UTC(Number(mod[1]), Number(mod[2]) - 1, Number(mod[3]), Number(mod[4]), Number(mod[5]), Number(mod[6]), frac);
    precision = mod[7] ? 1 : 1000;
  }
  const modeFact = facts.get('unix.mode');
  const mode = modeFact && /^[0-7]{1,5}$/.test(modeFact) ? parseInt(modeFact, 8) & 0o7777 : kind === 'dir' ? 0o755 : 0o644;
  return {
    kind,
    name,
    size: kind === 'file' ? Number(facts.get('size') ?? 0) || 0 : 0,
    mode,
    mtimeMs,
    precision,
    ...(target !== undefined ? { target } : {}),
  };
}

/** A line of whichever format: tries Unix, then DOS. */
export function parseListLine(line: string, format: ListingFormat | 'auto', o: ListingOptions): UnixLine | undefined {
  if (format === 'mlsd') return parseMlsdLine(line);
  if (format === 'dos') return parseDosLine(line, o);
  if (format === 'unix') return parseUnixLine(line, o);
  return parseUnixLine(line, o) ?? parseDosLine(line, o);
}

export interface ParsedListing {
  entries: ListedEntry[];
  /** Lines that were neither an entry, a `total` line, a section header nor blank. */
  unparsed: string[];
  /** Entries of other types (devices, fifos, sockets): not mirrored, reported. */
  others: string[];
  /** Whether `ls -lR` section headers were seen (the server honoured -R). */
  sawSections: boolean;
  /** The directories (tree-relative) whose section was seen. */
  sections: Set<string>;
}

/**
 * The directories of a recursive listing that have no section of their own: ones the
 * server could not read (vsftpd leaves an unreadable directory's section out, where an
 * empty one has its `.` and `..`), or did not descend into. Their contents are unknown, not
 * empty: a mirror must not delete its copy of them.
 */
export function unlistedDirs(p: ParsedListing): string[] {
  if (!p.sawSections) return [];
  return p.entries.filter((e) => e.kind === 'dir' && !p.sections.has(e.path)).map((e) => e.path);
}

/**
 * Join a listed name to its directory and check it: a hostile or odd listing (a name with a
 * slash, `..`, NUL, control characters in a path segment) never yields a path outside the tree.
 */
function childPath(dir: string, name: string): string | undefined {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return undefined;
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * A listing of the directory `dir` (relative to the tree root; '' = the root) in `format`,
 * or an `ls -lR` listing whose sections are headed `path:` (`.`, `./a`, `a`, or an absolute
 * path starting with `absRoot`). Entries get paths relative to the root.
 */
export function parseListing(text: string, dir: string, format: ListingFormat | 'auto', o: ListingOptions & { absRoot?: string }): ParsedListing {
  const out: ParsedListing = { entries: [], unparsed: [], others: [], sawSections: false, sections: new Set() };
  let cur: string | undefined = dir;
  let prevBlank = true;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      prevBlank = true;
      continue;
    }
    const wasBlank = prevBlank;
    prevBlank = false;
    if (/^total \d+/.test(line)) continue;
    const parsed = parseListLine(line, format, o);
    if (!parsed && format !== 'mlsd' && line.endsWith(':') && (wasBlank || out.entries.length === 0)) {
      out.sawSections = true;
      cur = sectionDir(line.slice(0, -1), dir, o.absRoot);
      if (cur !== undefined) out.sections.add(cur);
      continue;
    }
    if (!parsed) {
      out.unparsed.push(line);
      continue;
    }
    if (cur === undefined) continue; // a section outside the tree
    const path = childPath(cur, parsed.name);
    if (path === undefined) {
      if (parsed.name !== '.' && parsed.name !== '..') out.unparsed.push(line);
      continue;
    }
    if (parsed.kind === 'other') {
      out.others.push(path);
      continue;
    }
    const e: ListedEntry = {
      path,
      kind: parsed.kind,
      size: parsed.size,
      mtimeMs: parsed.mtimeMs,
      mode: parsed.mode,
      mtimePrecisionMs: parsed.precision,
    };
    if (parsed.target !== undefined) e.target = parsed.target;
    out.entries.push(e);
  }
  return out;
}

/** The tree-relative directory of an `ls -lR` section header, or undefined when outside. */
function sectionDir(header: string, dir: string, absRoot: string | undefined): string | undefined {
  let h = header;
  const absolute = h.startsWith('/');
  if (absolute) {
    // an absolute header names a directory from the server's root: it must be inside ours
    const root = (absRoot ?? '/').replace(/\/+$/, '');
    if (h !== root && !h.startsWith(root + '/')) return undefined;
    h = h.slice(root.length);
  }
  h = h.replace(/^(\.\/|\.$|\/)+/, '').replace(/\/+$/, '');
  const segs = h === '' ? [] : h.split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) return undefined;
  const rel = segs.join('/');
  if (absolute || dir === '') return rel;
  return rel === '' ? dir : `${dir}/${rel}`;
}
