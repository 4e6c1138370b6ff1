// The quick local check's shared walk (src/engine/quickLocal.ts, src/workers/pairScan.ts):
// the main thread and the pair thread each walk some of the top-level directories of both
// trees, and when the trees differ the pieces are put back together as the scans the full
// command takes: restricted to the top-level directories that differ (the same ones left
// out of both), or whole where the source had an entry skipped. As an adversary: the pieces
// must be exactly one whole walk of each root (same entries, same order) restricted to
// those directories, whoever walked which, with directories on one side only, a directory
// on one side that is a file on the other, and a difference in the last directory (the one
// the thread walks first); and a restricted scan planned without its pair must never be
// (syncTrees scans both again): with --delete it would remove every file left out.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quickLocalSync } from '../../src/engine/quickLocal.js';
import { restrictionOf, takePrescan } from '../../src/engine/localScan.js';
import { scan } from '../../src/workers/scanTask.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { closePools } from '../../src/workers/pool.js';
import { describeTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) removeDir(d);
  await closePools();
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
  assert.equal(restrictionOf(got), undefined, 'not restricted');
  const whole = scan({ root });
  assert.equal(got.entries.length, whole.entries.length);
  assert.deepEqual(got.entries, whole.entries);
  assert.deepEqual(got.skipped, whole.skipped);
}

/**
 * The scans quickLocalSync handed over for `src` and `dst` are one restricted pair: each
 * equals one whole walk of its root with the entries below the top-level directories not in
 * `differing` left out, both carry the same restriction, and its totals count the whole walks.
 */
async function assertOfferedRestricted(src: string, dst: string, differing: string[]): Promise<void> {
  const got = await Promise.all([src, dst].map((root) => takePrescan(root) ?? assert.fail(`no scan offered for ${root}`)));
  const restriction = restrictionOf(got[0]!);
  assert.ok(restriction, 'restricted');
  assert.equal(restrictionOf(got[1]!), restriction, 'the same restriction on both');
  const keepOf = (path: string): boolean => !path.includes('/') || differing.includes(path.slice(0, path.indexOf('/')));
  const wholes = [src, dst].map((root) => scan({ root }));
  [0, 1].forEach((i) => {
    assert.deepEqual(got[i]!.entries, wholes[i]!.entries.filter((e) => keepOf(e.path)), i ? 'dst' : 'src');
    assert.deepEqual(got[i]!.skipped, wholes[i]!.skipped);
  });
  assert.deepEqual(restriction.totals, { src: wholes[0]!.entries.length, dst: wholes[1]!.entries.length });
}

describe('the quick local check, shared between two threads', () => {
  test('a no-op is found the quick way; one difference in the first, a middle or the last directory is found, and the scans handed over are restricted to it on both sides', async () => {
    const { src, dst } = synced40('pairlast');
    assert.equal(await quickLocalSync(src, dst), true);
    for (const d of ['d39', 'd20', 'd00']) {
      chmodSync(join(dst, `${d}/f299`), 0o600);
      assert.equal(await quickLocalSync(src, dst), false, d);
      await assertOfferedRestricted(src, dst, [d]);
      chmodSync(join(dst, `${d}/f299`), 0o644);
      assert.equal(await quickLocalSync(src, dst), true, `${d} as it was`);
    }
    free40 = { src, dst }; // synced again: the last check above was a no-op
  });

  test('a source entry skipped (a FIFO): whole walks handed over, the directories walked before it was found walked again', async () => {
    const { src, dst } = synced40('pairskip');
    // a difference in d00 (walked first, before the skip in d30 is found), and the FIFO
    chmodSync(join(dst, 'd00/f299'), 0o600);
    const d30 = lstatSync(join(src, 'd30'));
    assert.equal(spawnSync('mkfifo', [join(src, 'd30/fifo')]).status, 0);
    assert.equal(await quickLocalSync(src, dst), false);
    assert.equal(takePrescan(src), undefined, 'the source not offered: the full command scans it and reports the skip');
    await assertOfferedWhole(dst);
    rmSync(join(src, 'd30/fifo'));
    utimesSync(join(src, 'd30'), d30.atime, d30.mtime);
    chmodSync(join(dst, 'd00/f299'), 0o644);
    utimesSync(join(dst, 'd30'), d30.atime, d30.mtime);
    assert.equal(await quickLocalSync(src, dst), true);
    free40 = { src, dst };
  });

  test('a restricted scan without its pair is never planned: the full command scans both again, and --delete removes nothing left out', async () => {
    const { src, dst } = synced40('pairlone');
    writeFileSync(join(src, 'd07/new'), 'new in d07');
    writeFileSync(join(dst, 'd12/extra'), 'only in the destination');
    const before = describeTree(dst);
    for (const drop of [src, dst]) {
      assert.equal(await quickLocalSync(src, dst), false);
      // one of the pair taken away (as if it had gone stale): the other alone is restricted
      await takePrescan(drop);
      const r = await mirrorTree(src, dst, { delete: true, dryRun: true });
      assert.deepEqual(r.scanned, { src: scan({ root: src }).entries.length, dst: scan({ root: dst }).entries.length }, 'scanned whole');
      assert.equal(r.planned.transfers, 1, 'only the new file');
      assert.equal(r.planned.deletes, 1, 'only the extra file');
      assert.deepEqual(describeTree(dst), before, 'a dry run');
    }
    // and with the pair whole, for real
    assert.equal(await quickLocalSync(src, dst), false);
    const r = await mirrorTree(src, dst, { delete: true });
    assert.equal(r.filesSent, 1);
    assert.equal(r.deleted, 1);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.equal(await quickLocalSync(src, dst), true);
    free40 = { src, dst };
  });

  test('directories on one side only, and a directory that is a file on the other: not a no-op, and the scans restricted to those', async () => {
    const { src, dst } = synced40('pairtop');
    mkdirSync(join(dst, 'zz-only-here/deeper'), { recursive: true });
    writeFileSync(join(dst, 'zz-only-here/deeper/x'), 'x');
    mkdirSync(join(src, 'a-only-there'));
    writeFileSync(join(src, 'a-only-there/y'), 'y');
    rmSync(join(dst, 'd20'), { recursive: true });
    writeFileSync(join(dst, 'd20'), 'a file where the source has a directory');
    assert.equal(await quickLocalSync(src, dst), false);
    await assertOfferedRestricted(src, dst, ['a-only-there', 'd20', 'zz-only-here']);
    assert.equal(await quickLocalSync(src, dst), false);
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
