import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePerlSubst, PerlCodeError } from '../../src/core/perlSubst.js';
import { localView } from '../../src/core/mirrorNames.js';
import type { Entry } from '../../src/core/entry.js';

test('perlSubst: s/// with delimiters, flags, groups and case escapes as Perl does them', () => {
  const cases: Array<[string, string, string]> = [
    ['s:old:new:', 'old/old', 'new/old'],
    ['s:old:new:g', 'old/old', 'new/new'],
    ['s/\\.TXT$/.txt/', 'a.TXT', 'a.txt'],
    ['s/\\.txt$/.TXT/i', 'a.Txt', 'a.TXT'],
    ['s{^pub/}{}', 'pub/x', 'x'],
    ['s (a) (b)g', 'aaa', 'bbb'],
    ['s/(\\w+)\\.(\\w+)/$2.$1/', 'a.b', 'b.a'],
    ['s/(\\w+)/\\U$1/', 'abc.d', 'ABC.d'],
    ['s/(\\w+)/\\u$1/g', 'ab/cd', 'Ab/Cd'],
    ['s/^(.)/\\L$1\\E/', 'Xy', 'xy'],
    ['s/x/${1}/', 'x', ''],
    ['s/(a)/[$&]/', 'a', '[a]'],
    ["s'a'$b'", 'a', '$b'],
    ['s/\\//_/g', 'a/b/c', 'a_b_c'],
    ['tr/A-Z/a-z/', 'ABC/Def', 'abc/def'],
    ['y/a-c/A-C/', 'abcd', 'ABCd'],
    ['tr/_//d', 'a_b_c', 'abc'],
    ['$_ =~ s/a/b/; s/b/c/', 'a', 'c'],
    ['s/\\.Z$/.gz/;s/\\.taz$/.tgz/', 'x.taz', 'x.tgz'],
    ['s/(?i)readme/README/', 'ReadMe', 'README'],
    ['s/[[:digit:]]+/N/g', 'a12b3', 'aNbN'],
    ['s/x*/-/g', 'ab', '-a-b-'],
    ['', 'same', 'same'],
  ];
  for (const [code, input, want] of cases) assert.equal(compilePerlSubst(code)(input), want, `${code} on ${input}`);
});

test('perlSubst refuses what it cannot evaluate faithfully, naming it', () => {
  for (const [code, re] of [
    ['s/a/b/e', /flag\(s\) 'e'/],
    ['s/a/b/m', /flag\(s\) 'm'/],
    ['s/$x/b/', /interpolates a Perl variable/],
    ['s/a/$x/', /variable \$x/],
    ['s/a/@list/', /array @list/],
    ['s//b/', /empty pattern/],
    ['$_ = lc $_', /Perl code omirr does not run/],
    ['s/a/b', /unterminated/],
    ['s/a/b/ print', /expected ;/],
    ['tr/a-z/A-Z/c', /tr\/\/\/ flag/],
    ['s/(/x/', /pattern/],
  ] as Array<[string, RegExp]>) {
    assert.throws(() => compilePerlSubst(code), (e: unknown) => e instanceof PerlCodeError && re.test(e.message), code);
  }
});

const f = (path: string, size = 10): Entry => ({ path, kind: 'file', size, mtimeMs: 1_000_000, mode: 0o644 });
const d = (path: string): Entry => ({ path, kind: 'dir', size: 0, mtimeMs: 1_000_000, mode: 0o755 });
const l = (path: string, target: string): Entry => ({ path, kind: 'symlink', size: 0, mtimeMs: 1_000_000, mode: 0o777, target });
const byPath = (es: Entry[]) => Object.fromEntries(es.map((e) => [e.path, e.kind === 'symlink' ? `-> ${e.target}` : e.kind]));

test('localView: name_mappings renames directories and what is in them; get_patt stays on remote names (caller)', () => {
  const v = localView([d('Old'), f('Old/a.TXT'), f('top'), l('lnk', 'Old/a.TXT')], { map: compilePerlSubst('s:^Old:new:;s/\\.TXT$/.txt/') });
  assert.deepEqual(byPath(v.entries), { new: 'dir', 'new/a.txt': 'file', top: 'file', lnk: '-> Old/a.TXT' }, 'link targets are mapped only with the gz suffix, as mirror');
  assert.equal(v.copies.get('new/a.txt')?.remote.path, 'Old/a.TXT');
});

test('localView: compress_patt keeps files compressed; links to them follow; excluded and squished names stay', () => {
  const compress = { patt: /Packages|\.txt$/, excl: /\.(Z|z|gz)$/i, suffix: 'gz', sizeFloor: 5 };
  const v = localView(
    [f('Packages'), f('small.txt', 3), f('x.txt.gz'), f('both.txt'), f('both.txt.gz'), l('P', 'Packages'), d('Packages.d'), f('Packages.d/y.txt')],
    { compress },
  );
  assert.deepEqual(byPath(v.entries), {
    'Packages.gz': 'file',
    'small.txt': 'file',
    'x.txt.gz': 'file',
    'both.txt.gz': 'file',
    'P.gz': '-> Packages.gz',
    'Packages.d': 'dir',
    'Packages.d/y.txt.gz': 'file',
  });
  assert.equal(v.copies.get('Packages.gz')?.how, 'compress');
  assert.equal(v.copies.get('small.txt')?.how, 'copy', 'compress_size_floor');
  assert.deepEqual(v.skipped.map((s) => s.path), ['both.txt'], 'a compressed version is on the site too');
});

test('localView: compress -> gzip conversion of .Z files (suffix gz only), links pointing at them', () => {
  const convert = { patt: /(\.Z|\.taz)$/, rename: compilePerlSubst('s/\\.Z$/.gz/;s/\\.taz$/.tgz/') };
  const compress = { patt: /^$/, suffix: 'gz', sizeFloor: 0 };
  const v = localView([f('a.Z'), f('b.taz'), f('c.Z'), f('c.gz'), l('cur.Z', 'a.Z')], { compress, convert });
  assert.deepEqual(byPath(v.entries), { 'a.gz': 'file', 'b.tgz': 'file', 'c.gz': 'file', 'cur.gz': '-> a.gz' });
  assert.equal(v.copies.get('a.gz')?.how, 'convert');
  assert.equal(v.copies.get('c.gz')?.how, 'copy', "the site's own c.gz; its c.Z is not fetched");
  const noConv = localView([f('a.Z')], { compress: { ...compress, suffix: 'Z' }, convert });
  assert.deepEqual(byPath(noConv.entries), { 'a.Z': 'file' });
});

test('localView: a mapping that leaves local_dir is skipped, not followed', () => {
  const v = localView([f('a'), f('b'), f('c')], { map: compilePerlSubst('s:^a$:../escape:;s:^b$:/etc/passwd:') });
  assert.deepEqual(byPath(v.entries), { c: 'file' });
  assert.deepEqual(v.skipped.map((s) => s.path), ['a', 'b']);
  assert.match(v.skipped[0]!.reason, /not a path inside local_dir/);
});
