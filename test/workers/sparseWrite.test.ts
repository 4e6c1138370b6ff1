// Zero blocks become holes, whatever the chunking (issue 9: sparse files keep their holes).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { endSparse, writeSparse } from '../../src/workers/sparseWrite.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const base = tempDir('sparsew');
after(() => removeDir(base));

test('content is exact for any chunking, and the zero runs take no blocks', () => {
  const size = 8 << 20;
  const want = Buffer.alloc(size);
  want.write('head', 0);
  want.fill(7, (3 << 20) + 100, (3 << 20) + 5000); // data straddling blocks
  want.write('tail', size - 4);
  for (const chunk of [4095, 4096, 65536, 1_000_003]) {
    const abs = join(base, `f${chunk}`);
    const fd = openSync(abs, 'w');
    for (let pos = 0; pos < size; pos += chunk) writeSparse(fd, want.subarray(pos, Math.min(size, pos + chunk)), pos);
    endSparse(fd, size);
    const st = fstatSync(fd);
    closeSync(fd);
    assert.equal(st.size, size);
    assert.ok(readFileSync(abs).equals(want), `content with chunks of ${chunk}`);
    assert.ok(st.blocks * 512 <= 64 << 10, `chunks of ${chunk}: ${st.blocks * 512} bytes allocated`);
  }
});
