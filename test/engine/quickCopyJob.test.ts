// The quick copy's job (src/engine/quickCopy.ts quickCopyJob): which reruns the quick local
// check may carry out itself, without the full command. Its bound on the number of changed
// files is held here without writing thousands of files: up to QUICK_THREAD_COPY_FILES
// pairs make a job (a thread copies past QUICK_COPY_FILES), one more makes none.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../../src/core/entry.js';
import { quickCopyJob } from '../../src/engine/quickCopy.js';
import { QUICK_COPY_FILES, QUICK_THREAD_COPY_FILES } from '../../src/workers/pairScan.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const base = tempDir('quickjob');
after(() => removeDir(base));
const src = join(base, 'src');
const dst = join(base, 'dst');
mkdirSync(src);
mkdirSync(dst);

/** `n` rewritten files: the same path, size and mode on both sides, a newer mtime in the source. */
function pairs(n: number): Array<[Entry, Entry]> {
  return Array.from({ length: n }, (_, i): [Entry, Entry] => {
    const path = `d${i % 7}/f${i}`;
    return [
      { path, kind: 'file', size: 100, mode: 0o644, mtimeMs: 1_700_000_100_000 },
      { path, kind: 'file', size: 100, mode: 0o644, mtimeMs: 1_700_000_000_000 },
    ];
  });
}
const dirs: Entry[] = Array.from({ length: 7 }, (_, d) => ({ path: `d${d}`, kind: 'dir', size: 0, mode: 0o755, mtimeMs: 1_700_000_000_000 }));

test('up to QUICK_THREAD_COPY_FILES changed files make a quick copy job, one more the full command', () => {
  assert.ok(QUICK_COPY_FILES < QUICK_THREAD_COPY_FILES);
  for (const n of [1, QUICK_COPY_FILES, QUICK_COPY_FILES + 1, QUICK_THREAD_COPY_FILES]) {
    const job = quickCopyJob(src, dst, pairs(n), dirs);
    assert.equal(job?.files.length, n, `${n} files`);
    assert.equal(job.dirOps.length, Math.min(n, 7), 'their directories put back');
  }
  assert.equal(quickCopyJob(src, dst, pairs(QUICK_THREAD_COPY_FILES + 1), dirs), undefined);
});
