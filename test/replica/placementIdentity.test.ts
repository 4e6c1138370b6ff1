// The placing's identity check over the real file system: ext4 gives a new file the inode
// number of the one just freed (measured: 1,976 of 2,000 replace-by-renames here reused it),
// so a user's rewrite by rename, of the same size and within the same millisecond as the
// indexed version, has the indexed inode number, size and millisecond. Only the finer mtime
// tells it apart: the placing must see it as a local change and leave it in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryFromStats, mtimeSeconds } from '../../src/core/entry.js';
import { expectOf } from '../../src/core/treeIndex.js';
import { nodePlaceFs, placeObject, removeObject } from '../../src/replica/placement.js';

function world(): { root: string; exp: ReturnType<typeof expectOf> & { kind: 'file' } } {
  const root = mkdtempSync(join(tmpdir(), 'omirr-identity-'));
  writeFileSync(join(root, 'f.txt'), 'indexed 1\n');
  const indexed = entryFromStats('f.txt', lstatSync(join(root, 'f.txt'), { bigint: true }));
  // the user's rewrite: same size, same millisecond, 300 us later, by rename
  writeFileSync(join(root, '.tmp'), 'the user 2\n'.slice(0, 10));
  const later = { mtimeMs: indexed.mtimeMs, mtimeNs: (indexed.mtimeNs ?? 0) + (indexed.mtimeNs! >= 0 ? -300_000 : 300_000) };
  utimesSync(join(root, '.tmp'), mtimeSeconds(later), mtimeSeconds(later));
  renameSync(join(root, '.tmp'), join(root, 'f.txt'));
  const now = entryFromStats('f.txt', lstatSync(join(root, 'f.txt'), { bigint: true }));
  assert.equal(now.mtimeMs, indexed.mtimeMs, 'the rewrite is in the indexed millisecond');
  assert.equal(now.size, indexed.size);
  // the inode number ext4 would have reused: the check may only rely on the mtime
  const exp = expectOf({ entry: { ...indexed, ino: now.ino }, version: {} }) as ReturnType<typeof expectOf> & { kind: 'file' };
  return { root, exp };
}

test('a rewrite with the indexed inode number, size and millisecond is a local change: not replaced', (t) => {
  const { root, exp } = world();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'stage'));
  writeFileSync(join(root, 'stage', 'f.txt'), 'remote\n');
  const out = placeObject(nodePlaceFs, root, 'f.txt', join(root, 'stage', 'f.txt'), exp);
  assert.deepEqual(out, { done: false, changed: 'edited' });
  assert.equal(readFileSync(join(root, 'f.txt'), 'utf8'), 'the user 2');
});

test('the same rewrite is not removed for a peer\'s delete', (t) => {
  const { root, exp } = world();
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const out = removeObject(nodePlaceFs, root, 'f.txt', exp);
  assert.deepEqual(out, { done: false, changed: 'edited' });
  assert.equal(readFileSync(join(root, 'f.txt'), 'utf8'), 'the user 2');
});

test("node:fs placing's cheap kind check: a new file is placed, never through a symlinked directory, never over what appeared", () => {
  const root = mkdtempSync(join(tmpdir(), 'omirr-kind-'));
  const outside = mkdtempSync(join(tmpdir(), 'omirr-kind-outside-'));
  try {
    const stage = (name: string, body: string): string => {
      const p = join(root, `.stage-${name}`);
      writeFileSync(p, body);
      return p;
    };
    assert.equal(nodePlaceFs.kind!(join(root, 'nothing')), undefined);
    // a new file in new directories: made, placed
    assert.deepEqual(placeObject(nodePlaceFs, root, 'a/b/new.txt', stage('1', 'new\n'), { kind: 'absent' }), { done: true });
    assert.equal(readFileSync(join(root, 'a/b/new.txt'), 'utf8'), 'new\n');
    assert.equal(nodePlaceFs.kind!(join(root, 'a')), 'dir');
    assert.equal(nodePlaceFs.kind!(join(root, 'a/b/new.txt')), 'file');
    // a directory replaced by a symlink to somewhere outside: refused, nothing written there
    symlinkSync(outside, join(root, 'ln'));
    assert.equal(nodePlaceFs.kind!(join(root, 'ln')), 'symlink');
    assert.throws(() => placeObject(nodePlaceFs, root, 'ln/evil.txt', stage('2', 'evil\n'), { kind: 'absent' }), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR');
    assert.deepEqual(readdirSync(outside), []);
    // a file where a directory is expected in the chain: ENOTDIR, not placed below it
    assert.throws(() => placeObject(nodePlaceFs, root, 'a/b/new.txt/x', stage('3', 'x\n'), { kind: 'absent' }), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR');
    // expected absent, but a local file appeared: left alone
    writeFileSync(join(root, 'appeared.txt'), 'local\n');
    assert.equal(placeObject(nodePlaceFs, root, 'appeared.txt', stage('4', 'peer\n'), { kind: 'absent' }).done, false);
    assert.equal(readFileSync(join(root, 'appeared.txt'), 'utf8'), 'local\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
