// fidelityFixtures' firstDifference, which the sparse-file tests use in place of a sha256 of
// each file: it must find a difference anywhere (in a piece, at a piece boundary, in the last
// byte, in the length), and find none only where the bytes are the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstDifference, makeSparseFile } from './fidelityFixtures.js';

test('firstDifference: -1 only for the same bytes; else the offset of the first byte that differs', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omirr-firstdiff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = (name: string): string => join(dir, name);
  const MiB = 1 << 20;
  // 10 MiB: three 4 MiB pieces, the last one short
  makeSparseFile(f('a'), 10 * MiB, Buffer.alloc(4096, 1), 3 * MiB);
  makeSparseFile(f('same'), 10 * MiB, Buffer.alloc(4096, 1), 3 * MiB);
  assert.equal(firstDifference(f('a'), f('same')), -1);
  assert.equal(firstDifference(f('a'), f('a')), -1);
  makeSparseFile(f('shifted'), 10 * MiB, Buffer.alloc(4096, 1), 3 * MiB + 1);
  assert.equal(firstDifference(f('a'), f('shifted')), 3 * MiB);
  // at a piece boundary, and in the very last byte
  makeSparseFile(f('at4b'), 10 * MiB, Buffer.from([9]), 4 * MiB);
  assert.equal(firstDifference(f('a'), f('at4b')), 3 * MiB);
  makeSparseFile(f('boundary1'), 8 * MiB, Buffer.from([7]), 4 * MiB);
  makeSparseFile(f('boundary2'), 8 * MiB, Buffer.from([8]), 4 * MiB);
  assert.equal(firstDifference(f('boundary1'), f('boundary2')), 4 * MiB);
  makeSparseFile(f('last1'), 8 * MiB, Buffer.from('q'), 8 * MiB - 1);
  makeSparseFile(f('last2'), 8 * MiB, Buffer.from('r'), 8 * MiB - 1);
  assert.equal(firstDifference(f('last1'), f('last2')), 8 * MiB - 1);
  // one a prefix of the other (either way round): the shorter one's length
  makeSparseFile(f('longer'), 10 * MiB + 1, Buffer.alloc(4096, 1), 3 * MiB);
  assert.equal(firstDifference(f('a'), f('longer')), 10 * MiB);
  assert.equal(firstDifference(f('longer'), f('a')), 10 * MiB);
  makeSparseFile(f('exact8'), 8 * MiB, Buffer.from([0]), 0);
  makeSparseFile(f('exact8plus'), 8 * MiB + 1, Buffer.from([0]), 0);
  assert.equal(firstDifference(f('exact8'), f('exact8plus')), 8 * MiB);
  // small and empty files
  writeFileSync(f('x'), 'abc');
  writeFileSync(f('y'), 'abd');
  writeFileSync(f('empty'), '');
  assert.equal(firstDifference(f('x'), f('y')), 2);
  assert.equal(firstDifference(f('empty'), f('empty')), -1);
  assert.equal(firstDifference(f('empty'), f('x')), 0);
});
