import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMirrorDefaults, mirrorDefaultsDirs } from '../../src/mirror/mirrorDefaults.js';

test("mirror.defaults is found where mirror found it: /etc/mirror, mirror's (the current) directory, PERL5LIB, perl's site dirs", (t) => {
  const d = mkdtempSync(join(tmpdir(), 'omirr-defaults-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const [debian, cwd, lib, site] = ['etc-mirror', 'home', 'lib', 'site'].map((n) => join(d, n));
  for (const x of [cwd, lib, site]) mkdirSync(x!);
  const systemDirs = { debian: debian!, perl: [site!] };
  const find = (env: NodeJS.ProcessEnv = {}) => findMirrorDefaults({ cwd: cwd!, env, systemDirs });
  assert.equal(find(), undefined, 'none anywhere');
  writeFileSync(join(site!, 'mirror.defaults'), 'package=defaults\n');
  assert.equal(find(), join(site!, 'mirror.defaults'));
  writeFileSync(join(lib!, 'mirror.defaults'), 'package=defaults\n');
  assert.equal(find({ PERL5LIB: lib! }), join(lib!, 'mirror.defaults'), 'PERL5LIB before the site dirs');
  assert.equal(find({ PERLLIB: lib! }), join(lib!, 'mirror.defaults'), 'PERLLIB when PERL5LIB is unset');
  assert.equal(find({ PERL5LIB: site!, PERLLIB: lib! }), join(site!, 'mirror.defaults'), 'PERLLIB is ignored when PERL5LIB is set (perl)');
  writeFileSync(join(cwd!, 'mirror.defaults'), 'package=defaults\n');
  assert.equal(find({ PERL5LIB: lib! }), join(cwd!, 'mirror.defaults'), 'the current directory (mm home, where ./mirror lived) first');
  mkdirSync(debian!);
  assert.equal(find(), join(cwd!, 'mirror.defaults'), '/etc/mirror without the file: keep looking');
  writeFileSync(join(debian!, 'mirror.defaults'), 'package=defaults\n');
  assert.equal(find(), join(debian!, 'mirror.defaults'), "Debian's /etc/mirror comes first");
  assert.deepEqual(mirrorDefaultsDirs({ cwd: cwd!, env: { PERL5LIB: `${lib}:rel` }, systemDirs }), [debian, cwd, lib, join(cwd!, 'rel'), site]);
});
