// The no-clobber placing primitives (src/replica/placement.ts) over the simulation's
// in-memory file system: every way a local change can slip in is detected, losers are
// kept under a free name whatever is taken, nothing is left aside, and a replaced file
// written after its placing (a process held it open) is kept, not dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { displace, keepDirAside, nodePlaceFs, placeObject, placeSymlink, recoverAside, removeObject, REPLACED_GRACE_MS, settleReplaced, tidyAside, type PlaceFs } from '../../src/replica/placement.js';
import { MemFs } from '../sim/memFs.js';

const R = '/t';
function world(): MemFs {
  const fs = new MemFs(R);
  fs.createFile(`${R}/f.txt`, 'local', 0o644, 1000);
  fs.mkdir(`${R}/stage`, { mode: 0o700 });
  fs.createFile(`${R}/stage/f.txt`, 'remote', 0o644, 2000);
  return fs;
}
/** `fs.link` or `fs.writeFile` fails with ENOSPC for the new paths `when` picks. */
function noSpaceFor(fs: MemFs, call: 'link' | 'writeFile', when: (newPath: string) => boolean): void {
  const real = fs[call].bind(fs);
  fs[call] = (a: string, b: string) => {
    if (when(call === 'link' ? b : a)) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    real(a, b);
  };
}
const expectLocal = (fs: MemFs) => ({ kind: 'file' as const, size: 5, mtimeMs: 1000, mode: 0o644, ino: fs.lstat(`${R}/f.txt`).ino });

const ASIDE = `${R}/.omirr-part.aside`;
/** The parked objects (not their sidecars) in the aside directory. */
const parked = (fs: MemFs): string[] => fs.walk(ASIDE).filter((n) => !/\.(placed|path)$/.test(n));
const noKeep = () => [];

test('placing over the expected file replaces it; the old one is parked, then removed after its grace period', () => {
  const fs = world();
  const out = placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, expectLocal(fs));
  assert.deepEqual(out, { done: true });
  assert.equal(fs.content(`${R}/f.txt`), 'remote');
  assert.equal(fs.nodes.has(`${R}/stage/f.txt`), false);
  assert.equal(parked(fs).length, 1, 'the replaced file waits out its grace period');
  assert.equal(tidyAside(fs, R), true, 'not empty yet');
  // the sidecar was written at (simulated) time 0: not due before the grace period is over
  assert.deepEqual(settleReplaced(fs, R, REPLACED_GRACE_MS - 1, noKeep), { kept: [], waiting: 1 });
  assert.deepEqual(settleReplaced(fs, R, REPLACED_GRACE_MS, noKeep), { kept: [], waiting: 0 });
  assert.equal(tidyAside(fs, R), false);
  assert.deepEqual(fs.walk(R).filter((p) => p.startsWith('.omirr')), []);
});

test('a replaced file written after its placing (a held-open handle) is kept as a conflict copy, its bytes intact', () => {
  const fs = world();
  const ino = fs.lstat(`${R}/f.txt`).ino;
  const handle = fs.open(`${R}/f.txt`); // a local process opened it before the placing
  assert.deepEqual(placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, expectLocal(fs)), { done: true });
  // the writer's bytes go to the inode it holds, now parked
  fs.writeHandle(handle, 'written through the held handle', 2500);
  assert.equal(fs.content(`${R}/f.txt`), 'remote');
  fs.createFile(`${R}/f.omirr-conflict-A.txt`, 'taken', 0o644, 1); // no-clobber: the next name
  const names = (rel: string, st: { mtimeMs: number }) => [{ name: `f.omirr-conflict-A.txt` }, { name: `${rel}.${st.mtimeMs}` }];
  assert.deepEqual(settleReplaced(fs, R, Infinity, names), { kept: [{ path: 'f.txt', keptAs: 'f.txt.2500' }], waiting: 0 });
  assert.equal(fs.content(`${R}/f.txt.2500`), 'written through the held handle');
  assert.equal(fs.lstat(`${R}/f.txt.2500`).ino, ino, 'the same inode: later writes through the handle land in the copy too');
  assert.equal(fs.content(`${R}/f.omirr-conflict-A.txt`), 'taken');
  assert.equal(fs.content(`${R}/f.txt`), 'remote');
  assert.equal(tidyAside(fs, R), false);
});

