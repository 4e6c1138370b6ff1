// The Perl code mirror 2.9 runs on a path (pure): `name_mappings` ("a Perl substitute
// command, e.g. s:old:new:", evaluated with `$_` holding the remote path) and
// `compress_conv_expr` (`s/\.Z$/.gz/;s/\.taz$/.tgz/`). mirror `eval`s these; omirr runs no
// Perl, so it reads the forms these keywords are written in and refuses anything else with
// its reason, rather than guess:
//
// - statements separated by `;`, each optionally prefixed by `$_ =~`;
// - `s<d>PATTERN<d>REPLACEMENT<d>FLAGS` with any punctuation delimiter, or a bracketed pair
//   (`s{a}{b}`, `s(a)(b)`, `s<a><b>`, `s[a][b]`); flags `g i s x` (`e`, `m`, `r`... refused).
//   The pattern is a Perl regex (src/core/perlRegex.ts). The replacement is a double-quoted
//   Perl string (not with `'` as the delimiter): `$1`, `${1}`, `$&`, `\1`, the case
//   escapes `\U \L \E \u \l`, `\n \t \\ \$ \@`; any other variable is refused;
// - `tr/SEARCH/REPLACE/` (also `y///`) with ranges and the flags `d` and `s`.
import { perlRegex, PerlRegexError } from './perlRegex.js';

export class PerlCodeError extends Error {
  override name = 'PerlCodeError';
}

type Step = (s: string) => string;

const CLOSERS: Record<string, string> = { '{': '}', '(': ')', '<': '>', '[': ']' };

class Reader {
  i = 0;
  constructor(readonly src: string) {}
  blanks(): void {
    while (this.i < this.src.length && /\s/.test(this.src[this.i]!)) this.i++;
  }
  /** The text up to the closing delimiter (escaped delimiters kept escaped), past it. */
  delimited(open: string): string {
    const close = CLOSERS[open] ?? open;
    let depth = 0;
    let out = '';
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (c === '\\' && this.i + 1 < this.src.length) {
        out += c + this.src[this.i + 1];
        this.i += 2;
        continue;
      }
      if (close !== open && c === open) depth++;
      else if (c === close) {
        if (depth === 0) {
          this.i++;
          return out;
        }
        depth--;
      }
      out += c;
      this.i++;
    }
    throw new PerlCodeError(`unterminated ${open}...${close} in '${this.src}'`);
  }
  /** The delimiter opening the next part (for bracketed pairs, after optional blanks). */
  opener(first: string): string {
    if (CLOSERS[first]) {
      this.blanks();
      const c = this.src[this.i];
      if (c === undefined || !/[^\w\s]/.test(c)) throw new PerlCodeError(`expected a delimiter at '${this.src.slice(this.i)}'`);
      this.i++;
      return c;
    }
    return first;
  }
}

