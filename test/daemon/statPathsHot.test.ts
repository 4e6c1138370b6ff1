// statPaths (src/daemon/statPaths.ts) stats paths that were just touched (`hot`: a watcher
// batch's, the files just placed) inline up to HOT_STAT_MAX, the others in the io workers
// past SYNC_STAT_MAX. Both ways must give the same states: entries, 'gone' (missing, or
// below a file), 'other', symlinks with their targets, and never anything through a link.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOT_STAT_MAX, statPaths, SYNC_STAT_MAX } from '../../src/daemon/statPaths.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dir = tempDir('stat-paths-hot');
after(async () => {
  await closePools();
  removeDir(dir);
});

test('hot paths inline and the rest in the io workers: the same states, below a symlink gone', async () => {
  const root = join(dir, 'tree');
  const outside = join(dir, 'outside');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'not in the tree');
  symlinkSync(outside, join(root, 'out'));
  symlinkSync('d', join(root, 'to-d'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const paths: string[] = ['d', 'out', 'to-d', 'fifo', 'out/secret', 'missing', 'f0/below'];
  for (let i = 0; i < 300; i++) {
    writeFileSync(join(root, `f${i}`), `file ${i}`);
    paths.push(`f${i}`, `d/missing-${i}`);
  }
  assert.ok(paths.length > SYNC_STAT_MAX && paths.length <= HOT_STAT_MAX);
  const inWorkers = await statPaths(root, paths);
  const inline = await statPaths(root, paths, { hot: true });
  assert.equal(JSON.stringify(inline), JSON.stringify(inWorkers));
  const at = (p: string) => inline[paths.indexOf(p)];
  assert.equal(at('missing'), 'gone');
  assert.equal(at('f0/below'), 'gone');
  assert.equal(at('out/secret'), 'gone', 'nothing is stat\'ed through a symlink in the tree');
  assert.equal(at('fifo'), 'other');
  assert.deepEqual([at('out'), at('to-d')].map((s) => typeof s === 'object' && 'kind' in s && s.kind), ['symlink', 'symlink']);
  const f7 = at('f7');
  assert.ok(typeof f7 === 'object' && 'kind' in f7 && f7.kind === 'file' && f7.size === 'file 7'.length);
});
