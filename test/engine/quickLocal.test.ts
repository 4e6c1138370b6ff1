// The quick local check's shared walk (src/engine/quickLocal.ts, src/workers/pairScan.ts):
// the main thread and the pair thread each walk some of the top-level directories of both
// trees, and when the trees differ the pieces are put back together as the scans the full
// command takes. As an adversary: the pieces must be exactly one whole walk of each root
// (same entries, same order), whoever walked which, with directories on one side only, a
// directory on one side that is a file on the other, and a difference in the last
// directory (the one the thread walks first).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quickLocalSync } from '../../src/engine/quickLocal.js';
import { takePrescan } from '../../src/engine/localScan.js';
import { scan } from '../../src/workers/scanTask.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

/** A source of `n` top-level directories of 300 files each (enough that the pair thread boots in time to walk some), synced to dst. */
function synced(tag: string, n: number): { src: string; dst: string } {
  const base = tempDir(tag);
  dirs.push(base);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (let d = 0; d < n; d++) {
    mkdirSync(join(src, `d${String(d).padStart(2, '0')}`, 'sub'), { recursive: true });
    for (let i = 0; i < 300; i++) writeFileSync(join(src, `d${String(d).padStart(2, '0')}`, i % 10 ? `f${i}` : `sub/f${i}`), `${d}/${i}`);
  }
  writeFileSync(join(src, 'top.txt'), 'top');
  symlinkSync('top.txt', join(src, 'link'));
  const r = spawnSync(process.execPath, [bin, 'sync', src, dst], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { src, dst };
}

/**
 * The 40-directory pair, handed back by a test that ended with it synced (its last check: a
 * quick no-op), for the next test that needs one. Making it (12,000 files written, then a
 * first sync, and their removal) was about half of this file's CPU per test. A test that
 * fails before handing it back leaves none: the next one makes its own.
 */
let free40: { src: string; dst: string } | undefined;
function synced40(tag: string): { src: string; dst: string } {
  const pair = free40 ?? synced(tag, 40);
  free40 = undefined;
  return pair;
}

/** The scan quickLocalSync handed over for `root` equals one whole walk of it. */
async function assertOfferedWhole(root: string): Promise<void> {
  const offered = takePrescan(root);
  assert.ok(offered, `no scan offered for ${root}`);
  const got = await offered;
  const whole = scan({ root });
  assert.equal(got.entries.length, whole.entries.length);
  assert.deepEqual(got.entries, whole.entries);
  assert.deepEqual(got.skipped, whole.skipped);
}

describe('the quick local check, shared between two threads', () => {
  test('a no-op is found the quick way; one difference in the first, a middle or the last directory is found, and both scans handed over are whole walks (the directories walked before it was found walked again)', async () => {
    const { src, dst } = synced40('pairlast');
    assert.equal(await quickLocalSync(src, dst), true);
    for (const d of ['d39', 'd20', 'd00']) {
      chmodSync(join(dst, `${d}/f299`), 0o600);
      assert.equal(await quickLocalSync(src, dst), false, d);
      await assertOfferedWhole(src);
      await assertOfferedWhole(dst);
      chmodSync(join(dst, `${d}/f299`), 0o644);
      assert.equal(await quickLocalSync(src, dst), true, `${d} as it was`);
    }
    free40 = { src, dst }; // synced again: the last check above was a no-op
  });

  test('directories on one side only, and a directory that is a file on the other: not a no-op, and whole walks handed over', async () => {
    const { src, dst } = synced40('pairtop');
    mkdirSync(join(dst, 'zz-only-here/deeper'), { recursive: true });
    writeFileSync(join(dst, 'zz-only-here/deeper/x'), 'x');
    mkdirSync(join(src, 'a-only-there'));
    writeFileSync(join(src, 'a-only-there/y'), 'y');
    rmSync(join(dst, 'd20'), { recursive: true });
    writeFileSync(join(dst, 'd20'), 'a file where the source has a directory');
    assert.equal(await quickLocalSync(src, dst), false);
    await assertOfferedWhole(src);
    await assertOfferedWhole(dst);
    // the full command, given those scans, makes the copy whole
    const r = spawnSync(process.execPath, [bin, 'sync', '--delete', src, dst], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await quickLocalSync(src, dst), true);
    free40 = { src, dst }; // synced again: the last check above was a no-op
  });

  test('the working directory is the same after the check as before it', async () => {
    // any synced pair: the main thread enters d00 and d01 (where the difference is) in either;
    // the one handed on by the tests above, if they passed (it was a pair of 4 directories
    // made for this test alone: 1,200 files and a first sync)
    const { src, dst } = synced40('paircwd');
    const before = process.cwd();
    writeFileSync(join(src, 'd01/new'), 'new');
    assert.equal(await quickLocalSync(src, dst), false);
    assert.equal(process.cwd(), before);
    takePrescan(src);
    takePrescan(dst);
  });
});
