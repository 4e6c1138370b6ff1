// pkgs_to_mmin: package files in, mm job lines out, quirks of the original included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pkgsToMmin } from '../../src/core/pkgsToMmin.js';
import { parseMmInput } from '../../src/core/mmInput.js';
import { PACKAGE_FILES, PKGS_TO_MMIN_CASES } from '../helpers/mmFixtures.js';

const files = (names: string[], dir = 'packages/') => names.map((n) => ({ name: dir + n, text: PACKAGE_FILES[n]! }));

test('several package files give the original output (checked against pkgs_to_mmin.pl)', () => {
  for (const c of PKGS_TO_MMIN_CASES) {
    const opts: { yes?: number; no?: number } = {};
    if (c.yes !== undefined) opts.yes = c.yes;
    if (c.no !== undefined) opts.no = c.no;
    assert.deepEqual(pkgsToMmin(files(c.files), opts), c.out, c.files.join(' '));
  }
});

test('the output is valid mm input: one job per line', () => {
  const out = pkgsToMmin(files(['ftp.tex.ac.uk']), { yes: 20, no: 4 });
  const r = parseMmInput(out.join('\n') + '\n', 'cmdin');
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(
    r.statements.map((s) => (s.kind === 'job' ? [s.site, s.pkg, s.okHours, s.notokHours, s.args] : s.kind)),
    [
      ['ftp.tex.ac.uk', 'defaults', 20, 4, ''],
      ['ftp.tex.ac.uk', 'ctan-macros', 20, 4, ''],
      ['ftp.tex.ac.uk', 'ctan-doc', 20, 4, ''],
      ['ftp.tex.ac.uk', 'ctan-bin', 20, 4, ''],
    ],
  );
});

test('single-file quirks', () => {
  const one = (text: string, name = 'dir/sub/site.name') => pkgsToMmin([{ name, text }]);
  // the FILE name (without directory) is the site, never site='s value
  assert.deepEqual(one('package=p\nsite=other.host\nx=1\n'), ['site.name:p 8 8']);
  // no site: nothing
  assert.deepEqual(one('package=p\nx=1\n'), []);
  // site= empty or 0 is no site (Perl truth); a space is a site
  assert.deepEqual(one('site=\npackage=p\nx=1\n'), []);
  assert.deepEqual(one('site=0\npackage=p\nx=1\n'), []);
  assert.deepEqual(one('site= \npackage=p\nx=1\n'), ['site.name:p 8 8']);
  // the next package= flushes; indentation and spaces around = allowed; name trimmed
  assert.deepEqual(one(' site = h\n  package =  a b  \nx\n\tpackage\t=c\nx\n'), ['site.name:a b 8 8', 'site.name:c 8 8']);
  // skip= drops the pending package, skip = (space) does not
  assert.deepEqual(one('site=h\npackage=a\nskip=1\npackage=b\nskip =1\nx\n'), ['site.name:b 8 8']);
  // a blank (or whitespace-only) line flushes early, so a later skip= is not seen
  assert.deepEqual(one('site=h\npackage=a\n  \t\nskip=yes\nx\n'), ['site.name:a 8 8']);
  // a package on the last line is flushed BEFORE it is read: never emitted in a lone file
  assert.deepEqual(one('site=h\npackage=a\npackage=b\n'), ['site.name:a 8 8']);
  assert.deepEqual(one('site=h\npackage=a\n'), []);
  // a site= on the last line comes too late for the final flush
  assert.deepEqual(one('package=a\nsite=h\n'), []);
  // package=defaults is emitted like any other
  assert.deepEqual(one('site=h\npackage=defaults\nx\n'), ['site.name:defaults 8 8']);
  // package=0 is false in Perl: never emitted, and does not flush the one before
  assert.deepEqual(one('site=h\npackage=a\npackage=0\nx\n'), ['site.name:a 8 8']);
  // # lines and other keywords are ignored
  assert.deepEqual(one('# package=x\nsite=h\npackage=a\n#skip=1\nx\n'), ['site.name:a 8 8']);
  // CRLF files read the same
  assert.deepEqual(one('site=h\r\npackage=a\r\n\r\npackage=b\r\nx\r\n'), ['site.name:a 8 8', 'site.name:b 8 8']);
  // a last line without newline is read whole (the original's chop cut its last character)
  assert.deepEqual(one('site=h\npackage=a\nx=1'), ['site.name:a 8 8']);
  // standard input is named '-'
  assert.deepEqual(pkgsToMmin([{ name: '-', text: 'site=h\npackage=a\nx\n' }]), ['-:a 8 8']);
  assert.deepEqual(pkgsToMmin([]), []);
});

test('state carries over between files: site never reset, pending package moves on', () => {
  const out = pkgsToMmin([
    { name: 'a', text: 'package=one\nsite=h\nx\n' },
    { name: 'b', text: 'package=two\nx\n' }, // no site= of its own: still emitted
    { name: 'c', text: 'x\npackage=three\n' }, // last-line package: carried to d
    { name: 'd', text: '\nfoo\n' },
  ]);
  assert.deepEqual(out, ['a:one 8 8', 'b:two 8 8', 'd:three 8 8']);
});
