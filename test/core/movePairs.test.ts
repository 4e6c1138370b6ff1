import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairMoves, type SeenPath } from '../../src/core/movePairs.js';

test('pairMoves: a vanished path and an appeared path with its inode are a move', () => {
  const changes: SeenPath[] = [
    { path: 'a', kind: 'gone' },
    { path: 'b', kind: 'file', ino: 7 },
    { path: 'c', kind: 'file', ino: 8 },
  ];
  const { moves, rest } = pairMoves(changes, (p) => (p === 'a' ? 7 : undefined));
  assert.deepEqual(moves, [{ from: 'a', to: 'b', kind: 'file', ino: 7 }]);
  assert.deepEqual(rest, [{ path: 'c', kind: 'file', ino: 8 }]);
});

test('pairMoves: unknown inode or no match stays a delete; each half used once', () => {
  const changes: SeenPath[] = [
    { path: 'x', kind: 'gone' },
    { path: 'y', kind: 'gone' },
    { path: 'z', kind: 'dir', ino: 5 },
  ];
  const { moves, rest } = pairMoves(changes, () => 5);
  assert.equal(moves.length, 1);
  assert.deepEqual(moves[0], { from: 'x', to: 'z', kind: 'dir', ino: 5 });
  assert.deepEqual(rest, [{ path: 'y', kind: 'gone' }]);
  assert.deepEqual(pairMoves(changes, () => undefined).rest, changes);
});