/** A replacement (a Perl double-quoted string) as a function of the match. */
function replacement(text: string, interpolate: boolean): (m: RegExpExecArray | string[]) => string {
  type Part = { lit: string } | { group: number } | { caseOp: 'U' | 'L' | 'E' | 'u' | 'l' };
  const parts: Part[] = [];
  const lit = (s: string): void => {
    const last = parts[parts.length - 1];
    if (last && 'lit' in last) last.lit += s;
    else parts.push({ lit: s });
  };
  if (!interpolate) {
    // s'...'...': no interpolation; only \\ and \' are special in a single-quoted string.
    lit(text.replace(/\\([\\'])/g, '$1'));
  } else {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') {
        const n = text[i + 1];
        if (n === undefined) throw new PerlCodeError('replacement ends with a backslash');
        i++;
        if (/[1-9]/.test(n)) parts.push({ group: Number(n) });
        else if (n === 'U' || n === 'L' || n === 'E' || n === 'u' || n === 'l') parts.push({ caseOp: n });
        else if (n === 'n') lit('\n');
        else if (n === 't') lit('\t');
        else if (n === 'r') lit('\r');
        else if (n === 'f') lit('\f');
        else if (n === 'e') lit('\x1b');
        else if (n === 'a') lit('\x07');
        else if (n === '0') lit('\0');
        else if (/[A-Za-z]/.test(n)) throw new PerlCodeError(`the escape \\${n} in a replacement is not supported`);
        else lit(n);
        continue;
      }
      if (c === '$') {
        const rest = text.slice(i + 1);
        let m: RegExpExecArray | null;
        if ((m = /^(\d+)/.exec(rest)) || (m = /^\{(\d+)\}/.exec(rest))) {
          parts.push({ group: Number(m[1]) });
          i += m[0].length;
          continue;
        }
        if (rest.startsWith('&')) {
          parts.push({ group: 0 });
          i++;
          continue;
        }
        if (rest === '') {
          lit('$');
          continue;
        }
        throw new PerlCodeError(`the variable $${rest.slice(0, 12)} in a replacement is not supported (only $1.., \${1}, $&)`);
      }
      if (c === '@' && /^[\w{$:]/.test(text.slice(i + 1))) {
        throw new PerlCodeError(`the array @${text.slice(i + 1, i + 13)} in a replacement is not supported`);
      }
      lit(c);
    }
  }
  return (m) => {
    let out = '';
    let mode: 'U' | 'L' | undefined;
    let next: 'u' | 'l' | undefined;
    const add = (s: string): void => {
      if (s === '') return;
      let t = mode === 'U' ? s.toUpperCase() : mode === 'L' ? s.toLowerCase() : s;
      if (next) {
        t = (next === 'u' ? t[0]!.toUpperCase() : t[0]!.toLowerCase()) + t.slice(1);
        next = undefined;
      }
      out += t;
    };
    for (const p of parts) {
      if ('lit' in p) add(p.lit);
      else if ('group' in p) add(m[p.group] ?? '');
      else if (p.caseOp === 'E') mode = undefined;
      else if (p.caseOp === 'U' || p.caseOp === 'L') mode = p.caseOp;
      else next = p.caseOp;
    }
    return out;
  };
}

/** The two delimited parts of s/// or tr/// and the flags after them (only `allowed` ones). */
function twoParts(r: Reader, first: string, op: string, allowed: string): { left: string; right: string; d2: string; flags: string } {
  const left = r.delimited(first);
  const d2 = r.opener(first);
  const right = r.delimited(d2);
  const flags = /^[a-z]*/.exec(r.src.slice(r.i))![0];
  r.i += flags.length;
  const bad = [...flags].filter((f) => !allowed.includes(f)).join('');
  if (bad !== '') throw new PerlCodeError(`the ${op} flag(s) '${bad}' are not supported (only ${[...allowed].join(', ')})`);
  return { left, right, d2, flags };
}

function substitution(r: Reader, first: string): Step {
  const { left: patText, right: replText, d2, flags } = twoParts(r, first, 's///', 'gisx');
  if (patText === '') throw new PerlCodeError("an empty pattern (Perl's 'last successful pattern') is not supported");
  if (/(^|[^\\])(\\\\)*\$(?=[A-Za-z_{:]|\d)/.test(patText) || /(^|[^\\])(\\\\)*@(?=[A-Za-z_{])/.test(patText)) {
    throw new PerlCodeError(`the pattern '${patText}' interpolates a Perl variable; not supported`);
  }
  // An escaped delimiter (`\/`, `\:`) stays an escaped literal, which means the same in a JS regex.
  const pattern = patText;
  const modes = flags.replace(/[gi]/g, '');
  let re: RegExp;
  try {
    re = perlRegex((modes ? `(?${modes})` : '') + pattern, flags.includes('i'));
  } catch (err) {
    if (err instanceof PerlRegexError) throw new PerlCodeError(`pattern '${pattern}': ${err.message}`);
    throw err;
  }
  const repl = replacement(replText, d2 !== "'");
  const global = flags.includes('g');
  const g = new RegExp(re.source, re.flags + 'g');
  return (s) => {
    if (!global) {
      const hit = re.exec(s);
      if (!hit) return s;
      return s.slice(0, hit.index) + repl(hit) + s.slice(hit.index + hit[0].length);
    }
    let out = '';
    let last = 0;
    g.lastIndex = 0;
    for (let hit = g.exec(s); hit; hit = g.exec(s)) {
      out += s.slice(last, hit.index) + repl(hit);
      last = hit.index + hit[0].length;
      if (hit[0] === '') g.lastIndex++;
    }
    return out + s.slice(last);
  };
}

/** tr's character list: ranges expanded, escapes read. */
function trList(text: string): string[] {
  const chars: string[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i]!;
      c = n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '\\' ? '\\' : n === '-' ? '-' : n;
      if (/[A-Za-z0-9]/.test(n) && !'ntr'.includes(n)) throw new PerlCodeError(`the escape \\${n} in tr/// is not supported`);
    } else if (c === '-' && chars.length > 0 && i + 1 < text.length) {
      const from = chars[chars.length - 1]!.codePointAt(0)!;
      let to = text[++i]!;
      if (to === '\\' && i + 1 < text.length) to = text[++i]!;
      const end = to.codePointAt(0)!;
      if (end < from) throw new PerlCodeError(`invalid range in tr/// '${text}'`);
      for (let k = from + 1; k <= end; k++) chars.push(String.fromCodePoint(k));
      continue;
    }
    chars.push(c);
  }
  return chars;
}

function transliteration(r: Reader, first: string): Step {
  const { left: search, right: repl, flags } = twoParts(r, first, 'tr///', 'ds');
  const from = trList(search);
  let to = trList(repl);
  const del = flags.includes('d');
  if (to.length === 0 && !del) to = from;
  if (!del) while (to.length < from.length) to.push(to[to.length - 1]!);
  const map = new Map<string, string | null>();
  from.forEach((c, k) => {
    if (!map.has(c)) map.set(c, k < to.length ? to[k]! : null);
  });
  const squeeze = flags.includes('s');
  return (s) => {
    let out = '';
    let last: string | undefined;
    for (const c of s) {
      if (!map.has(c)) {
        out += c;
        last = undefined;
        continue;
      }
      const t = map.get(c);
      if (t === null || t === undefined) continue;
      if (squeeze && last === t) continue;
      out += t;
      last = t;
    }
    return out;
  };
}

/**
 * The Perl code as a function of `$_`. Throws PerlCodeError naming what is not supported.
 * An empty string (or only `;`) is the identity.
 */
export function compilePerlSubst(code: string): (path: string) => string {
  const r = new Reader(code);
  const steps: Step[] = [];
  for (;;) {
    r.blanks();
    while (r.src[r.i] === ';') {
      r.i++;
      r.blanks();
    }
    if (r.i >= r.src.length) break;
    const bind = /^\$_\s*=~\s*/.exec(r.src.slice(r.i));
    if (bind) r.i += bind[0].length;
    const op = /^(s|tr|y)(?=[^\w\s])/.exec(r.src.slice(r.i)) ?? /^(s|tr|y)\s+(?=[^\w\s#=,;])/.exec(r.src.slice(r.i));
    if (!op) {
      throw new PerlCodeError(`'${r.src.slice(r.i, r.i + 30)}' is Perl code omirr does not run (only s/// and tr/// on $_, separated by ;)`);
    }
    r.i += op[0].length;
    const delim = r.src[r.i++]!;
    steps.push(op[1] === 's' ? substitution(r, delim) : transliteration(r, delim));
    r.blanks();
    if (r.i < r.src.length && r.src[r.i] !== ';') {
      throw new PerlCodeError(`expected ; after a statement, at '${r.src.slice(r.i, r.i + 30)}'`);
    }
  }
  return (path) => steps.reduce((s, f) => f(s), path);
}
