// The no-clobber placing primitives (src/replica/placement.ts) over the simulation's
// in-memory file system: every way a local change can slip in is detected, losers are
// kept under a free name whatever is taken, and nothing is left aside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepDirAside, placeObject, placeSymlink, recoverAside, removeObject, tidyAside } from '../../src/replica/placement.js';
import { MemFs } from '../sim/memFs.js';

const R = '/t';
function world(): MemFs {
  const fs = new MemFs(R);
  fs.createFile(`${R}/f.txt`, 'local', 0o644, 1000);
  fs.mkdir(`${R}/stage`, { mode: 0o700 });
  fs.createFile(`${R}/stage/f.txt`, 'remote', 0o644, 2000);
  return fs;
}
const expectLocal = (fs: MemFs) => ({ kind: 'file' as const, size: 5, mtimeMs: 1000, mode: 0o644, ino: fs.lstat(`${R}/f.txt`).ino });

test('placing over the expected file replaces it; nothing is left aside', () => {
  const fs = world();
  const out = placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, expectLocal(fs));
  assert.deepEqual(out, { done: true });
  assert.equal(fs.content(`${R}/f.txt`), 'remote');
  assert.equal(fs.nodes.has(`${R}/stage/f.txt`), false);
  tidyAside(fs, R);
  assert.deepEqual(fs.walk(R).filter((p) => p.startsWith('.omirr')), []);
});

test('an in-place edit since the index saw the file: nothing changes, "changed"', () => {
  const fs = world();
  const exp = expectLocal(fs);
  fs.writeInPlace(`${R}/f.txt`, 'edited!', 1500);
  const out = placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, exp);
  assert.equal(out.done, false);
  assert.equal(fs.content(`${R}/f.txt`), 'edited!');
  assert.equal(fs.content(`${R}/stage/f.txt`), 'remote', 'the staged winner is still there for the next plan');
});

test('a file created where the index had nothing: never replaced', () => {
  const fs = world();
  fs.createFile(`${R}/new.txt`, 'mine', 0o644, 1);
  const out = placeObject(fs, R, 'new.txt', `${R}/stage/f.txt`, { kind: 'absent' });
  assert.equal(out.done, false);
  assert.equal(fs.content(`${R}/new.txt`), 'mine');
});

test('a conflict loser is renamed aside to the first free name, the same inode (not a copy)', () => {
  const fs = world();
  const ino = fs.lstat(`${R}/f.txt`).ino;
  fs.createFile(`${R}/f.omirr-conflict-X.txt`, 'someone else', 0o644, 1);
  const out = placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, expectLocal(fs), () => [{ name: 'f.omirr-conflict-X.txt' }, { name: 'f.omirr-conflict-Y.txt' }]);
  assert.deepEqual(out, { done: true, keptAs: 'f.omirr-conflict-Y.txt' });
  assert.equal(fs.lstat(`${R}/f.omirr-conflict-Y.txt`).ino, ino);
  assert.equal(fs.content(`${R}/f.omirr-conflict-X.txt`), 'someone else');
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
  const link = fs.link.bind(fs);
  fs.link = (a: string, b: string) => {
    if (b.includes('conflict')) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    link(a, b);
  };
  assert.throws(() => placeObject(fs, R, 'f.txt', `${R}/stage/f.txt`, exp, () => [{ name: 'f.omirr-conflict-X.txt' }]), /ENOSPC/);
  assert.equal(fs.content(`${R}/f.txt`), 'local');
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
