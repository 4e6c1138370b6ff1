import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PackageFileError,
  applyOverrides,
  commandLineOverrides,
  parseOverrideArgs,
  parsePackageFiles,
} from '../../src/core/packageFile.js';

const one = (text: string, file = 'pk') => parsePackageFiles([{ file, text }]);

test('key=value, indentation, blanks around the operator', () => {
  const { packages } = one('package=a\n  site=example.org\n\tremote_dir = /pub\nlocal_dir  =/srv/a\n');
  assert.equal(packages.length, 1);
  const v = packages[0]!.values;
  assert.equal(packages[0]!.name, 'a');
  assert.equal(v.site, 'example.org');
  assert.equal(v.remote_dir, '/pub'); // our choice: blanks after the operator dropped
  assert.equal(v.local_dir, '/srv/a');
});

test('trailing blanks and # inside a value are kept (no trailing comments)', () => {
  const v = one('package=a\ncomment=hello # world  \n').packages[0]!.values;
  assert.equal(v.comment, 'hello # world  ');
});

test('comment lines (first non-blank is #) and blank lines are ignored', () => {
  const r = one('# top\n\npackage=a\n   # indented comment\n\t\n site=s\n');
  assert.equal(r.packages[0]!.values.site, 's');
  assert.deepEqual(r.warnings, []);
});

test('key+value appends to the current value (including the default)', () => {
  const v = one('package=a\nexclude_patt=\\.o$\nexclude_patt+|\\.a$\nget_patt+|x\n').packages[0]!.values;
  assert.equal(v.exclude_patt, '\\.o$|\\.a$');
  assert.equal(v.get_patt, '.|x');
});

test('& continuation joins the next line with its leading blanks stripped', () => {
  const v = one('package=a\nexclude_patt=(^|/)(core&\n    |tmp&\n\t|cache)$\nsite=s\n').packages[0]!.values;
  assert.equal(v.exclude_patt, '(^|/)(core|tmp|cache)$');
  assert.equal(v.site, 's');
});

test('& on the last line of input is dropped', () => {
  const v = one('package=a\ncomment=x&').packages[0]!.values;
  assert.equal(v.comment, 'x');
});

test('CRLF line ends', () => {
  const v = one('package=a\r\nsite=s\r\ncomment=c&\r\n  d\r\n').packages[0]!.values;
  assert.equal(v.site, 's');
  assert.equal(v.comment, 'cd');
});

test('unknown keyword is fatal and names file:line', () => {
  assert.throws(
    () => one('package=a\nsite=s\nbogus_key=1\n', 'packages/example.org'),
    (err: unknown) =>
      err instanceof PackageFileError &&
      err.message === "packages/example.org:3: unknown keyword 'bogus_key'" &&
      err.loc.line === 3,
  );
});

test('a line of neither form is a warning with file:line', () => {
  const r = one('package=a\njust words\n');
  assert.equal(r.warnings.length, 1);
  assert.equal(r.warnings[0]!.loc.line, 2);
  assert.match(r.warnings[0]!.message, /unknown input/);
});

test('defaults are mirror\'s: every keyword present, e.g. get_patt=. and max_delete_files=10%', () => {
  const v = one('package=a\n').packages[0]!.values;
  assert.equal(v.get_patt, '.');
  assert.equal(v.max_delete_files, '10%');
  assert.equal(v.file_mode, '0444');
  assert.equal(v.do_deletes, '0');
});

test('each package starts from the defaults, not from the previous package', () => {
  const r = one('package=a\nsite=s1\ncomment=only a\npackage=b\nsite=s2\n');
  assert.deepEqual(r.packages.map((p) => p.name), ['a', 'b']);
  assert.equal(r.packages[1]!.values.comment, '');
  assert.equal(r.packages[1]!.values.site, 's2');
  assert.equal(r.packages[1]!.loc.line, 4);
});

test('package=defaults changes the defaults of later packages, and is not a package', () => {
  const r = one('package=defaults\ndo_deletes=true\nmax_delete_files=100%\npackage=a\npackage=defaults\nsite=s\npackage=b\n');
  assert.deepEqual(r.packages.map((p) => p.name), ['a', 'b']);
  assert.equal(r.packages[0]!.values.do_deletes, 'true');
  assert.equal(r.packages[0]!.values.site, '');
  // A second defaults block starts from the defaults in effect and adds to them.
  assert.equal(r.packages[1]!.values.do_deletes, 'true');
  assert.equal(r.packages[1]!.values.site, 's');
});