test('a removed file is parked too; a crash leaves it parked: the next start settles it the same way', () => {
  for (const written of [false, true]) {
    const fs = world();
    const handle = fs.open(`${R}/f.txt`);
    assert.deepEqual(removeObject(fs, R, 'f.txt', expectLocal(fs)), { done: true });
    assert.equal(fs.nodes.has(`${R}/f.txt`), false);
    if (written) fs.writeHandle(handle, 'late bytes', 2500);
    // restart: recovery puts back only what a placing left half done, not parked files
    assert.deepEqual(recoverAside(fs, R), []);
    assert.equal(fs.nodes.has(`${R}/f.txt`), false, 'a parked file is not put back at its path');
    const r = settleReplaced(fs, R, Infinity, () => [{ name: 'f.kept.txt' }]);
    assert.deepEqual(r.kept, written ? [{ path: 'f.txt', keptAs: 'f.kept.txt' }] : []);
    if (written) assert.equal(fs.content(`${R}/f.kept.txt`), 'late bytes');
    assert.equal(tidyAside(fs, R), false);
  }
});

test('aside names never look like their sidecars: files named long, path, placed, x.long come back after a crash', () => {
  for (const name of ['long', 'path', 'placed', 'x.long', 'y.placed', 'z.path']) {
    const fs = new MemFs(R);
    fs.createFile(`${R}/${name}`, 'mine', 0o644, 1000);
    const exp = { kind: 'file' as const, size: 4, mtimeMs: 1000, mode: 0o644 };
    // a crash right after the move aside: the object waits in the aside directory
    const d = displace(fs, R, name, exp);
    assert.ok('aside' in d && d.aside !== undefined, name);
    assert.equal(fs.nodes.has(`${R}/${name}`), false);
    assert.deepEqual(recoverAside(fs, R), [{ path: name, keptAs: name }]);
    assert.equal(fs.content(`${R}/${name}`), 'mine', name);
    // and parked after a placing: dropped when untouched, nothing left behind
    fs.createFile(`${R}/staged`, 'remote', 0o644, 2000);
    assert.deepEqual(placeObject(fs, R, name, `${R}/staged`, exp), { done: true });
    assert.deepEqual(settleReplaced(fs, R, Infinity, noKeep), { kept: [], waiting: 0 }, name);
    assert.equal(tidyAside(fs, R), false, name);
  }
});

test('every candidate name taken (links and directories too): a numbered name, never a refusal (issue 9, item 3)', () => {
  const fs = world();
  fs.createFile(`${R}/l.omirr-conflict-X`, 'taken', 0o644, 1);
  fs.symlink('old-target', `${R}/l`);
  const out = placeSymlink(fs, R, 'l', 'new-target', { kind: 'symlink', target: 'old-target' }, () => [{ name: 'l.omirr-conflict-X' }]);
  assert.deepEqual(out, { done: true, keptAs: 'l.omirr-conflict-2' });
  assert.equal(fs.readlink(`${R}/l`), 'new-target');
  assert.equal(fs.readlink(`${R}/l.omirr-conflict-2`), 'old-target');
  fs.mkdir(`${R}/d`, { mode: 0o755 });
  fs.createFile(`${R}/d.omirr-conflict-X`, 'taken', 0o644, 1);
  assert.equal(keepDirAside(fs, R, 'd', [{ name: 'd.omirr-conflict-X' }]), 'd.omirr-conflict-2');
});

test('ENOSPC while keeping the loser: the winner goes back out, the loser back in place, nothing aside', () => {
  const fs = world();
  const exp = expectLocal(fs);
  noSpaceFor(fs, 'link', (p) => p.includes('conflict'));
  assert.throws(() => placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, exp, () => [{ name: 'f.omirr-conflict-X.txt' }]), /ENOSPC/);
  assert.equal(fs.content(`${R}/f.txt`), 'local');
  tidyAside(fs, R);
  assert.deepEqual(fs.walk(R).filter((p) => p.startsWith('.omirr')), []);
});

