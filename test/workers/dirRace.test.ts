// A local copy makes the plan's directories (an `apply` task of mkdir ops) while its first
// batches copy (executePlan.ts transfer): a copy task makes the missing directories of its own
// files (assertRealDirChain), so either may find a directory the other made between its lstat
// and its mkdir. Each takes a real directory found so (no failed file, no failed mkdir), and
// still refuses a symlink or a file put there. The window is made here by a lstat that makes
// the entry, then answers ENOENT as it would have a moment before.
import { afterEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { assertRealDirChain } from '../../src/workers/paths.js';
import { apply } from '../../src/workers/fsTasks.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

afterEach(() => {
  mock.restoreAll();
  syncBuiltinESMExports();
});

/** lstat of `abs`: the first time, `make` runs (another thread's mkdir), then ENOENT (what it saw just before). */
function raceAt(abs: string, make: () => void): void {
  const real = fs.lstatSync;
  let raced = false;
  mock.method(fs, 'lstatSync', (p: fs.PathLike, o?: fs.StatSyncOptions) => {
    if (!raced && String(p) === abs) {
      raced = true;
      make();
      throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${abs}'`), { code: 'ENOENT' });
    }
    return real(p, o as never);
  });
  syncBuiltinESMExports();
}

test('a copy task takes a directory made between its lstat and its mkdir', () => {
  const root = tempDir('dir-race-copy');
  try {
    raceAt(join(root, 'a'), () => fs.mkdirSync(join(root, 'a')));
    assertRealDirChain(root, 'a/b', new Set(), true);
    assert.ok(fs.statSync(join(root, 'a', 'b')).isDirectory());
  } finally {
    removeDir(root);
  }
});

test('a symlink put there in that window is still refused', () => {
  const root = tempDir('dir-race-link');
  try {
    raceAt(join(root, 'a'), () => fs.symlinkSync('/', join(root, 'a')));
    assert.throws(() => assertRealDirChain(root, 'a/b', new Set(), true), /symlink/);
    assert.deepEqual(fs.readdirSync(join(root)), ['a'], 'nothing made through it');
  } finally {
    removeDir(root);
  }
});

test("the plan's mkdir op takes a directory a copy task made meanwhile; a file there fails it", () => {
  const root = tempDir('dir-race-apply');
  try {
    raceAt(join(root, 'a'), () => fs.mkdirSync(join(root, 'a'), { mode: 0o700 }));
    const [made] = apply({ root, ops: [{ op: 'mkdir', path: 'a', mode: 0o750 }], chown: false });
    assert.deepEqual(made, { path: 'a', ok: true });
    assert.equal(fs.statSync(join(root, 'a')).mode & 0o7777, 0o750, 'the mode set on the one found');
    mock.restoreAll();
    raceAt(join(root, 'f'), () => fs.writeFileSync(join(root, 'f'), 'x'));
    const [file] = apply({ root, ops: [{ op: 'mkdir', path: 'f', mode: 0o755 }], chown: false });
    assert.equal(file?.ok, false, 'a file is not a directory');
  } finally {
    removeDir(root);
  }
});
