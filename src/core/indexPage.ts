// HTTP directory index pages as listings (pure): nginx's autoindex and Apache's
// mod_autoindex (fancy <pre> and <table> layouts). Each link to a child of the directory
// (a relative href of one segment; `name/` for a subdirectory) becomes a listed name, with
// the time and size printed after it on the same line or table row:
//
//   nginx:   <a href="a.txt">a.txt</a>        06-Dec-2026 00:23       6
//   Apache:  <td><a href="a.txt">a.txt</a></td><td align="right">2026-12-05 21:20  </td><td align="right">1.2K</td>
//
// Times are to the minute (seconds when shown), taken as UTC (nginx's default; `tzOffsetMin`
// for servers that print local time). A size is exact only when printed as plain digits
// (nginx's autoindex_exact_size, Apache under 1 KiB); `1.2K` is approximate and the driver
// asks the server (HEAD). Sort links (`?C=N;O=D`), the parent, absolute and off-site links
// are not children and are ignored.
import { percentDecodeName } from './names.js';

export interface IndexLink {
  name: string;
  dir: boolean;
  /** Exact size in bytes, when printed as digits. */
  size?: number;
  /** A size was printed but rounded (1.2K): ask the server. */
  approxSize?: boolean;
  mtimeMs?: number;
  /** 60 000 (hh:mm) or 1000 (hh:mm:ss). */
  mtimePrecisionMs?: number;
}

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** The child name an href points to, or undefined when it is not a child of this page's directory. */
export function childOfHref(href: string): { name: string; dir: boolean } | undefined {
  const h = decodeEntities(href.trim());
  if (h === '' || /^[a-z][a-z0-9+.-]*:/i.test(h) || h.startsWith('/') || h.startsWith('?') || h.startsWith('#')) return undefined;
  if (h.includes('?') || h.includes('#')) return undefined;
  const plain = h.startsWith('./') ? h.slice(2) : h;
  const dir = plain.endsWith('/');
  const seg = dir ? plain.slice(0, -1) : plain;
  if (seg === '' || seg.includes('/')) return undefined;
  // the escapes are the name's bytes: an old site's Latin-1 name (`caf%E9.txt`) is those
  // bytes, carried as src/core/names.ts escapes them, not a page to skip
  if (/%(?![0-9A-Fa-f]{2})/.test(seg)) return undefined; // not an escape: not a link a server writes for a file
  const name = percentDecodeName(seg);
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return undefined;
  return { name, dir };
}

// dd-Mon-yyyy hh:mm[:ss]  |  yyyy-mm-dd hh:mm[:ss]
const DATE = /(?:(\d{1,2})-([A-Za-z]{3})-(\d{4})|(\d{4})-(\d{2})-(\d{2}))\s+(\d{2}):(\d{2})(?::(\d{2}))?/;
const SIZE = /^\s*(-|\d+|\d+(?:\.\d+)?\s*[KMGTP]i?B?)(?:\s|$)/i;

function parseDetails(text: string, tzOffsetMin: number): Pick<IndexLink, 'size' | 'approxSize' | 'mtimeMs' | 'mtimePrecisionMs'> {
  const out: Pick<IndexLink, 'size' | 'approxSize' | 'mtimeMs' | 'mtimePrecisionMs'> = {};
  const d = DATE.exec(text);
  if (!d) return out;
  const year = Number(d[3] ?? d[4]);
  const month = d[2] !== undefined ? MONTHS[d[2].toLowerCase()] : Number(d[5]) - 1;
  const day = Number(d[1] ?? d[6]);
  if (month === undefined || month < 0 || month > 11 || day < 1 || day > 31) return out;
  const sec = d[9] === undefined ? 0 : Number(d[9]);
  out.mtimeMs = Date.UTC(year, month, day, Number(d[7]), Number(d[8]), sec) - tzOffsetMin * 60_000;
  out.mtimePrecisionMs = d[9] === undefined ? 60_000 : 1000;
  const s = SIZE.exec(text.slice(d.index + d[0].length));
  if (s && s[1] !== '-') {
    if (/^\d+$/.test(s[1]!)) out.size = Number(s[1]);
    else out.approxSize = true;
  }
  return out;
}

/** The children listed on an index page, in page order (a name listed twice counts once). */
/**
 * Whether a page says it is a directory listing: an "Index of" title or heading (nginx,
 * Apache, lighttpd), "Directory listing for" (Python's http.server), or a link to the parent
 * directory. Asked only of a page with no child links: an empty listing is an empty
 * directory, while any other page without links (a maintenance page served for every URL,
 * an index.html that is a web page) taken as one would have a mirror delete everything.
 */
export function looksLikeListing(html: string): boolean {
  return /<(title|h1)[^>]*>\s*(index of|directory listing for)\b/i.test(html) || /href\s*=\s*(["']?)\.\.\/?\1[\s>]/i.test(html);
}

export function parseIndexPage(html: string, o: { tzOffsetMin?: number } = {}): IndexLink[] {
  const out: IndexLink[] = [];
  const seen = new Set<string>();
  const anchor = /<a\s[^>]*?href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>[\s\S]*?<\/a>/gi;
  let m: RegExpExecArray | null;
  while ((m = anchor.exec(html)) !== null) {
    const child = childOfHref(m[1] ?? m[2] ?? m[3] ?? '');
    if (!child || seen.has(child.name)) continue;
    seen.add(child.name);
    // what follows the link on its line (<pre> layouts) or in its table row
    const rest = html.slice(anchor.lastIndex);
    const end = rest.search(/\n|<\/tr>|<a\s/i);
    const text = decodeEntities((end < 0 ? rest : rest.slice(0, end)).replace(/<[^>]*>/g, ' '));
    out.push({ ...child, ...parseDetails(text, o.tzOffsetMin ?? 0) });
  }
  return out;
}