test('no room to park the replaced file (ENOSPC): the placing is undone, the old file back in place, nothing aside', () => {
  const fs = world();
  const exp = expectLocal(fs);
  noSpaceFor(fs, 'writeFile', (p) => p.endsWith('.placed'));
  assert.throws(() => placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, exp), /ENOSPC/);
  assert.equal(fs.content(`${R}/f.txt`), 'local');
  assert.equal(fs.content(`${R}/stage/f.txt`), undefined, 'the staged file was linked and unlinked: the batch is retried');
  tidyAside(fs, R);
  assert.deepEqual(fs.walk(R).filter((p) => p.startsWith('.omirr')), []);
});

test('remove: only what the index expects; a crash that leaves an object aside is recovered at start', () => {
  const fs = world();
  const exp = expectLocal(fs);
  fs.writeInPlace(`${R}/f.txt`, 'edited!', 1500);
  assert.equal(removeObject(fs, R, 'f.txt', exp).done, false);
  assert.equal(fs.content(`${R}/f.txt`), 'edited!');
  // a crash between moving aside and the end: the object waits in the aside directory
  tidyAside(fs, R);
  fs.mkdir(`${R}/.omirr-part.aside`, { mode: 0o700 });
  fs.rename(`${R}/f.txt`, `${R}/.omirr-part.aside/1-1.${encodeURIComponent('f.txt')}`);
  assert.deepEqual(recoverAside(fs, R), [{ path: 'f.txt', keptAs: 'f.txt' }]);
  assert.equal(fs.content(`${R}/f.txt`), 'edited!');
});

test('a new file (nothing expected at its path): the path is not looked at before the link; whatever appeared there stays, "appeared", on node:fs as in the simulation', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'omirr-place-new-'));
  try {
    const worlds: Array<[string, PlaceFs, string]> = [
      ['memFs', new MemFs(R), R],
      ['node:fs', nodePlaceFs, tmp],
    ];
    for (const [name, fs, root] of worlds) {
      fs.mkdir(`${root}/d`, { mode: 0o755 });
      fs.mkdir(`${root}/st`, { mode: 0o700 });
      const looked: string[] = [];
      const counted: PlaceFs = Object.assign(Object.create(fs) as PlaceFs, {
        lstat: (p: string) => (looked.push(p), fs.lstat(p)),
        kind: fs.kind === undefined ? undefined : (p: string) => (looked.push(p), fs.kind!(p)),
      });
      const staged = (n: string) => {
        fs.writeFile(`${root}/st/${n}`, `remote ${n}`);
        return `${root}/st/${n}`;
      };
      // free: placed, only the parent looked at (realDirChain)
      assert.deepEqual(placeObject(counted, root, 'd/new', staged('new'), { kind: 'absent' }), { done: true }, name);
      assert.deepEqual(looked, [`${root}/d`], `${name}: the free path itself is not stat'ed`);
      assert.equal(fs.readFile(`${root}/d/new`, 'utf8'), 'remote new');
      // taken meanwhile by each kind of object: nothing replaced, the staged file kept
      fs.writeFile(`${root}/d/file`, 'local');
      fs.mkdir(`${root}/d/dir`, { mode: 0o755 });
      fs.symlink('new', `${root}/d/link`);
      fs.symlink('nowhere', `${root}/d/dangling`);
      for (const n of ['file', 'dir', 'link', 'dangling']) {
        const src = staged(n);
        assert.deepEqual(placeObject(counted, root, `d/${n}`, src, { kind: 'absent' }), { done: false, changed: 'appeared' }, `${name}: ${n}`);
        assert.equal(fs.readFile(src, 'utf8'), `remote ${n}`, `${name}: the staged ${n} is still there`);
      }
      assert.equal(fs.readFile(`${root}/d/file`, 'utf8'), 'local');
      assert.equal(fs.lstat(`${root}/d/dir`).isDirectory(), true);
      assert.equal(fs.readlink(`${root}/d/link`, 'utf8'), 'new');
      assert.equal(fs.readlink(`${root}/d/dangling`, 'utf8'), 'nowhere');
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
