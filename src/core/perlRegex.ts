// Perl regexes (mirror's get_patt, exclude_patt, ...) as JavaScript RegExps (pure).
//
// Most syntax means the same in both. Translated: POSIX classes inside brackets
// (`[[:digit:]]`, `[[:^space:]]`), comments `(?#...)`, mode switches at the start
// (`(?i)`, `(?x)`, `(?s)`, `(?ix)`...), scoped modes `(?i:...)`, `(?x:...)`, `(?s:...)`,
// `(?-i:...)`, extended syntax (blanks and `# comments` ignored), `\A`, `\z`, `\Z`,
// `\Q...\E` and `\h`. Anything Perl-only that is left either fails to compile in
// JavaScript or is refused here with a message naming it (a mode switch in the middle
// of a pattern, `\G`, `\K`, `(?P...)`), so a pattern never silently matches something else.

export class PerlRegexError extends Error {
  override name = 'PerlRegexError';
}

const POSIX: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\t\\n\\v\\f\\r ',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: '\\w',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
  ascii: '\\x00-\\x7f',
};
const POSIX_NEGATED: Record<string, string> = { digit: '\\D', space: '\\S', word: '\\W' };

interface Mode {
  i: boolean;
  x: boolean;
  s: boolean;
}

function escapeLiteral(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Both cases of a letter, for case-insensitive scopes inside a case-sensitive pattern. */
function caseless(c: string, inClass: boolean): string {
  const lo = c.toLowerCase();
  const up = c.toUpperCase();
  if (lo === up) return c;
  return inClass ? lo + up : `[${lo}${up}]`;
}

class Translator {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly globalI: boolean,
  ) {}

  translate(mode: Mode, close: boolean): string {
    let out = '';
    const src = this.src;
    while (this.i < src.length) {
      const c = src[this.i]!;
      if (c === ')' && close) {
        this.i++;
        return out;
      }
      if (c === '\\') {
        out += this.escape(mode, false);
        continue;
      }
      if (c === '[') {
        out += this.charClass(mode);
        continue;
      }
      if (mode.x && /[ \t\r\n\f\v]/.test(c)) {
        this.i++;
        continue;
      }
      if (mode.x && c === '#') {
        const nl = src.indexOf('\n', this.i);
        this.i = nl < 0 ? src.length : nl + 1;
        continue;
      }
      if (c === '(') {
        out += this.group(mode);
        continue;
      }
      if (c === '.' && mode.s) {
        this.i++;
        out += '[\\s\\S]';
        continue;
      }
      this.i++;
      out += mode.i && !this.globalI ? caseless(c, false) : c;
    }
    if (close) throw new PerlRegexError('unmatched ( in pattern');
    return out;
  }

  private group(mode: Mode): string {
    const src = this.src;
    const rest = src.slice(this.i);
    if (rest.startsWith('(?#')) {
      const end = src.indexOf(')', this.i);
      if (end < 0) throw new PerlRegexError('unterminated (?# comment');
      this.i = end + 1;
      return '';
    }
    const m = /^\(\?([a-z^]*)(?:-([a-z]*))?([:)])/.exec(rest);
    if (m && (m[1] !== '' || m[2] !== undefined || m[3] === ':') && /^[\^imsx]*$/.test(m[1]!) && /^[imsx]*$/.test(m[2] ?? '')) {
      const on = m[1]!.replace('^', '');
      const off = m[2] ?? '';
      if (/m/.test(on + off)) throw new PerlRegexError(`the (?m) modifier is not supported in ${m[0]}`);
      const inner: Mode = { ...mode };
      if (m[1]!.startsWith('^')) Object.assign(inner, { i: false, x: false, s: false });
      for (const f of on) inner[f as keyof Mode] = true;
      for (const f of off) inner[f as keyof Mode] = false;
      if (inner.i === false && this.globalI) throw new PerlRegexError(`turning off case-insensitivity (${m[0]}) inside a (?i) pattern is not supported`);
      this.i += m[0].length;
      if (m[3] === ')') {
        throw new PerlRegexError(`a mode switch ${m[0]} in the middle of a pattern is not supported (put it at the very start, or use (?${on}:...))`);
      }
      return `(?:${this.translate(inner, true)})`;
    }
    if (/^\(\?P/.test(rest)) throw new PerlRegexError('Python-style (?P...) groups are not Perl 5.8 syntax mirror knew; use (?<name>...)');
    // (, (?:, (?=, (?!, (?<=, (?<!, (?<name>: the same in JavaScript.
    const head = /^\((\?(:|=|!|<=|<!|<[A-Za-z_]\w*>))?/.exec(rest)!;
    this.i += head[0].length;
    return head[0] + this.translate(mode, true) + ')';
  }

  private escape(mode: Mode, inClass: boolean): string {
    const src = this.src;
    const n = src[this.i + 1];
    if (n === undefined) throw new PerlRegexError('pattern ends with a backslash');
    this.i += 2;
    switch (n) {
      case 'A':
        if (inClass) break;
        return '^';
      case 'z':
        if (inClass) break;
        return '$';
      case 'Z':
        if (inClass) break;
        return '(?=\\n?$)';
      case 'h':
        return inClass ? ' \\t' : '[ \\t]';
      case 'Q': {
        const end = src.indexOf('\\E', this.i);
        const lit = src.slice(this.i, end < 0 ? src.length : end);
        this.i = end < 0 ? src.length : end + 2;
        if (inClass) return lit.replace(/[\]\\^-]/g, '\\$&');
        return mode.i && !this.globalI ? [...lit].map((ch) => (/[a-zA-Z]/.test(ch) ? caseless(ch, false) : escapeLiteral(ch))).join('') : escapeLiteral(lit);
      }
      case 'E':
        return '';
      case 'G':
      case 'K':
        throw new PerlRegexError(`\\${n} is not supported`);
      default:
        break;
    }
    if (/[a-zA-Z]/.test(n) && mode.i && !this.globalI && !/[dDsSwWbBnrtfvexcu0-9]/.test(n)) return caseless(n, inClass);
    return '\\' + n;
  }

  private charClass(mode: Mode): string {
    const src = this.src;
    this.i++; // [
    let out = '[';
    if (src[this.i] === '^') {
      out += '^';
      this.i++;
    }
    // A ] right after [ or [^ is a literal in Perl.
    if (src[this.i] === ']') {
      out += '\\]';
      this.i++;
    }
    const start = out;
    while (this.i < src.length) {
      const c = src[this.i]!;
      if (c === ']') {
        this.i++;
        if (mode.i && !this.globalI) {
          // Letter ranges inside a (?i:...) scope: add the other case's range.
          out = out.replace(/(^|[^\\])([a-zA-Z])-([a-zA-Z])/g, (all, _pre: string, a: string, b: string) => {
            const other = a === a.toLowerCase() ? `${a.toUpperCase()}-${b.toUpperCase()}` : `${a.toLowerCase()}-${b.toLowerCase()}`;
            return `${all}${other}`;
          });
        }
        return out + ']';
      }
      if (c === '[' && src[this.i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.i));
        if (m) {
          const name = m[2]!;
          this.i += m[0].length;
          if (m[1] === '^') {
            if (POSIX_NEGATED[name]) out += POSIX_NEGATED[name];
            else if (out === start && out === '[' && src[this.i] === ']' && POSIX[name]) {
              this.i++;
              return `[^${POSIX[name]}]`;
            } else throw new PerlRegexError(`[:^${name}:] is only supported alone in its brackets`);
            continue;
          }
          const body = POSIX[name];
          if (!body) throw new PerlRegexError(`unknown POSIX class [:${name}:]`);
          out += body;
          continue;
        }
      }
      if (c === '\\') {
        out += this.escape(mode, true);
        continue;
      }
      if (c === '[') {
        out += '\\[';
        this.i++;
        continue;
      }
      this.i++;
      out += mode.i && !this.globalI && /[a-zA-Z]/.test(c) && src[this.i] !== '-' && src[this.i - 2] !== '-' ? caseless(c, true) : c;
    }
    throw new PerlRegexError('unmatched [ in pattern');
  }
}

/**
 * A Perl regex as a JS RegExp. `caseInsensitive` is for mirror's one case-insensitive
 * keyword (compress_excl). Throws on a pattern that does not compile or uses Perl syntax
 * that has no faithful translation (mirror's "Problem with regexp").
 */
export function perlRegex(source: string, caseInsensitive = false): RegExp {
  let src = source;
  const flags: Mode = { i: caseInsensitive, x: false, s: false };
  // Mode switches at the very start apply to the whole pattern.
  for (;;) {
    const m = /^\(\?([imsx]+)\)/.exec(src);
    if (!m) break;
    if (m[1]!.includes('m')) throw new PerlRegexError('the (?m) modifier is not supported');
    for (const f of m[1]!) flags[f as keyof Mode] = true;
    src = src.slice(m[0].length);
  }
  const t = new Translator(src, flags.i);
  const body = t.translate(flags, false);
  try {
    return new RegExp(body, flags.i ? 'i' : '');
  } catch (err) {
    throw new PerlRegexError((err as Error).message);
  }
}
