// mm input language: every statement and quirk of mm.pl 2.9's parse_file, and our repairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMmInput, formatDiagnostic, sitePackageOf, CANNOT_PARSE, type MmStatement } from '../../src/core/mmInput.js';

/** The statements of a one-file text, without locations, for compact tables. */
function stmts(text: string, settings?: string[]): Array<Record<string, unknown>> {
  const r = parseMmInput(text, 'in.mm', settings ? { settings: new Set(settings) } : undefined);
  return r.statements.map(({ loc: _loc, ...rest }: MmStatement) => rest);
}

function warnings(text: string): string[] {
  return parseMmInput(text, 'in.mm').warnings.map(formatDiagnostic);
}

const job = (site: string, pkg: string, okHours: number, notokHours: number, args = '') => ({
  kind: 'job',
  site,
  pkg,
  okHours,
  notokHours,
  args,
});

test('control statements: column 0, optional whitespace around =', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['home=/srv/mirror', { kind: 'home', dir: '/srv/mirror' }],
    ['home = /srv/mirror', { kind: 'home', dir: '/srv/mirror' }],
    ['home\t=\t/srv/a b c', { kind: 'home', dir: '/srv/a' }], // first non-blank word
    ['home=/a:b 1 2', { kind: 'home', dir: '/a:b' }],
    ['max=3', { kind: 'max', max: 3 }],
    ['max = 12 ', { kind: 'max', max: 12 }],
    ['max=007', { kind: 'max', max: 7 }],
    ["mirror=exec ./mirror $args -p'$package' packages/$site > logs/$site:$pkg 2>&1", {
      kind: 'mirror',
      template: "exec ./mirror $args -p'$package' packages/$site > logs/$site:$pkg 2>&1",
    }],
    ['mirror =   /usr/bin/mirror -p$package x  ', { kind: 'mirror', template: '/usr/bin/mirror -p$package x' }],
    ['mirror=', { kind: 'mirror', template: '' }],
    ['cmd=rm -f logs/*', { kind: 'cmd', command: 'rm -f logs/*' }],
    ['cmd = echo a=b c:d 1 2', { kind: 'cmd', command: 'echo a=b c:d 1 2' }],
    ['cmdin=./pkgs_to_mmin packages/*', { kind: 'cmdin', command: './pkgs_to_mmin packages/*' }],
    ['cmdin = omirr pkgs-to-mmin -y 20 packages/*', { kind: 'cmdin', command: 'omirr pkgs-to-mmin -y 20 packages/*' }],
    ['skip=ftp.x.org:pkg', { kind: 'skip', sitePackage: 'ftp.x.org:pkg' }],
    ['skip =  a.b:c  ', { kind: 'skip', sitePackage: 'a.b:c' }],
    ['skip=', { kind: 'skip', sitePackage: '' }],
  ];
  for (const [line, want] of cases) {
    assert.deepEqual(stmts(line + '\n'), [want], line);
    assert.deepEqual(warnings(line + '\n'), [], line);
  }
});

test('job lines follow the original greedy regex (checked against perl 5.36), package trimmed', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['a:b 1 2', job('a', 'b', 1, 2)],
    ['ftp.cl.cam.ac.uk:JIPS-nrs 20 20', job('ftp.cl.cam.ac.uk', 'JIPS-nrs', 20, 20)],
    ['ftp.x.org:pkg 10 20 -d -kfoo=bar', job('ftp.x.org', 'pkg', 10, 20, '-d -kfoo=bar')],
    // the site ends at the LAST colon that still lets the rest match
    ['a:b:c 1 2', job('a:b', 'c', 1, 2)],
    ['host:8080:pkg 1 2', job('host:8080', 'pkg', 1, 2)],
    ['a:b 1 2 -p x:y 5 6 z', job('a:b 1 2 -p x', 'y', 5, 6, 'z')],
    // the package runs to the last place where two whole numbers follow
    ['a:b 1 2 3', job('a', 'b 1', 2, 3)],
    ['a:b 1 2 -x 3 4', job('a', 'b 1 2 -x', 3, 4)],
    ['a:b c 1 2', job('a', 'b c', 1, 2)],
    ['a:b 12 34', job('a', 'b', 12, 34)],
    ['a:b 007 08', job('a', 'b', 7, 8)],
    // no space needed between the second number and the args
    ['a:b 1 2x', job('a', 'b', 1, 2, 'x')],
    ['a:b\t1\t2\targs  ', job('a', 'b', 1, 2, 'args')],
    // leading whitespace stays in the site
    ['  a:b 1 2', job('  a', 'b', 1, 2)],
    // REPAIR: perl gives the package 'b ' (greedy); we drop trailing whitespace
    ['a:b  1  2  ', job('a', 'b', 1, 2)],
    ['ftp.x.org:pkg      20     4', job('ftp.x.org', 'pkg', 20, 4)],
    ['a:b c \t 1 2', job('a', 'b c', 1, 2)],
    ['x:y 1 2 $site', job('x', 'y', 1, 2, '$site')],
    ['a:b 0 0', job('a', 'b', 0, 0)],
  ];
  for (const [line, want] of cases) {
    assert.deepEqual(stmts(line + '\n'), [want], line);
  }
});

