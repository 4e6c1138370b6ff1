// `omirr sync` as a real process: --json summary, exit codes, and kill -9 in the middle
// of a large transfer (no partial file under a real name; the rerun completes it).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTree, makeSampleTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

function omirr(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('omirr sync (CLI)', () => {
  test('--json prints a summary; the tree arrives; a rerun sends nothing', () => {
    const base = tempDir('cli');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const r = omirr(['sync', src, dst, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.ok, true);
    assert.equal(s.filesSent, 49);
    assert.equal(s.symlinks, 3);
    assert.equal(s.dirsCreated, 11);
    assert.deepEqual(s.failed, []);
    assert.deepEqual(describeTree(dst), describeTree(src));
    const again = JSON.parse(omirr(['sync', src, dst, '--json']).stdout);
    assert.equal(again.filesSent, 0);
    assert.equal(again.planned.setattrs, 0);
  });

  test('--dry-run --delete --exclude: reports, changes nothing', () => {
    const base = tempDir('clidry');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    mkdirSync(dst);
    const r = omirr(['sync', src, dst, '--json', '--dry-run', '--delete', '--exclude', 'many/']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.dryRun, true);
    assert.equal(s.planned.transfers, 9);
    assert.deepEqual(readdirSync(dst), []);
  });

  test('a missing source fails with exit 1; bad flags exit 2', () => {
    const base = tempDir('clibad');
    dirs.push(base);
    const r = omirr(['sync', join(base, 'nope'), join(base, 'dst')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no such directory/);
    assert.equal(omirr(['sync', base, join(base, 'd'), '--streams', 'x']).status, 2);
    assert.equal(omirr(['sync', 'gopher://x/y', join(base, 'd')]).status, 1);
  });

  test('kill -9 in the middle of a large transfer: no partial file under its real name; the rerun completes', async () => {
    const base = tempDir('kill');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    // 384 MiB of varied bytes, so the copy takes long enough to be caught in the middle
    const fd = openSync(join(src, 'big.bin'), 'w');
    const piece = Buffer.alloc(1 << 20);
    const h = createHash('sha256');
    for (let i = 0; i < 384; i++) {
      piece.writeUInt32LE(i, 0);
      piece.writeUInt32LE(i * 7919, 4096);
      writeSync(fd, piece);
      h.update(piece);
    }
    closeSync(fd);
    const want = h.digest('hex');
    const child = spawn(process.execPath, [bin, 'sync', src, dst], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    // wait for the temporary file to hold some data, then kill
    const deadline = Date.now() + 20_000;
    let killedMidway = false;
    while (Date.now() < deadline && child.exitCode === null) {
      const part = existsSync(dst) ? readdirSync(dst).find((n) => n.startsWith('.omirr-part.')) : undefined;
      if (part && statSync(join(dst, part)).size > 8 << 20) {
        child.kill('SIGKILL');
        killedMidway = true;
        break;
      }
      // a look every 2 ms, not at every turn of the event loop: a loop of setImmediate kept a
      // core busy while the sync it waited for started; the copy's last 376 MiB take far longer
      // than 2 ms, so the kill still lands in the middle
      await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    assert.ok(killedMidway, 'the transfer finished before it could be killed');
    assert.ok(!existsSync(join(dst, 'big.bin')), 'no file under its real name');
    assert.equal(tempFiles(dst).length, 1, 'the partial file stays, for resume');
    const r = omirr(['sync', src, dst, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.ok(s.resumedBytes > 0, 'resumed from the partial file');
    assert.equal(s.resumedBytes + s.bytesSent, 384 << 20);
    assert.equal(createHash('sha256').update(readFileSync(join(dst, 'big.bin'))).digest('hex'), want);
    assert.deepEqual(tempFiles(dst), []);
  });
});
