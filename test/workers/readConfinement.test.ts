// Reads stay inside the tree (issue 9, item 6): a tree holding `root -> /` must never let
// hash, pack, copy, scan or lstat reach `root/etc/hostname`. O_NOFOLLOW guards only the
// last component; every read checks the real-directory chain first, as writes do.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hash, lstatMany, scan, partSizes } from '../../src/workers/fsTasks.js';
import { Piscina } from 'piscina';
import { packBatch, type PackResult, type PackTask } from '../../src/workers/tarTasks.js';
import { copyFiles } from '../../src/workers/copyTasks.js';
import { TreeReader } from '../../src/workers/readInTree.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const base = tempDir('confine');
after(() => removeDir(base));

const root = join(base, 'tree');
mkdirSync(join(root, 'real'), { recursive: true });
writeFileSync(join(root, 'real/ok.txt'), 'inside\n');
symlinkSync('/', join(root, 'root'));
// a link in the middle of a path too: real/up -> ..  (still a symlink, never followed)
symlinkSync('/etc', join(root, 'real/etc'));
const SECRET = readFileSync('/etc/hostname');
/** packBatch's result outside piscina (it wraps it for a zero-copy transfer). */
function pack(t: PackTask): PackResult {
  const r = packBatch(t) as unknown as Record<symbol, unknown>;
  return (Piscina.valueSymbol in r ? r[Piscina.valueSymbol] : r) as PackResult;
}
const TARGETS = ['root/etc/hostname', 'real/etc/hostname'];

test('hash refuses paths through a symlinked directory, hashes real ones', () => {
  const r = hash({ root, paths: [...TARGETS, 'real/ok.txt'] });
  assert.deepEqual(r.slice(0, 2), TARGETS.map((p) => [p, null]));
  assert.equal(r[2]![0], 'real/ok.txt');
  assert.match(String(r[2]![1]), /^[0-9a-f]{64}$/);
  const kept = hash({ root, paths: TARGETS, keepUpTo: 1 << 20 });
  assert.deepEqual(kept, TARGETS.map((p) => [p, null]), 'the inline (kept content) form too');
});

test('packBatch sends nothing from outside the tree', () => {
  const r = pack({ root, items: TARGETS.map((path) => ({ path })), cont: null, cap: 1 << 20 });
  assert.equal(r.length, 0, 'no bytes packed');
  assert.deepEqual(r.errors.map((e) => e.path), TARGETS);
  assert.ok(!Buffer.from(r.buf, 0, r.length).includes(SECRET));
  // a continuation naming such a path (as a crafted cont would) is refused as well
  assert.throws(() => pack({ root, items: [], cont: { path: 'root/etc/hostname', pos: 0, end: SECRET.length, dataStart: 0 }, cap: 1 << 20 }));
});

test('copyFiles does not read the source through a symlink', () => {
  const dst = join(base, 'dst');
  mkdirSync(dst);
  const r = copyFiles({ srcRoot: root, dstRoot: dst, chown: false, files: TARGETS.map((path) => ({ path, kind: 'file' as const, size: SECRET.length, mtimeMs: 0, mode: 0o644 })) });
  assert.deepEqual(r.written, []);
  assert.deepEqual(r.failed.map((f) => f.path), TARGETS);
  for (const p of TARGETS) assert.ok(!existsSync(join(dst, p)));
});

test('scan of a share below a symlink, and lstat through one, see nothing', () => {
  assert.deepEqual(scan({ root, below: ['root/etc', 'root'] }).entries, []);
  assert.deepEqual(scan({ root, subtree: 'root/etc' }).entries, []);
  const st = lstatMany({ root, paths: [...TARGETS, 'root', 'real/ok.txt'] });
  assert.deepEqual(st.slice(0, 2), ['gone', 'gone']);
  assert.equal((st[2] as { kind: string }).kind, 'symlink', 'the link itself is an entry');
  assert.equal((st[3] as { kind: string }).kind, 'file');
  assert.deepEqual(partSizes({ root, expect: [{ path: 'root/tmp/x', kind: 'file', size: 1 << 20, mtimeMs: 0, mode: 0o644 }] }), []);
});

test('a directory swapped for a symlink after it was checked is still caught: the opened file must lie below the root', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc' }, () => {
  const reader = new TreeReader(root);
  // as if `root` had been a real directory when checked, and became `root -> /` just after
  (reader as unknown as { verified: Set<string> }).verified.add('root');
  assert.throws(() => reader.open('root/etc/hostname'), /resolves outside the tree/);
  const fd = reader.open('real/ok.txt');
  closeSync(fd);
});

test('a reader that opens files through their directory (a copy task) is caught the same: a directory swapped after its check, a parent swapped', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc' }, () => {
  for (const target of TARGETS) {
    const reader = new TreeReader(root, true);
    // as if every directory on the way had been real when checked, and was swapped just after
    const verified = (reader as unknown as { verified: Set<string> }).verified;
    for (const d of ['root', 'root/etc', 'real', 'real/etc']) verified.add(d);
    assert.throws(() => reader.open(target), /resolves outside the tree|ELOOP|ENOTDIR/, target);
    reader.close();
  }
  // a parent swapped: the directory itself is real, reached through `root -> /`
  const reader = new TreeReader(root, true);
  (reader as unknown as { verified: Set<string> }).verified.add('root');
  assert.throws(() => reader.open('root/etc/hostname'), /resolves outside the tree/);
  const fd = reader.open('real/ok.txt');
  assert.equal(readFileSync(fd, 'utf8'), 'inside\n');
  closeSync(fd);
  reader.close();
});

test('a directory moved away after a reader opened it, and a symlink put in its place: later files are looked up in the directory that was checked, never through the link', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc' }, () => {
  const tree = join(base, 'moved');
  mkdirSync(join(tree, 'd'), { recursive: true });
  writeFileSync(join(tree, 'd/first'), 'first\n');
  const reader = new TreeReader(tree, true);
  closeSync(reader.open('d/first'));
  renameSync(join(tree, 'd'), join(base, 'moved-away'));
  symlinkSync('/etc', join(tree, 'd'));
  assert.throws(() => reader.open('d/hostname'), /ENOENT/);
  reader.close();
  // a new reader checks again, and refuses the link
  assert.throws(() => new TreeReader(tree, true).open('d/hostname'), /ELOOP|ENOTDIR|symlink/);
});
