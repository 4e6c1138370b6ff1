// How mirror 2.9 turns a package file's raw text into the value it uses (pure).
//
// mirror does not read values, it evals them (set_variables):
// - a boolean keyword runs `$key = &istrue( VALUE )`: the value is Perl source, so
//   `true ` (a bareword with a trailing blank), `'yes'`, `"ok"`, `01` and `1.0` are all
//   true, `True`, `on`, `2` and `""` are false, and `yes # note` is a syntax error (the
//   eval fails and the variable silently keeps the previous package's value);
// - any other keyword runs `$key = 'VALUE'` after a regex put a backslash before every
//   quote that follows a character other than a backslash: a Perl single-quoted string,
//   so `\\` becomes `\` and `\'` becomes `'`; a value starting with a quote or holding
//   two in a row breaks the eval the same way.
// omirr evaluates the literal forms Perl would and REFUSES the rest (an expression, a
// Perl function name, a broken quote): mirror's failed eval left the previous package's
// value in place, which no one can have meant (docs/mirror.md, "Repairs").

/** mirror's istrue on a Perl string: exactly `1`, `yes`, `ok` or `true` (case-sensitive). */
export function istrue(value: string | undefined): boolean {
  return value === '1' || value === 'yes' || value === 'ok' || value === 'true';
}

export type PerlValue = { ok: true; value: string } | { ok: false; error: string };

// Perl's named operators and functions (Pod::Functions of perl 5.36, plus the syntax
// keywords): as a bare word these are code, not the string they spell.
const PERL_WORDS = new Set(
  (
    'abs accept alarm bind binmode bless break caller chdir chmod chomp chop chown chr chroot close closedir ' +
    'connect continue cos crypt dbmclose dbmopen defined delete die do dump each endgrent endhostent ' +
    'endnetent endprotoent endpwent endservent eof eval evalbytes exec exists exit exp fc fcntl fileno flock ' +
    'fork format formline getc getgrent getgrgid getgrnam gethostbyaddr gethostbyname gethostent getlogin ' +
    'getnetbyaddr getnetbyname getnetent getpeername getpgrp getppid getpriority getprotobyname ' +
    'getprotobynumber getprotoent getpwent getpwnam getpwuid getservbyname getservbyport getservent ' +
    'getsockname getsockopt glob gmtime goto grep hex import index int ioctl join keys kill last lc lcfirst ' +
    'length link listen local localtime lock log lstat map mkdir msgctl msgget msgrcv msgsnd my next no oct ' +
    'open opendir ord our pack package pipe pop pos print printf prototype push quotemeta rand read readdir ' +
    'readline readlink readpipe recv redo ref rename require reset return reverse rewinddir rindex rmdir say ' +
    'scalar seek seekdir select semctl semget semop send setgrent sethostent setnetent setpgrp setpriority ' +
    'setprotoent setpwent setservent setsockopt shift shmctl shmget shmread shmwrite shutdown sin sleep ' +
    'socket socketpair sort splice split sprintf sqrt srand stat state study sub substr symlink syscall ' +
    'sysopen sysread sysseek system syswrite tell telldir tie tied time times truncate uc ucfirst umask undef ' +
    'unlink unpack unshift untie use utime values vec wait waitpid wantarray warn write ' +
    'if unless while until for foreach else elsif and or not xor x lt gt le ge eq ne cmp q qq qw qx qr m s ' +
    'tr y __FILE__ __LINE__ __PACKAGE__ __END__ __DATA__ __SUB__ BEGIN END INIT CHECK UNITCHECK AUTOLOAD DESTROY'
  ).split(' '),
);

/** Perl's string form of a number (enough for istrue: only the value 1 prints as "1"). */
function perlNumberString(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? 'Inf' : n < 0 ? '-Inf' : 'NaN';
}

/** A Perl numeric literal (with an optional sign) to its value; undefined if not one. */
function perlNumber(src: string): number | undefined {
  const m = /^([+-]?)(.*)$/s.exec(src)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2]!;
  let n: number | undefined;
  if (/^0[xX][0-9a-fA-F_]+$/.test(body)) n = parseInt(body.slice(2).replace(/_/g, ''), 16);
  else if (/^0[bB][01_]+$/.test(body)) n = parseInt(body.slice(2).replace(/_/g, ''), 2);
  else if (/^0[0-7_]+$/.test(body)) n = parseInt(body.slice(1).replace(/_/g, ''), 8);
  else if (/^(\d[\d_]*)?(\.[\d_]*)?([eE][+-]?\d+)?$/.test(body) && /\d/.test(body)) n = Number(body.replace(/_/g, ''));
  return n === undefined || Number.isNaN(n) ? undefined : sign * n;
}

/** A Perl single-quoted string's body: `\\` -> `\`, `\'` -> `'`; undefined if a bare quote ends it early. */
function singleQuotedBody(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && (body[i + 1] === '\\' || body[i + 1] === "'")) {
      out += body[i + 1];
      i++;
    } else if (c === "'") return undefined;
    else out += c;
  }
  return out;
}

/**
 * The string a boolean keyword's value evaluates to as the argument of mirror's
 * `&istrue( VALUE )`, or an error when it is not a plain literal Perl would read the
 * same way every time.
 */
export function perlBooleanArgument(raw: string): PerlValue {
  const src = raw.replace(/^[ \t\r\n\f]+|[ \t\r\n\f]+$/g, '');
  if (src === '') return { ok: true, value: '' }; // istrue() with no argument
  if (src.length >= 2 && src.startsWith("'") && src.endsWith("'")) {
    const body = singleQuotedBody(src.slice(1, -1));
    if (body !== undefined) return { ok: true, value: body };
  }
  if (src.length >= 2 && src.startsWith('"') && src.endsWith('"')) {
    const body = src.slice(1, -1);
    // Interpolation and escapes change the string in ways not worth guessing at.
    if (!/[\\$@"]/.test(body)) return { ok: true, value: body };
  }
  const n = perlNumber(src);
  if (n !== undefined) return { ok: true, value: perlNumberString(n) };
  if (/^[A-Za-z_]\w*$/.test(src) && !PERL_WORDS.has(src)) return { ok: true, value: src };
  return { ok: false, error: `'${raw}' is Perl code to mirror (it evals boolean values), not a value; write 1 or 0` };
}

/** A boolean keyword's value as mirror sees it: istrue of the evaluated argument. */
export function perlBoolean(raw: string): { ok: true; value: boolean } | { ok: false; error: string } {
  const arg = perlBooleanArgument(raw);
  return arg.ok ? { ok: true, value: istrue(arg.value) } : arg;
}

/**
 * Any other keyword's value as mirror's `eval "\$key = '$val'"` leaves it: quotes after a
 * non-backslash get a backslash, then the whole is read as a single-quoted Perl string.
 */
export function perlSingleQuoted(raw: string): PerlValue {
  const escaped = raw.replace(/([^\\])(')/g, "$1\\$2");
  const body = singleQuotedBody(escaped);
  if (body === undefined || /(^|[^\\])(\\\\)*\\$/.test(escaped)) {
    return { ok: false, error: `'${raw}' breaks mirror's quoting (a quote at the start, two quotes in a row, or a trailing backslash); mirror would drop the value` };
  }
  return { ok: true, value: body };
}

/** Perl's truth of a string (chmod, vms_keep_versions are used raw): false only for '' and '0'. */
export function perlTruthy(value: string): boolean {
  return value !== '' && value !== '0';
}
