// `omirr sync --delete SRC DST` with SRC inside DST would delete the source itself (DST's
// entry for it is not in SRC's listing) while it is being read. It is refused before
// anything is touched: exit 1, both trees as they were. Without --delete the same pair
// just copies, as rsync does.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOmirr } from '../helpers/omirrRun.js';
import { describeTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const base = tempDir('nesting');

after(() => removeDir(base));

const omirr = (args: string[]) => runOmirr(args);

test('sync --delete of a source inside its destination is refused; nothing is touched', () => {
  const dst = join(base, 'parent');
  mkdirSync(join(dst, 'child/sub'), { recursive: true });
  writeFileSync(join(dst, 'child/sub/f.txt'), 'the source\n');
  writeFileSync(join(dst, 'other.txt'), 'beside it\n');
  // also through a symlink to the source: the check is on real paths
  symlinkSync(join(dst, 'child'), join(base, 'via-link'));
  const before = describeTree(dst);
  for (const src of [join(dst, 'child'), join(base, 'via-link')]) {
    const r = omirr(['sync', src, dst, '--delete']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /lies inside the destination/);
    assert.deepEqual(describeTree(dst), before);
  }
  // without --delete: the copy is made, the source stays
  const r = omirr(['sync', join(dst, 'child'), dst]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(dst, 'sub/f.txt'), 'utf8'), 'the source\n');
  assert.equal(readFileSync(join(dst, 'child/sub/f.txt'), 'utf8'), 'the source\n');
});
