// LocalTree + syncTrees end to end on real directories: round trip, --delete, --exclude,
// --dry-run, --checksum, resume of a partial large file, hostile paths in plans.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { executePlan } from '../../src/engine/executePlan.js';
import { compileExcludes } from '../../src/engine/exclude.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { planSync } from '../../src/core/plan.js';
import { closePools } from '../../src/workers/pool.js';
import { describeTree, makeSampleTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
function fresh(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

function trees(srcRoot: string, dstRoot: string): [LocalTree, LocalTree] {
  return [new LocalTree(srcRoot, { writable: false }), new LocalTree(dstRoot, { writable: true, create: true })];
}

describe('syncTrees (local)', () => {
  test('round trip: content, modes, mtimes, symlinks, empty dirs; second run is a no-op', async () => {
    const base = fresh('rt');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const r = await syncTrees(...trees(src, dst));
    assert.deepEqual(r.failed, []);
    assert.equal(r.filesSent, 49);
    assert.deepEqual(describeTree(dst), describeTree(src));
    assert.deepEqual(tempFiles(dst), []);
    const again = await syncTrees(...trees(src, dst));
    assert.equal(again.filesSent, 0);
    assert.equal(again.planned.setattrs, 0, 'directory mtimes were restored after the writes');
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  test('changes: a modified file, a mode change, a file replaced by a directory', async () => {
    const base = fresh('chg');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    await syncTrees(...trees(src, dst));
    writeFileSync(join(src, 'one'), 'changed content');
    rmSync(join(src, 'exec.sh'));
    mkdirSync(join(src, 'exec.sh'));
    writeFileSync(join(src, 'exec.sh/inside'), 'x');
    const r = await syncTrees(...trees(src, dst), { delete: true });
    assert.deepEqual(r.failed, []);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  test('--delete removes what the source lacks; without it nothing is deleted', async () => {
    const base = fresh('del');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    await syncTrees(...trees(src, dst));
    mkdirSync(join(dst, 'extra/sub'), { recursive: true });
    writeFileSync(join(dst, 'extra/sub/file'), 'x');
    writeFileSync(join(dst, 'stray'), 'y');
    const keep = await syncTrees(...trees(src, dst));
    assert.equal(keep.deleted, 0);
    assert.ok(existsSync(join(dst, 'stray')));
    const r = await syncTrees(...trees(src, dst), { delete: true });
    assert.equal(r.deleted, 4);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  test('--exclude leaves matching paths out on both sides', async () => {
    const base = fresh('exc');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    mkdirSync(dst);
    writeFileSync(join(dst, 'mine.bin'), 'excluded, so never deleted');
    writeFileSync(join(dst, 'stray'), 'not excluded: deleted');
    const exclude = compileExcludes(['*.bin', 'many/', '/empty']);
    const r = await syncTrees(...trees(src, dst), { delete: true, exclude });
    assert.deepEqual(r.failed, []);
    const got = describeTree(dst);
    assert.ok(!('a/big.bin' in got) && !('a/b/c/deep.bin' in got));
    assert.ok(!('many' in got) && !('empty' in got));
    assert.ok('mine.bin' in got);
    assert.ok(!('stray' in got));
    assert.ok('a/b/c' in got && 'one' in got);
  });

  test('--dry-run writes nothing', async () => {
    const base = fresh('dry');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    mkdirSync(dst);
    writeFileSync(join(dst, 'stray'), 'y');
    const before = describeTree(dst);
    const r = await syncTrees(new LocalTree(src, { writable: false }), new LocalTree(dst, { writable: false }), { dryRun: true, delete: true });
    assert.equal(r.dryRun, true);
    assert.equal(r.planned.transfers, 49);
    assert.equal(r.planned.deletes, 1);
    assert.equal(r.filesSent, 0);
    assert.deepEqual(describeTree(dst), before);
  });

  test('--checksum catches a same-size, same-mtime change', async () => {
    const base = fresh('ck');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    await syncTrees(...trees(src, dst));
    const p = join(dst, 'many/f10');
    const st = statSync(p);
    const buf = readFileSync(p);
    buf[0] = buf[0]! ^ 0xff;
    writeFileSync(p, buf);
    utimesSync(p, st.atime, st.mtime);
    const quick = await syncTrees(...trees(src, dst));
    assert.equal(quick.filesSent, 0, 'size+mtime cannot see it');
    const r = await syncTrees(...trees(src, dst), { checksum: true });
    assert.equal(r.filesSent, 1);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });

  test('a partial large file left by a broken transfer is resumed, not resent', async () => {
    const base = fresh('res');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    const data = Buffer.alloc(5 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    writeFileSync(join(src, 'big'), data);
    const [s, d] = trees(src, dst);
    const entries = await s.scan({ withHashes: true });
    const plan = planSync(entries, []);
    // what a killed receiver leaves: the first 2 MiB under the temporary name
    mkdirSync(dst);
    writeFileSync(join(dst, tempPathFor(plan.transfers[0]!)), data.subarray(0, 2 << 20));
    assert.deepEqual(await d.resumeOffsets(plan.transfers), new Map([['big', 2 << 20]]));
    const r = await executePlan(s, d, plan, {});
    assert.deepEqual(r.failed, []);
    assert.equal(r.resumedBytes, 2 << 20);
    assert.equal(r.bytesSent, 3 << 20);
    assert.ok(readFileSync(join(dst, 'big')).equals(data));
    assert.deepEqual(tempFiles(dst), []);
  });

  test('a corrupt partial file fails the hash check and is not installed', async () => {
    const base = fresh('badres');
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    const data = Buffer.alloc(3 << 20, 7);
    writeFileSync(join(src, 'big'), data);
    const [s, d] = trees(src, dst);
    const plan = planSync(await s.scan({ withHashes: true }), []);
    mkdirSync(dst);
    writeFileSync(join(dst, tempPathFor(plan.transfers[0]!)), Buffer.alloc(1 << 20, 9));
    const r = await executePlan(s, d, plan, {});
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.error, /hash mismatch/);
    assert.ok(!existsSync(join(dst, 'big')));
    assert.deepEqual(tempFiles(dst), []);
    const again = await syncTrees(s, d);
    assert.deepEqual(again.failed, []);
    assert.ok(readFileSync(join(dst, 'big')).equals(data));
  });

  test('apply refuses paths through a symlink and unsafe paths', async () => {
    const base = fresh('ops');
    const dst = join(base, 'dst');
    const outside = join(base, 'outside');
    mkdirSync(dst);
    mkdirSync(outside);
    symlinkSync(outside, join(dst, 'evil'));
    const d = new LocalTree(dst, { writable: true });
    const res = await d.apply([
      { op: 'mkdir', path: 'evil/x', mode: 0o755 },
      { op: 'symlink', path: 'evil/l', target: '/etc' },
      { op: 'remove', path: '../outside' },
      { op: 'setattr', path: '/etc/passwd', mode: 0o777 },
    ]);
    assert.deepEqual(res.map((r) => r.ok), [false, false, false, false]);
    assert.deepEqual(describeTree(outside), {});
  });

  test('a read-only tree refuses writes', async () => {
    const d = new LocalTree(fresh('ro'), { writable: false });
    await assert.rejects(d.apply([{ op: 'mkdir', path: 'x', mode: 0o755 }]), /read-only/);
  });
});
