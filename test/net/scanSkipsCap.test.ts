// A scan's answer carries at most MAX_SCAN_SKIPS skips; the ones cut off must still keep
// the client from deleting their copies: the last place becomes the whole tree ('.').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capScanSkips, MAX_SCAN_SKIPS, wireScanSkips } from '../../src/net/validate.js';

test('skips over the cap end in one for the whole tree, unmirrorable when any cut one was; the answer still validates', () => {
  const few = [{ path: 'a', reason: 'fifo' }];
  assert.deepEqual(capScanSkips(few), few);
  const many = Array.from({ length: MAX_SCAN_SKIPS + 5 }, (_, i) => ({ path: `f${i}`, reason: 'not a regular file, directory or symlink', ...(i === MAX_SCAN_SKIPS + 2 ? { unmirrorable: true } : {}) }));
  const capped = capScanSkips(many);
  assert.equal(capped.length, MAX_SCAN_SKIPS);
  assert.deepEqual(capped.slice(0, -1), many.slice(0, MAX_SCAN_SKIPS - 1));
  const last = capped.at(-1)!;
  assert.equal(last.path, '.');
  assert.equal(last.unmirrorable, true);
  assert.match(last.reason, /^6 more entries left out \(the first: f9999:/);
  assert.equal(wireScanSkips({ skipped: capped }).length, MAX_SCAN_SKIPS);
});
