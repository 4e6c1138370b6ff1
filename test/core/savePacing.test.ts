import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SAVE_DEFER_MAX_MS, saveWait } from '../../src/core/savePacing.js';

test('a save waits while changes keep coming, until they pause', () => {
  // first change at 0, timer at 1000; a change 100 ms ago: wait until 500 ms of quiet
  assert.equal(saveWait(1000, 0, 900, 1000), 400);
  // the burst goes on: every re-check finds a fresh change and waits again
  assert.equal(saveWait(5000, 0, 4990, 1000), 490);
});

test('a save goes as soon as the changes pause', () => {
  assert.equal(saveWait(1000, 0, 0, 1000), 0); // a single change: saved after the delay, as before
  assert.equal(saveWait(1000, 0, 500, 1000), 0); // half the delay quiet
  assert.equal(saveWait(3000, 0, 2400, 1000), 0);
});

test('a save never waits past the bound from the first unsaved change', () => {
  assert.equal(saveWait(SAVE_DEFER_MAX_MS, 0, SAVE_DEFER_MAX_MS - 1, 1000), 0);
  assert.equal(saveWait(SAVE_DEFER_MAX_MS + 5000, 0, SAVE_DEFER_MAX_MS + 4999, 1000), 0);
  // close to the bound: the wait is cut to it
  assert.equal(saveWait(SAVE_DEFER_MAX_MS - 100, 0, SAVE_DEFER_MAX_MS - 101, 1000), 100);
});
