// LocalTree.copyFrom posts each batch to the io pool as soon as it is cut (the io threads start
// on the first while the rest are cut): every file in exactly one batch, the progress of each
// batch reported, and a path that is not safe fails alone in the copy task, named, with
// nothing written outside the destination (the main thread no longer checks the paths first).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Expected } from '../../src/core/tree.js';
import { copyTaskCount, LocalTree } from '../../src/engine/localTree.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const MTIME = 1_600_000_000_123;

/** 1,300 files in 13 directories (three batches of at most 512), each with its own content. */
function sourceTree(): { src: string; files: Expected[] } {
  const src = tempDir('copyfrom-src');
  dirs.push(src);
  const files: Expected[] = [];
  for (let d = 0; d < 13; d++) {
    mkdirSync(join(src, `d${d}`));
    for (let i = 0; i < 100; i++) {
      const path = `d${d}/f${i}`;
      const body = `${path} `.repeat(1 + (i % 7));
      writeFileSync(join(src, path), body);
      files.push({ path, kind: 'file', size: Buffer.byteLength(body), mtimeMs: MTIME, mode: i % 2 ? 0o600 : 0o644 });
    }
  }
  return { src, files };
}

function assertCopied(src: string, dst: string, files: Expected[]): void {
  for (const f of files) {
    assert.equal(readFileSync(join(dst, f.path), 'utf8'), readFileSync(join(src, f.path), 'utf8'), f.path);
    const st = statSync(join(dst, f.path));
    assert.equal(st.mode & 0o7777, f.mode, f.path);
    assert.equal(Math.round(st.mtimeMs), MTIME, f.path);
  }
}

test('copyFrom: every file of many batches copied once, each batch reported, no temporary left', async () => {
  const { src, files } = sourceTree();
  const dst = tempDir('copyfrom-dst');
  dirs.push(dst);
  const d = new LocalTree(dst, { writable: true });
  const batches: number[] = [];
  let bytes = 0;
  const r = await d.copyFrom(new LocalTree(src, { writable: false }), files, {
    onBatch: (n, b) => {
      batches.push(n);
      bytes += b;
    },
  });
  assert.deepEqual(r.failed, []);
  assert.deepEqual([...r.written].sort(), files.map((f) => f.path).sort());
  assert.equal(batches.length, 3);
  // the io threads syncTrees warms for a local copy: as many as copyFrom cuts batches
  assert.equal(copyTaskCount(files), batches.length);
  assert.equal(batches.reduce((a, b) => a + b, 0), files.length);
  const total = files.reduce((a, f) => a + f.size, 0);
  assert.equal(r.bytes, total);
  assert.equal(bytes, total);
  assertCopied(src, dst, files);
  for (let k = 0; k < 13; k++) assert.equal(readdirSync(join(dst, `d${k}`)).length, 100, 'no temporary left');
});

test('copyFrom: unsafe paths in the first and the last batch fail alone, named; the rest is copied; nothing lands outside the destination', async () => {
  const { src, files } = sourceTree();
  const parent = tempDir('copyfrom-parent');
  dirs.push(parent);
  const dst = join(parent, 'dst');
  mkdirSync(dst);
  // what the unsafe paths would read, were they followed from the source
  writeFileSync(join(dirname(src), 'escape'), 'outside the source');
  dirs.push(join(dirname(src), 'escape'));
  const bad = (path: string): Expected => ({ path, kind: 'file', size: 18, mtimeMs: MTIME, mode: 0o644 });
  const unsafe = ['../escape', 'd0/../../escape', `${parent}/escape`];
  const list = [bad(unsafe[0]!), ...files.slice(0, 700), bad(unsafe[1]!), ...files.slice(700), bad(unsafe[2]!)];
  const d = new LocalTree(dst, { writable: true });
  const r = await d.copyFrom(new LocalTree(src, { writable: false }), list);
  assert.deepEqual(r.failed.map((f) => f.path).sort(), [...unsafe].sort());
  for (const f of r.failed) assert.ok(f.error.length > 0, `${f.path}: a reason`);
  assert.deepEqual([...r.written].sort(), files.map((f) => f.path).sort());
  assertCopied(src, dst, files);
  assert.deepEqual(readdirSync(parent), ['dst'], 'nothing beside the destination');
  assert.deepEqual(readdirSync(dst).sort(), Array.from({ length: 13 }, (_, k) => `d${k}`).sort());
});