test('unparsable lines are warnings naming file:line, and parsing goes on', () => {
  const text = [
    'a: 1 2', // 1: empty package
    ':b 1 2', // 2: empty site
    'a:b 1', // 3: one number
    'a:b1 2', // 4: no space before the hours
    'just words', // 5
    ' # indented comments are not comments in mm', // 6
    ' home=/x', // 7: control statements must start in column 0
    'Home=/x', // 8: keywords are lower case
    'EXIT now', // 9: EXIT must be the whole line
    'a:b 1.5 2', // 10: whole hours only
    'c:d 3 4', // 11: still parsed
    '',
  ].join('\n');
  const r = parseMmInput(text, 'conf/mm.in');
  assert.deepEqual(r.statements.map(({ loc, ...s }) => [loc.line, s.kind]), [[11, 'job']]);
  assert.deepEqual(
    r.warnings.map((w) => [w.loc.file, w.loc.line]),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => ['conf/mm.in', n]),
  );
  for (const w of r.warnings) assert.ok(w.message.startsWith(`${CANNOT_PARSE}: `), w.message);
  assert.equal(formatDiagnostic(r.warnings[4]!), `conf/mm.in:5: ${CANNOT_PARSE}: just words`);
});

test('comments in column 0, blank and whitespace-only lines are ignored', () => {
  const text = '# a comment\n\n   \n\t\n#a:b 1 2\na:b 1 2\n';
  const r = parseMmInput(text, 'f');
  assert.deepEqual(r.statements.map((s) => [s.kind, s.loc.line]), [['job', 6]]);
  assert.deepEqual(r.warnings, []);
});

test('EXIT alone on a line ends this text; later lines are not read', () => {
  const r = parseMmInput('a:b 1 2\nEXIT\nc:d 1 2\ngarbage\n', 'f');
  assert.deepEqual(r.statements.map((s) => s.loc.line), [1]);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(stmts('EXIT\na:b 1 2\n'), []);
  // EXIT\r in a CRLF file is EXIT too
  assert.deepEqual(stmts('EXIT\r\na:b 1 2\r\n'), []);
});

test('max must be a positive whole number; otherwise a warning naming file:line', () => {
  for (const bad of ['max=0', 'max=', 'max = x', 'max=-3', 'max=99999999999999999999']) {
    const r = parseMmInput(`a:b 1 2\n${bad}\n`, 'm.in');
    assert.deepEqual(r.statements.map((s) => s.kind), ['job'], bad);
    assert.equal(r.warnings.length, 1, bad);
    assert.equal(r.warnings[0]!.loc.line, 2);
    assert.match(formatDiagnostic(r.warnings[0]!), /^m\.in:2: max: expected a positive whole number/);
  }
  // like the original, the leading digits count; the rest draws a warning
  const r = parseMmInput('max=6abc\n', 'm.in');
  assert.deepEqual(r.statements.map(({ loc: _l, ...s }) => s), [{ kind: 'max', max: 6 }]);
  assert.match(formatDiagnostic(r.warnings[0]!), /^m\.in:1: max: ignoring 'abc' after 6/);
});

test('home= without a directory is a warning', () => {
  const r = parseMmInput('home=\nhome =  \n', 'h');
  assert.deepEqual(r.statements, []);
  assert.deepEqual(r.warnings.map((w) => w.loc.line), [1, 2]);
  assert.match(r.warnings[0]!.message, /home: expected a directory/);
});

