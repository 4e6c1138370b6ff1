// LocalTree.scan({subtree}) (the daemon rescans only what changed) and the `save` op merging
// into a save directory that already holds earlier saves (mirror's save_deletes across runs).
import { after, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

function tree(): string {
  const root = tempDir('subtree');
  dirs.push(root);
  mkdirSync(join(root, 'a/b/c'), { recursive: true });
  mkdirSync(join(root, 'other'));
  writeFileSync(join(root, 'top.txt'), 'top');
  writeFileSync(join(root, 'a/one.txt'), '1');
  writeFileSync(join(root, 'a/b/two.txt'), '22');
  writeFileSync(join(root, 'a/b/c/three.txt'), '333');
  writeFileSync(join(root, 'other/x.txt'), 'x');
  symlinkSync('a', join(root, 'link-to-a'));
  return root;
}

test('scan({subtree}) lists the subtree itself and what is below it, paths from the root', async () => {
  const t = new LocalTree(tree(), { writable: false });
  const paths = async (o: Parameters<LocalTree['scan']>[0]): Promise<string[]> => (await t.scan(o)).map((e) => e.path);
  assert.deepEqual(await paths({ subtree: 'a/b' }), ['a/b', 'a/b/c', 'a/b/two.txt', 'a/b/c/three.txt']);
  assert.deepEqual(await paths({ subtree: 'a/b', recursive: false }), ['a/b', 'a/b/c', 'a/b/two.txt']);
  const all = await t.scan({ subtree: 'a' });
  assert.equal(all[0]!.path, 'a');
  assert.equal(all[0]!.kind, 'dir');
  assert.equal(all.find((e) => e.path === 'a/b/c/three.txt')!.size, 3);
  // a file or a symlink: just its entry
  assert.deepEqual(await paths({ subtree: 'a/one.txt' }), ['a/one.txt']);
  const link = await t.scan({ subtree: 'link-to-a' });
  assert.deepEqual(link.map((e) => [e.path, e.kind, e.target]), [['link-to-a', 'symlink', 'a']]);
  // missing, or only reachable through a symlink: nothing
  assert.deepEqual(await paths({ subtree: 'nope/deeper' }), []);
  assert.deepEqual(await paths({ subtree: 'link-to-a/b' }), []);
  // '' or absent: the whole tree, as before
  assert.equal((await paths({ subtree: '' })).length, (await paths({})).length);
  assert.equal((await paths({})).length, 10);
  // unsafe paths are refused
  await assert.rejects(t.scan({ subtree: '../x' }));
  await assert.rejects(t.scan({ subtree: '/etc' }));
});

test('--save-dir across runs: saved directories merge into earlier saves', async () => {
  const src = tempDir('save-src');
  const dst = tempDir('save-dst');
  dirs.push(src, dst);
  mkdirSync(join(src, 'keep'));
  writeFileSync(join(src, 'keep/k.txt'), 'k');
  const opts = { delete: true, saveDir: 'saved' };
  // run 1: dst has gone/ with a file and a subdirectory; the source has not
  mkdirSync(join(dst, 'gone/sub'), { recursive: true });
  writeFileSync(join(dst, 'gone/first.txt'), 'first');
  writeFileSync(join(dst, 'gone/sub/deep.txt'), 'deep1');
  mkdirSync(join(dst, 'saved'));
  const r1 = await syncTrees(new LocalTree(src, { writable: false }), new LocalTree(dst, { writable: true }), { ...opts, exclude: (p: string) => p === 'saved' || p.startsWith('saved/') });
  assert.deepEqual(r1.failed, []);
  assert.equal(existsSync(join(dst, 'gone')), false);
  assert.equal(readFileSync(join(dst, 'saved/gone/first.txt'), 'utf8'), 'first');
  assert.equal(readFileSync(join(dst, 'saved/gone/sub/deep.txt'), 'utf8'), 'deep1');
  // run 2: gone/ comes back in dst with other content and an updated deep.txt, and goes again
  mkdirSync(join(dst, 'gone/sub'), { recursive: true });
  writeFileSync(join(dst, 'gone/second.txt'), 'second');
  writeFileSync(join(dst, 'gone/sub/deep.txt'), 'deep2');
  const r2 = await syncTrees(new LocalTree(src, { writable: false }), new LocalTree(dst, { writable: true }), { ...opts, exclude: (p: string) => p === 'saved' || p.startsWith('saved/') });
  assert.deepEqual(r2.failed, []);
  assert.equal(existsSync(join(dst, 'gone')), false);
  assert.deepEqual(readdirSync(join(dst, 'saved/gone')).sort(), ['first.txt', 'second.txt', 'sub']);
  assert.equal(readFileSync(join(dst, 'saved/gone/sub/deep.txt'), 'utf8'), 'deep2');
  assert.equal(readFileSync(join(dst, 'keep/k.txt'), 'utf8'), 'k');
});

test('local copy: a planned small file that is now a FIFO, a directory, shorter or longer fails and writes nothing (the size is proven by the read, not by fstat)', async () => {
  const src = tempDir('copy-kinds-src');
  const dst = tempDir('copy-kinds-dst');
  dirs.push(src, dst);
  execFileSync('mkfifo', [join(src, 'fifo')]);
  mkdirSync(join(src, 'dir'));
  writeFileSync(join(src, 'short'), 'ab');
  writeFileSync(join(src, 'long'), 'abcdef');
  writeFileSync(join(src, 'exact'), 'abcd');
  const s = new LocalTree(src, { writable: false });
  const d = new LocalTree(dst, { writable: true });
  const e = (path: string) => ({ path, kind: 'file' as const, size: 4, mtimeMs: 1_600_000_000_123, mode: 0o644 });
  const r = await d.copyFrom(s, ['fifo', 'dir', 'short', 'long', 'exact'].map(e));
  assert.deepEqual(r.written, ['exact']);
  assert.deepEqual(r.failed.map((f) => f.path).sort(), ['dir', 'fifo', 'long', 'short']);
  for (const f of r.failed.filter((x) => x.path === 'short' || x.path === 'long')) assert.match(f.error, /size changed/);
  assert.deepEqual(readdirSync(dst), ['exact']); // nothing else, no temporaries
  assert.equal(readFileSync(join(dst, 'exact'), 'utf8'), 'abcd');
});

test('local copy (no tar): the receiver rules hold: no write through a symlink, sizes checked, modes and mtimes kept', async () => {
  const src = tempDir('copy-src');
  const dst = tempDir('copy-dst');
  const outside = tempDir('copy-outside');
  dirs.push(src, dst, outside);
  mkdirSync(join(src, 'd'));
  writeFileSync(join(src, 'd/a.txt'), 'aaaa');
  writeFileSync(join(src, 'ro.txt'), 'read only');
  writeFileSync(join(src, 'grew.txt'), 'longer than planned');
  symlinkSync(outside, join(dst, 'd'));
  const s = new LocalTree(src, { writable: false });
  const d = new LocalTree(dst, { writable: true });
  const e = (path: string, size: number, mode: number) => ({ path, kind: 'file' as const, size, mtimeMs: 1_600_000_000_123, mode });
  const r = await d.copyFrom(s, [e('d/a.txt', 4, 0o644), e('ro.txt', 9, 0o444), e('grew.txt', 3, 0o600)]);
  assert.deepEqual(r.written, ['ro.txt']);
  assert.deepEqual(r.failed.map((f) => f.path).sort(), ['d/a.txt', 'grew.txt']);
  assert.match(r.failed.find((f) => f.path === 'grew.txt')!.error, /size changed/);
  assert.deepEqual(readdirSync(outside), []);
  const { statSync } = await import('node:fs');
  const st = statSync(join(dst, 'ro.txt'));
  assert.equal(st.mode & 0o7777, 0o444);
  assert.equal(Math.round(st.mtimeMs), 1_600_000_000_123);
  assert.deepEqual(readdirSync(dst).sort(), ['d', 'ro.txt']); // no temporaries left
});
