import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conflictName, conflictStamp, isConflictName, splitExt } from '../../src/core/conflict.js';

const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));

test('conflictStamp is UTC YYYYMMDD-HHMMSS', () => {
  assert.equal(conflictStamp(d), '20240102-030405');
  assert.equal(conflictStamp(new Date(Date.UTC(1999, 11, 31, 23, 59, 59))), '19991231-235959');
});

test('conflictName keeps the directory and the extension', () => {
  assert.equal(conflictName('report.txt', d, 'beta'), 'report.omirr-conflict-20240102-030405-beta.txt');
  assert.equal(conflictName('docs/a/report.txt', d, 'beta'), 'docs/a/report.omirr-conflict-20240102-030405-beta.txt');
  assert.equal(conflictName('a.tar.gz', d, 'n1'), 'a.tar.omirr-conflict-20240102-030405-n1.gz');
});

test('conflictName: no extension, dotfiles, trailing dot', () => {
  assert.equal(conflictName('Makefile', d, 'b'), 'Makefile.omirr-conflict-20240102-030405-b');
  assert.equal(conflictName('x/.bashrc', d, 'b'), 'x/.bashrc.omirr-conflict-20240102-030405-b');
  assert.equal(conflictName('.config.json', d, 'b'), '.config.omirr-conflict-20240102-030405-b.json');
  assert.equal(conflictName('..x', d, 'b'), '..x.omirr-conflict-20240102-030405-b');
  assert.equal(conflictName('name.', d, 'b'), 'name..omirr-conflict-20240102-030405-b');
  assert.equal(conflictName('.d/file', d, 'b'), '.d/file.omirr-conflict-20240102-030405-b', 'a dot in the directory is not an extension');
});

test('conflictName: unsafe node names are made safe, long names shortened to 255 bytes', () => {
  assert.equal(conflictName('a.txt', d, 'x/y z'), 'a.omirr-conflict-20240102-030405-x_y_z.txt');
  const long = 'é'.repeat(200) + '.txt';
  const c = conflictName('dir/' + long, d, 'node');
  assert.ok(c.startsWith('dir/é'));
  assert.ok(c.endsWith('.omirr-conflict-20240102-030405-node.txt'));
  assert.ok(Buffer.byteLength(c.slice(4)) <= 255);
});

test('splitExt and isConflictName', () => {
  assert.deepEqual(splitExt('a.b.c'), ['a.b', '.c']);
  assert.deepEqual(splitExt('.a'), ['.a', '']);
  assert.deepEqual(splitExt('a'), ['a', '']);
  assert.ok(isConflictName('report.omirr-conflict-20240102-030405-beta.txt'));
  assert.ok(!isConflictName('report.txt'));
});

test('the same loser gives the same name on every node (deterministic)', () => {
  assert.equal(conflictName('a/b.c', new Date(1700000000000), 'n'), conflictName('a/b.c', new Date(1700000000000), 'n'));
});
