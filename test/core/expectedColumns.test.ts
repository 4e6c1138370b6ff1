// The expected files of an unpack cross to the extract thread in columns: each one must come
// back with exactly the fields it was packed with (the optional ones present or absent), its
// path intact, after a structured clone with the typed arrays moved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { expectedAt, expectedBuffers, expectedPaths, packExpected, type ExpectedColumns } from '../../src/core/expectedColumns.js';
import type { Expected } from '../../src/core/tree.js';

const files: Expected[] = [
  { path: 'plain', kind: 'file', size: 0, mtimeMs: 0, mode: 0 },
  { path: 'd/ns', kind: 'file', size: 1, mtimeMs: 1_765_000_000_123, mode: 0o644, mtimeNs: -499_999 },
  { path: 'd/e/all', kind: 'file', size: 2 ** 40 + 1, mtimeMs: -86_400_000, mode: 0o4755, mtimeNs: 0, uid: 4_294_967_295, gid: 0, hash: 'ab'.repeat(32) },
  { path: 'only-gid', kind: 'file', size: 3, mtimeMs: 1.5, mode: 0o600, gid: 100 },
  { path: 'ünï code/\u{1f600} \udc80', kind: 'file', size: 4, mtimeMs: 2, mode: 0o640, hash: '0f'.repeat(32) },
];

function unpacked(c: ExpectedColumns): Expected[] {
  const hashes = new Map(c.hashes);
  return expectedPaths(c).map((p, i) => expectedAt(c, i, p, hashes));
}

test('every expected file comes back with exactly its fields, after the trip to another thread', () => {
  const c = packExpected(files);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(c, expectedBuffers(c));
  // moved, not copied: the sender's arrays are detached
  assert.equal(c.size.length, 0);
  const back = receiveMessageOnPort(port2)!.message as ExpectedColumns;
  port1.close();
  const got = unpacked(back);
  assert.deepStrictEqual(got, files);
  got.forEach((e, i) => assert.deepEqual(Object.keys(e).sort(), Object.keys(files[i]!).sort(), files[i]!.path));
});

test('no files, and one file, pack and unpack', () => {
  assert.deepStrictEqual(unpacked(packExpected([])), []);
  assert.deepStrictEqual(unpacked(structuredClone(packExpected([files[2]!]))), [files[2]]);
});

test('a path with a NUL (never a safe path) is refused, not split in two', () => {
  assert.throws(() => packExpected([{ path: 'a\0b', kind: 'file', size: 0, mtimeMs: 0, mode: 0o644 }]), /NUL/);
});
