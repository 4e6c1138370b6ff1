// omirr started with node flags that a worker thread may not be given (heap sizes, as an
// admin tuning memory would pass them; --expose-gc): the worker pools start without them
// instead of every pool task failing with ERR_WORKER_INVALID_EXEC_ARGV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));

test('node flags a thread refuses do not break the worker pools: a 600-file sync arrives whole', (t) => {
  const base = tempDir('nodeflags');
  t.after(() => removeDir(base));
  const src = join(base, 'src');
  // enough files in enough directories that the scan, the copy and the hashes run in the pools
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 30; f++) writeFileSync(join(src, `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(1 + f));
  }
  const r = spawnSync(process.execPath, ['--max-semi-space-size=16', '--expose-gc', bin, 'sync', src, join(base, 'dst')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(describeTree(join(base, 'dst')), describeTree(src));
});
