// The replica's executor (src/replica/executor.ts) over the simulation's in-memory file
// system: each action is re-checked as it changes the path (I1), so a local change made
// between the plan and the change is never removed or overwritten; nothing changes the
// disk before it is journalled; a delete of a directory that is not empty keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import type { IndexRecord, TreeIndex } from '../../src/core/treeIndex.js';
import { planRemoteRecord } from '../../src/replica/planner.js';
import { drain, emptyOutcome, ReplicaExecutor, type RoundContext, type RoundOutcome } from '../../src/replica/executor.js';
import { MemFs } from '../sim/memFs.js';

const R = '/t';
const T = 1_700_000_000_000;
const file = (path: string, hash: string, version: Record<string, number>, extra: Partial<Entry> = {}): IndexRecord => ({
  entry: { path, kind: 'file', size: hash.length, mtimeMs: T, mode: 0o644, hash, ...extra },
  version,
});
const dir = (path: string, version: Record<string, number>, mode = 0o755): IndexRecord => ({ entry: { path, kind: 'dir', size: 0, mtimeMs: 0, mode }, version });
const gone = (r: IndexRecord, version: Record<string, number>): IndexRecord => ({ ...r, version, deleted: { atMs: T } });

interface World {
  fs: MemFs;
  index: TreeIndex;
  out: RoundOutcome;
  failed: string[];
  /** Runs one round over `recs`; `between(path)` acts between each plan and its change (a user). */
  round(recs: IndexRecord[], between?: (path: string) => void, journalled?: (r: IndexRecord) => boolean): RoundOutcome;
}

function world(): World {
  const fs = new MemFs(R);
  const index: TreeIndex = new Map();
  const ex = new ReplicaExecutor(fs, R);
  const w: World = {
    fs,
    index,
    out: emptyOutcome(),
    failed: [],
    round(recs, between, journalled = () => true) {
      const ctx: RoundContext = {
        index,
        plan: (r) => planRemoteRecord(index, r, { keepConflicts: true, nowMs: T }, true),
        staged: (path) => (fs.nodes.has(`${R}/stage/${path}`) ? `${R}/stage/${path}` : undefined),
        journalled,
        adopt: (path, r) => (index.set(path, r), r),
        resolved: () => undefined,
        failed: (r, err) => w.failed.push(`${r.entry.path}: ${(err as NodeJS.ErrnoException).code}`),
        conflict: () => undefined,
      };
      const g = ex.round(recs, ctx, w.out);
      if (between) for (let s = g.next(); !s.done; s = g.next()) between(s.value);
      else drain(g);
      return w.out;
    },
  };
  fs.mkdir(`${R}/stage`, { mode: 0o700 });
  return w;
}

test('a file staged from a peer is placed; the record is applied', () => {
  const w = world();
  w.fs.createFile(`${R}/stage/f`, 'bbbb', 0o644, T);
  const out = w.round([file('f', 'bbbb', { b: T })]);
  assert.deepEqual(out.applied.map((r) => r.entry.path), ['f']);
  assert.equal(w.fs.content(`${R}/f`), 'bbbb');
});

test('a file that is not staged yet is a fetch, not a failure', () => {
  const w = world();
  const out = w.round([file('f', 'bbbb', { b: T })]);
  assert.deepEqual(out.fetches.map((r) => r.entry.path), ['f']);
  assert.deepEqual(out.applied, []);
  assert.equal(w.fs.nodes.has(`${R}/f`), false);
});

test('a user creates the file between the plan and the placing: kept, the record planned again', () => {
  const w = world();
  w.fs.createFile(`${R}/stage/f`, 'bbbb', 0o644, T);
  const out = w.round([file('f', 'bbbb', { b: T })], () => w.fs.createFile(`${R}/f`, 'user', 0o644, T + 1));
  assert.deepEqual(out.changed.map((r) => r.entry.path), ['f']);
  assert.equal(w.fs.content(`${R}/f`), 'user');
});

test('a user creates a file where a directory is to be made: never removed (before: the worker removed it)', () => {
  const w = world();
  const out = w.round([dir('d', { b: T })], () => w.fs.createFile(`${R}/d`, 'user', 0o644, T + 1));
  assert.deepEqual(out.changed.map((r) => r.entry.path), ['d']);
  assert.equal(w.fs.content(`${R}/d`), 'user');
});

test('a directory is made with the record mode; one already there is taken', () => {
  const w = world();
  w.round([dir('d', { b: T }, 0o750)]);
  assert.equal(w.fs.lstat(`${R}/d`).mode, 0o750);
  const w2 = world();
  const out = w2.round([dir('d', { b: T }, 0o711)], () => w2.fs.mkdir(`${R}/d`, { mode: 0o755 }));
  assert.deepEqual(out.applied.map((r) => r.entry.path), ['d']);
  assert.equal(w2.fs.lstat(`${R}/d`).mode, 0o711);
});