test('keyword order: keywords win over the job regex, cmd does not eat cmdin', () => {
  assert.deepEqual(stmts('cmdin=x\n'), [{ kind: 'cmdin', command: 'x' }]);
  assert.deepEqual(stmts('cmd=x\n'), [{ kind: 'cmd', command: 'x' }]);
  assert.deepEqual(stmts('skip=a:b 1 2\n'), [{ kind: 'skip', sitePackage: 'a:b 1 2' }]);
  assert.deepEqual(stmts('mirror=a:b 1 2\n'), [{ kind: 'mirror', template: 'a:b 1 2' }]);
  // a word that only starts like a keyword is not that keyword
  assert.deepEqual(stmts('homer=x:y 1 2\n'), [job('homer=x', 'y', 1, 2)]);
  assert.deepEqual(stmts('skipper:y 1 2\n'), [job('skipper', 'y', 1, 2)]);
});

test('settings: declared keys become setting statements, in order', () => {
  const settings = ['node', 'listen', 'key', 'peer', 'tree'];
  const text = [
    'home    = /srv/mirror',
    'max     = 6',
    'node    = alpha',
    'listen  = 0.0.0.0:7878',
    'key     = /etc/omirr/alpha.key',
    'peer    = beta   10.0.0.2:7878  SHA256:abcd',
    'peer    = gamma  10.0.0.3:7878  SHA256:ef01',
    'tree    = www    /srv/www   beta gamma',
    'cmdin   = omirr pkgs-to-mmin packages/*',
    'ftp.cl.cam.ac.uk:JIPS-nrs 20 20',
    'other = 1', // not declared: cannot parse
    '',
  ].join('\n');
  const r = parseMmInput(text, 'omirr.conf', { settings: new Set(settings) });
  assert.deepEqual(
    r.statements.map(({ loc, ...s }) => [loc.line, s]),
    [
      [1, { kind: 'home', dir: '/srv/mirror' }],
      [2, { kind: 'max', max: 6 }],
      [3, { kind: 'setting', key: 'node', value: 'alpha' }],
      [4, { kind: 'setting', key: 'listen', value: '0.0.0.0:7878' }],
      [5, { kind: 'setting', key: 'key', value: '/etc/omirr/alpha.key' }],
      [6, { kind: 'setting', key: 'peer', value: 'beta   10.0.0.2:7878  SHA256:abcd' }],
      [7, { kind: 'setting', key: 'peer', value: 'gamma  10.0.0.3:7878  SHA256:ef01' }],
      [8, { kind: 'setting', key: 'tree', value: 'www    /srv/www   beta gamma' }],
      [9, { kind: 'cmdin', command: 'omirr pkgs-to-mmin packages/*' }],
      [10, job('ftp.cl.cam.ac.uk', 'JIPS-nrs', 20, 20)],
    ],
  );
  assert.deepEqual(r.warnings.map(formatDiagnostic), [`omirr.conf:11: ${CANNOT_PARSE}: other = 1`]);
  // without the option the same keys are not statements
  assert.equal(parseMmInput('node = alpha\n', 'x').warnings.length, 1);
  // settings never shadow mm's own keywords, and must start in column 0
  assert.deepEqual(stmts('home=/x\n  node=a\n', ['home', 'node']).map((s) => s.kind), ['home']);
  // a setting line that looks like a job is still a setting
  assert.deepEqual(stmts('peer=a:b 1 2\n', ['peer']), [{ kind: 'setting', key: 'peer', value: 'a:b 1 2' }]);
});

test('line ends: CRLF, no final newline, line numbers', () => {
  // REPAIR: the original's chop ate the last character of a last line without newline
  assert.deepEqual(stmts('a:b 1 20'), [job('a', 'b', 1, 20)]);
  assert.deepEqual(stmts('mirror=x y\r\na:b 1 2 -d\r\n'), [
    { kind: 'mirror', template: 'x y' },
    job('a', 'b', 1, 2, '-d'),
  ]);
  const r = parseMmInput('\n\n#c\na:b 1 2\n\nc:d 3 4', 'f');
  assert.deepEqual(r.statements.map((s) => s.loc), [
    { file: 'f', line: 4 },
    { file: 'f', line: 6 },
  ]);
  assert.deepEqual(parseMmInput('', 'f'), { statements: [], warnings: [] });
});

test('sitePackageOf joins site and package with a colon', () => {
  const r = parseMmInput('a:b:c d 1 2\n', 'f');
  const j = r.statements[0]!;
  assert.equal(j.kind, 'job');
  if (j.kind === 'job') assert.equal(sitePackageOf(j), 'a:b:c d');
});
