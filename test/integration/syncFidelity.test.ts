// What `omirr sync` keeps besides content, between two local directories (the omirr://
// forms are in serveHarden.test.ts): mtimes to the microsecond and never in another second
// (issue 9, item 12), and holes of sparse files.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { omirr, type CliResult } from '../helpers/mirrorFixtures.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { assertNoOp, byteSnapshot, firstDifference, havePython, makeBadNameTree, makeLongPath, makeNsMtimeTree, makeSparseFile, mtimeMismatches, nsMtimes, rawPath, rmDeep } from '../helpers/fidelityFixtures.js';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

const sync = (args: string[]): Promise<CliResult> => omirr(['sync', ...args], { cwd: tmpdir(), timeoutMs: 120_000 });

// Every case has its own directories: three run at a time.
describe('omirr sync fidelity', { concurrency: 3 }, () => {
  test('2,000 files with random ns mtimes: every copy in the same second and the same microsecond; a rerun changes nothing', { skip: havePython() ? false : 'python3 is needed to set nanosecond mtimes' }, async () => {
    const base = tempDir('nsmtime');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    const times = makeNsMtimeTree(src, 2000, 7);
    assert.deepEqual(mtimeMismatches(times, nsMtimes(src, times.keys())), [], 'the source has the ns times');
    const r = await sync([src, dst, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(mtimeMismatches(times, nsMtimes(dst, times.keys())), []);
    const again = JSON.parse((await sync([src, dst, '--json'])).stdout);
    assert.equal(again.filesSent, 0);
    assert.equal(again.planned.setattrs, 0, 'compared at the precision that was set: nothing to fix');
  });

  test('a 256 MiB file with 4 KiB of data keeps its holes (local copy)', async () => {
    const base = tempDir('sparse');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    const data = Buffer.alloc(4096, 0x5a);
    makeSparseFile(join(src, 'sparse.img'), 256 << 20, data, 100 << 20);
    // and a file whose zero run is not block-aligned, with data at its very end
    makeSparseFile(join(src, 'tail.img'), (8 << 20) + 10, Buffer.from('end!'), (8 << 20) + 6);
    const before = statSync(join(src, 'sparse.img'));
    assert.ok(before.blocks * 512 < 1 << 20, `the source is sparse (${before.blocks} blocks)`);
    const r = await sync([src, dst]);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['sparse.img', 'tail.img']) {
      const st = statSync(join(dst, name));
      assert.equal(st.size, statSync(join(src, name)).size);
      assert.ok(st.blocks * 512 < 1 << 20, `${name} arrived with ${st.blocks * 512} bytes on disk`);
      // byte by byte (not both hashed: fidelityFixtures' firstDifference)
      assert.equal(firstDifference(join(dst, name), join(src, name)), -1, `${name}: first byte that differs`);
    }
  });

  test('names and symlink targets that are not UTF-8 are mirrored byte-exactly (names, contents, targets); exit 0; a rerun is a no-op', async () => {
    const base = tempDir('badnames');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    const raw = makeBadNameTree(src);
    const r = await sync([src, dst, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const want = byteSnapshot(src);
    for (const rel of raw) assert.ok(want.has(rel.toString('hex')), `the fixture made ${rel.toString('hex')}`);
    assert.deepEqual(byteSnapshot(dst), want);
    assert.deepEqual(JSON.parse(r.stdout).failed, []);
    const again = await sync([src, dst, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assertNoOp(JSON.parse(again.stdout), 'second run');
    // a change to a file with a bad name, and a delete of one, are carried too
    writeFileSync(rawPath(src, 'bad-', [0xff, 0xfe], '.txt'), 'changed\n');
    rmSync(Buffer.concat([rawPath(src, 'caf', [0xe9], ' ü '), Buffer.from([0xc3, 0x28])]));
    const third = await sync([src, dst, '--delete', '--json']);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(byteSnapshot(dst), byteSnapshot(src));
  });

  test('paths longer than 4096 bytes are reported loudly (exit 1, --json failed, the log), never skipped silently; the rest arrives', { skip: havePython() ? false : 'python3 is needed to build a path longer than PATH_MAX' }, async () => {
    const base = tempDir('longpath');
    after(() => rmDeep(base));
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'ok.txt'), 'fine\n');
    writeFileSync(rawPath(src, 'bad-', [0xff, 0xfe], '.txt'), 'latin junk\n');
    const long = makeLongPath(src, 4200);
    const r = await sync([src, dst, '--json']);
    assert.equal(r.code, 1, `exit 1: ${r.stderr}`);
    const s = JSON.parse(r.stdout);
    const failed = new Map<string, string>(s.failed.map((f: { path: string; error: string }) => [f.path, f.error]));
    const longFail = [...failed].find(([p]) => long.startsWith(p));
    assert.ok(longFail, `the long path is reported: ${[...failed.keys()].join(', ')}`);
    assert.match(longFail[1], /path too long/);
    assert.equal(failed.size, 1, 'only the long path fails: the name that is not UTF-8 is mirrored');
    assert.match(r.stderr, /path too long/, 'the log says it');
    assert.equal(readFileSync(join(dst, 'ok.txt'), 'utf8'), 'fine\n');
    assert.equal(readFileSync(rawPath(dst, 'bad-', [0xff, 0xfe], '.txt'), 'utf8'), 'latin junk\n');
    assert.ok(existsSync(join(dst, 'sub')));
  });

  test('disk full on a local destination: the file is named, nothing partial stays, the rest arrives, a rerun completes once there is room', async (t) => {
    const base = tempDir('localfull');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dst]).status !== 0) return t.skip('needs root to mount a 1 MiB tmpfs');
    after(() => spawnSync('umount', [dst]));
    writeFileSync(join(src, 'a.txt'), 'first\n');
    writeFileSync(join(src, 'big.bin'), randomBytes(2 << 20));
    writeFileSync(join(src, 'z.txt'), 'last\n');
    const r = await sync([src, dst, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const failed = JSON.parse(r.stdout).failed as Array<{ path: string; error: string }>;
    assert.deepEqual(failed.map((f) => f.path), ['big.bin']);
    assert.match(failed[0]!.error, /big\.bin: no space left on device/);
    const names = readdirSync(dst);
    assert.deepEqual(names.filter((n) => n.startsWith('.omirr-part.')), [], 'no temporary left');
    assert.ok(!names.includes('big.bin'));
    assert.equal(readFileSync(join(dst, 'z.txt'), 'utf8'), 'last\n');
    assert.equal(spawnSync('mount', ['-o', 'remount,size=8m', dst]).status, 0);
    const again = await sync([src, dst]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(readFileSync(join(dst, 'big.bin')).equals(readFileSync(join(src, 'big.bin'))));
  });
});