test('defaults persist across files of one run; files do not close packages', () => {
  const r = parsePackageFiles([
    { file: 'one', text: 'package=defaults\nlocal_dir=/x\npackage=a\nsite=s\n' },
    { file: 'two', text: 'remote_dir=/late\npackage=b\n' },
  ]);
  assert.deepEqual(r.packages.map((p) => p.name), ['a', 'b']);
  assert.equal(r.packages[0]!.values.remote_dir, '/late'); // top of file two belongs to a
  assert.deepEqual(r.packages[0]!.locs.remote_dir, { file: 'two', line: 1 });
  assert.equal(r.packages[1]!.values.local_dir, '/x');
});

test('keywords before any package= belong to the first package (mirror resets only after a named package)', () => {
  const r = one('site=s\npackage=a\npackage=b\n');
  assert.equal(r.packages[0]!.values.site, 's');
  assert.deepEqual(r.packages[0]!.locs.site, { file: 'pk', line: 1 });
  assert.equal(r.packages[1]!.values.site, '');
  assert.equal(r.warnings.length, 0);
});

test('<file values are kept raw for run time', () => {
  const v = one('package=a\nremote_password=</etc/secret\n').packages[0]!.values;
  assert.equal(v.remote_password, '</etc/secret');
});

test('locs record where each keyword was set', () => {
  const p = one('package=a\n\nsite=s\n', 'f').packages[0]!;
  assert.deepEqual(p.locs.site, { file: 'f', line: 3 });
  assert.equal(p.locs.comment, undefined);
});

test('-k overrides win over the file and are reapplied per package; unknown keys warn', () => {
  const r = one('package=a\nforce=0\npackage=b\n');
  const ov = parseOverrideArgs(['force=1', 'nonsense=2', 'comment=a=b']);
  assert.deepEqual(ov, { force: '1', nonsense: '2', comment: 'a=b' });
  const a = applyOverrides(r.packages[0]!, ov);
  const b = applyOverrides(r.packages[1]!, ov);
  assert.equal(a.pkg.values.force, '1');
  assert.equal(b.pkg.values.force, '1');
  assert.equal(a.pkg.values.comment, 'a=b');
  assert.deepEqual(a.warnings, ['-k nonsense: unknown keyword, ignored']);
  assert.equal(r.packages[0]!.values.force, '0', 'the parsed package is not mutated');
  assert.throws(() => parseOverrideArgs(['noequals']), /key=value/);
});

test('package name is the value after package= (our trim of leading blanks)', () => {
  const r = one('package = my pkg\n');
  assert.equal(r.packages[0]!.name, 'my pkg');
});

test('the command line as mirror.pl reads it: -k and the flags standing for keywords, the later setting winning', () => {
  const G = { get_file: 'true', interactive: 'true' };
  const P = { get_file: 'false', interactive: 'true' };
  const rows: Array<[string, Array<string | Record<string, string>>, Record<string, string>]> = [
    ['-G alone', [G], G],
    ['-G then -kget_file=false: a put', [G, 'get_file=false'], { get_file: 'false', interactive: 'true' }],
    ['-kget_file=false then -G: a get', ['get_file=false', G], G],
    ['-G then -P: the later', [G, P], P],
    ['-P then -G: the later', [P, G], G],
    ['-kinteractive=0 after -G', [G, 'interactive=0'], { get_file: 'true', interactive: '0' }],
    ['-f after -kforce=0', ['force=0', { force: '1' }], { force: '1' }],
    ['-kforce=0 after -f', [{ force: '1' }, 'force=0'], { force: '0' }],
    ['values keep their =', ['comment=a=b'], { comment: 'a=b' }],
    ['nothing', [], {}],
  ];
  for (const [what, steps, want] of rows) assert.deepEqual(commandLineOverrides(steps), want, what);
  assert.throws(() => commandLineOverrides([G, 'noequals']), /key=value/);
});