test('a setattr over a file edited meanwhile changes nothing: planned again', () => {
  const w = world();
  w.fs.createFile(`${R}/f`, 'aaaa', 0o644, T);
  w.index.set('f', file('f', 'aaaa', { a: T }, { ino: w.fs.lstat(`${R}/f`).ino }));
  const remote = file('f', 'aaaa', { a: T, b: T + 5 }, { mode: 0o600 });
  assert.equal(planRemoteRecord(w.index, remote, { keepConflicts: true, nowMs: T }, true).op, 'setattr');
  const out = w.round([remote], () => w.fs.writeInPlace(`${R}/f`, 'user', T + 9));
  assert.deepEqual(out.changed.map((r) => r.entry.path), ['f']);
  assert.equal(w.fs.lstat(`${R}/f`).mode, 0o644);
  // unchanged: the attributes are set
  const w2 = world();
  w2.fs.createFile(`${R}/f`, 'aaaa', 0o644, T);
  w2.index.set('f', file('f', 'aaaa', { a: T }, { ino: w2.fs.lstat(`${R}/f`).ino }));
  assert.deepEqual(w2.round([remote]).applied.map((r) => r.entry.path), ['f']);
  assert.equal(w2.fs.lstat(`${R}/f`).mode, 0o600);
});

test('a directory delete: an empty one goes, deepest first; one with a new file stays (not removed)', () => {
  const w = world();
  for (const d of ['a', 'a/b', 'c']) w.fs.mkdir(`${R}/${d}`, { mode: 0o755 });
  for (const d of ['a', 'a/b', 'c']) w.index.set(d, dir(d, { a: T }));
  w.fs.createFile(`${R}/c/new`, 'user', 0o644, T);
  const out = w.round([gone(dir('a', { a: T }), { a: T, b: T + 1 }), gone(dir('a/b', { a: T }), { a: T, b: T + 1 }), gone(dir('c', { a: T }), { a: T, b: T + 1 })]);
  assert.deepEqual(out.applied.map((r) => r.entry.path).sort(), ['a', 'a/b']);
  assert.deepEqual(out.notRemoved.map((r) => r.entry.path), ['c']);
  assert.equal(w.fs.content(`${R}/c/new`), 'user');
});

test('nothing changes the disk before it is journalled', () => {
  const w = world();
  w.fs.createFile(`${R}/stage/f`, 'bbbb', 0o644, T);
  const out = w.round([file('f', 'bbbb', { b: T })], undefined, () => false);
  assert.deepEqual(out.unjournalled.map((r) => r.entry.path), ['f']);
  assert.equal(w.fs.nodes.has(`${R}/f`), false);
});

test('an injected ENOSPC is a failed item; the rest of the round goes on', () => {
  const w = world();
  w.fs.createFile(`${R}/stage/g`, 'gggg', 0o644, T);
  w.fs.full = true;
  const out = w.round([dir('d', { b: T }), file('g', 'gggg', { b: T })]);
  assert.deepEqual(w.failed, ['d: ENOSPC', 'g: ENOSPC']);
  assert.deepEqual(out.applied, []);
  w.fs.full = false;
  assert.deepEqual(w.round([dir('d', { b: T }), file('g', 'gggg', { b: T })]).applied.map((r) => r.entry.path), ['d', 'g']);
});

test('a delete or setattr never acts through a symlink planted in place of a directory', () => {
  const w = world();
  w.fs.mkdir(`${R}/outside`, { mode: 0o755 });
  w.fs.createFile(`${R}/outside/f`, 'aaaa', 0o644, T);
  w.fs.symlink(`${R}/outside`, `${R}/d`);
  const rec = file('d/f', 'aaaa', { a: T });
  w.index.set('d', dir('d', { a: T }));
  w.index.set('d/f', rec);
  w.round([gone(rec, { a: T, b: T + 1 })]); // a delete
  w.round([file('d/f', 'aaaa', { a: T, b: T + 2 }, { mode: 0o600 })]); // a setattr
  assert.deepEqual(w.failed, ['d/f: ENOTDIR', 'd/f: ENOTDIR']);
  assert.equal(w.fs.content(`${R}/outside/f`), 'aaaa');
  assert.equal(w.fs.lstat(`${R}/outside/f`).mode, 0o644);
});

test('a delete whose parent directory is gone already is done', () => {
  const w = world();
  const rec = file('d/f', 'aaaa', { a: T });
  w.index.set('d/f', rec);
  const out = w.round([gone(rec, { a: T, b: T + 1 })]);
  assert.deepEqual(out.applied.map((r) => r.entry.path), ['d/f']);
  assert.deepEqual(w.failed, []);
});
