// An mm input plus packages/ on a fresh install: `omirr mm`'s default mirror= template runs
// the built-in `omirr mirror` (no Perl), and mm sees mirror's exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { omirr, sha, snapshot, tempDir, writeTree } from '../helpers/mirrorFixtures.js';

test('omirr mm runs packages/<site> with the built-in mirror by default', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'up/pub'), { 'd/f': 'hello', g: 'world' });
  const home = join(dir, 'home');
  mkdirSync(join(home, 'packages'), { recursive: true });
  writeFileSync(
    join(home, 'packages/upstream.example'),
    `package=defaults\n  site=${dir}/up\npackage=good\n  remote_dir=pub\n  local_dir=mirrors/good\npackage=broken\n  remote_dir=missing\n  local_dir=mirrors/broken\n`,
  );
  writeFileSync(join(home, 'mm.in'), `home=${home}\nupstream.example:good 0 0\nupstream.example:broken 0 0\n`);
  const r = await omirr(['mm', 'mm.in'], { cwd: home, timeoutMs: 50_000 });
  assert.equal(r.code, 1, 'one job failed (omirr mm: FAILED) ' + r.stdout + r.stderr);
  const s = snapshot(join(home, 'mirrors/good'));
  assert.equal(s['d/f']!.sha256, sha('hello'));
  assert.equal(s.g!.sha256, sha('world'));
  assert.match(readFileSync(join(home, 'logs/upstream.example:good'), 'utf8'), /package=good: got 2 file\(s\)/);
  assert.match(readFileSync(join(home, 'logs/upstream.example:broken'), 'utf8'), /listing .* failed/);
  const status = readFileSync(join(home, 'mm.status'), 'utf8');
  assert.match(status, /^upstream\.example:good \d+ 0 u \d+$/m);
  assert.match(status, /^upstream\.example:broken \d+ 256 u \d+$/m, 'exit 1 is wait status 256');
});
