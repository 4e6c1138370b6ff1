// The mirror template: mm's substitution order and plain replacement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ORIGINAL_MIRROR_TEMPLATE,
  defaultMirrorTemplate,
  expandTemplate,
  pkgFileName,
  shellQuote,
  jobArgs,
} from '../../src/core/mmTemplate.js';

test('the original default template expands as mm.pl did', () => {
  assert.equal(
    expandTemplate(ORIGINAL_MIRROR_TEMPLATE, { args: '-d', site: 'ftp.x.org', pkg: 'gnu emacs/x' }),
    "exec ./mirror -d -p'gnu emacs/x' packages/ftp.x.org > logs/ftp.x.org:gnu_emacs_x 2>&1",
  );
});

test('our default runs the built-in mirror, without a redirection', () => {
  const t = defaultMirrorTemplate(`${shellQuote(process.execPath)} ${shellQuote('/opt/omirr dir/bin/omirr.js')}`);
  assert.equal(t, `exec ${shellQuote(process.execPath)} '/opt/omirr dir/bin/omirr.js' mirror $args -p'$package' packages/$site`);
  assert.equal(
    expandTemplate(defaultMirrorTemplate('omirr'), { args: '', site: 's', pkg: 'p' }),
    "exec omirr mirror  -p'p' packages/s",
  );
});

test('$pkg: whitespace, / and \' become _', () => {
  const cases: Array<[string, string]> = [
    ['plain', 'plain'],
    ['a b\tc\nd', 'a_b_c_d'],
    ['x/y/z', 'x_y_z'],
    ["it's", 'it_s'],
    ['a:b.c-d', 'a:b.c-d'],
  ];
  for (const [pkg, want] of cases) assert.equal(pkgFileName(pkg), want);
});

test('order: $args, $site, $package, $pkg; each sees the previous output', () => {
  // a $site inside the args is expanded too
  assert.equal(expandTemplate('$args', { args: '-k site=$site', site: 'S', pkg: 'P' }), '-k site=S');
  // $package inside args is expanded as well, $pkg too
  assert.equal(expandTemplate('[$args]', { args: '$package $pkg', site: 'S', pkg: 'a b' }), '[a b a_b]');
  // $package and $pkg side by side: $pkg never clobbers $package
  assert.equal(
    expandTemplate('$package|$pkg|$packages|$pkgx|$site$site', { args: '', site: 'S', pkg: 'p/q' }),
    'p/q|p_q|p/qs|p_qx|SS',
  );
  // but a site containing "$package" is expanded by the later step, as in mm.pl
  assert.equal(expandTemplate('$site', { args: '', site: 'x$package', pkg: 'P' }), 'xP');
  // replacement text is literal: no $& or $1 patterns
  assert.equal(expandTemplate('$args', { args: "$& $1 $$ $'", site: 's', pkg: 'p' }), "$& $1 $$ $'");
  // plain prefix replacement, no word boundaries
  assert.equal(expandTemplate('$argsX $sites', { args: 'A', site: 'S', pkg: 'P' }), 'AX Ss');
  // unknown variables stay for the shell
  assert.equal(expandTemplate('$HOME $args', { args: 'a', site: 's', pkg: 'p' }), '$HOME a');
});

test('shellQuote leaves plain words alone and quotes the rest for /bin/sh', () => {
  const cases: Array<[string, string]> = [
    ['/usr/bin/node', '/usr/bin/node'],
    ['-kfoo=bar', '-kfoo=bar'],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ['', "''"],
    ['$x', "'$x'"],
    ['a;b', "'a;b'"],
  ];
  for (const [s, want] of cases) assert.equal(shellQuote(s), want);
});

test('jobArgs: line args then pass-through args, each quoted if needed', () => {
  assert.equal(jobArgs('', []), '');
  assert.equal(jobArgs('-v', []), '-v');
  assert.equal(jobArgs('', ['-d']), '-d');
  assert.equal(jobArgs('-v "x y"', ['-d', '-klocal_dir=/a b']), `-v "x y" -d '-klocal_dir=/a b'`);
});
