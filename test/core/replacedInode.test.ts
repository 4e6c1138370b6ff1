// The grace-period decision for an inode the replica replaced (src/core/replacedInode.ts):
// kept whenever anything may have been written to it after the placing, dropped only when
// its stat is exactly what it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replacedInodeFate, type InodeStamp, type ReplacedFate } from '../../src/core/replacedInode.js';

const placed: InodeStamp = { size: 100, mtimeMs: 1_000.5, ctimeMs: 2_000.25 };

const table: Array<[string, InodeStamp, InodeStamp, ReplacedFate]> = [
  ['untouched', placed, { ...placed }, 'drop'],
  ['appended to (size and times move)', placed, { size: 120, mtimeMs: 3_000, ctimeMs: 3_000 }, 'keep'],
  ['rewritten, same size (times move)', placed, { size: 100, mtimeMs: 3_000, ctimeMs: 3_000 }, 'keep'],
  ['truncated to nothing', placed, { size: 0, mtimeMs: 3_000, ctimeMs: 3_000 }, 'keep'],
  ['same size, old mtime restored (touch -r): ctime moved', placed, { size: 100, mtimeMs: 1_000.5, ctimeMs: 3_000 }, 'keep'],
  ['size changed within the same tick (times equal)', placed, { size: 101, mtimeMs: 1_000.5, ctimeMs: 2_000.25 }, 'keep'],
  ['mtime alone moved (sub-millisecond)', placed, { size: 100, mtimeMs: 1_000.75, ctimeMs: 2_000.25 }, 'keep'],
  ['no ctime on either side (simulation), unchanged', { size: 5, mtimeMs: 9 }, { size: 5, mtimeMs: 9 }, 'drop'],
  ['no ctime on either side, written', { size: 5, mtimeMs: 9 }, { size: 7, mtimeMs: 9 }, 'keep'],
  ['ctime on one side only: not comparable, kept', { size: 5, mtimeMs: 9 }, { size: 5, mtimeMs: 9, ctimeMs: 1 }, 'keep'],
  ['ctime on the other side only: kept', { size: 5, mtimeMs: 9, ctimeMs: 1 }, { size: 5, mtimeMs: 9 }, 'keep'],
];

for (const [what, before, after, fate] of table) {
  test(`replaced inode: ${what} -> ${fate}`, () => {
    assert.equal(replacedInodeFate(before, after), fate);
  });
}
