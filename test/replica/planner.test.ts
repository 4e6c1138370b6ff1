// Table tests of the replica's pure planner (src/replica/planner.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import type { IndexRecord, TreeIndex } from '../../src/core/treeIndex.js';
import { conflictKeepNames, planLocalBatch, planRemoteRecord, replayJournal, sharedConflictName } from '../../src/replica/planner.js';

const T = 1_700_000_000_000;
const file = (path: string, hash: string, version: Record<string, number>, extra: Partial<Entry> = {}): IndexRecord => ({
  entry: { path, kind: 'file', size: hash.length, mtimeMs: T, mode: 0o644, hash, ...extra },
  version,
});
const dir = (path: string, version: Record<string, number>): IndexRecord => ({ entry: { path, kind: 'dir', size: 0, mtimeMs: 0, mode: 0o755 }, version });
const link = (path: string, target: string, version: Record<string, number>): IndexRecord => ({ entry: { path, kind: 'symlink', size: 0, mtimeMs: 0, mode: 0o777, target }, version });
const gone = (r: IndexRecord, version: Record<string, number>): IndexRecord => ({ ...r, version, deleted: { atMs: T } });
const ix = (...recs: IndexRecord[]): TreeIndex => new Map(recs.map((r) => [r.entry.path, r]));

interface Row {
  name: string;
  local?: IndexRecord;
  remote: IndexRecord;
  staged?: boolean;
  op: string;
  expect?: string;
  keep?: boolean;
  dirAside?: boolean;
}

const L = file('f', 'aaaa', { a: T + 10 }, { ino: 7 });
const rows: Row[] = [
  { name: 'new file, bytes not here yet', remote: file('f', 'bbbb', { b: T }), op: 'fetch' },
  { name: 'new file, staged', remote: file('f', 'bbbb', { b: T }), staged: true, op: 'place', expect: 'absent' },
  { name: 'equal version', local: L, remote: file('f', 'aaaa', { a: T + 10 }), op: 'ignore' },
  { name: 'ours descends from theirs', local: L, remote: file('f', 'zz', { a: T + 5 }), op: 'ignore' },
  { name: 'theirs descends from ours', local: L, remote: file('f', 'bbbb', { a: T + 10, b: T + 20 }), staged: true, op: 'place', expect: 'file', keep: false },
  { name: 'concurrent, theirs newer', local: L, remote: file('f', 'bbbb', { b: T + 20 }), staged: true, op: 'place', expect: 'file', keep: true },
  { name: 'concurrent, ours newer', local: L, remote: file('f', 'bbbb', { b: T + 1 }), op: 'ignore' },
  { name: 'delete descending from ours', local: L, remote: gone(L, { a: T + 10, b: T + 20 }), op: 'remove', expect: 'file', keep: false },
  { name: 'concurrent delete wins', local: L, remote: gone(L, { b: T + 20 }), op: 'remove', expect: 'file', keep: true },
  { name: 'delete of a directory', local: dir('f', { a: T }), remote: gone(dir('f', { a: T }), { a: T, b: T + 1 }), op: 'rmdir' },
  { name: 'delete of what we never had', remote: gone(L, { b: T }), op: 'adopt' },
  { name: 'a directory wins over our file', local: L, remote: dir('f', { b: T + 20 }), op: 'mkdir', expect: 'file', keep: true },
  { name: 'a link wins over our directory', local: dir('f', { a: T }), remote: link('f', 'x', { b: T + 20 }), op: 'place', expect: 'absent', dirAside: true },
  { name: 'same bytes, other mode', local: L, remote: file('f', 'aaaa', { a: T + 10, b: T + 20 }, { mode: 0o600 }), op: 'setattr', expect: 'file' },
  { name: 'concurrent, same state', local: L, remote: file('f', 'aaaa', { b: T + 20 }), op: 'adopt' },
];

for (const r of rows) {
  test(`planRemoteRecord: ${r.name} -> ${r.op}`, () => {
    const index = r.local ? ix(r.local) : ix();
    const a = planRemoteRecord(index, r.remote, { keepConflicts: true, nowMs: T }, r.staged ?? false);
    assert.equal(a.op, r.op);
    if (r.expect) assert.equal((a as { expect: { kind: string } }).expect.kind, r.expect);
    if (r.keep !== undefined) assert.equal('keep' in a && a.keep !== undefined, r.keep);
    if (r.keep) assert.equal((a as { keep: Array<{ name: string }> }).keep[0]!.name, sharedConflictName('f', r.local!));
    if (r.dirAside) assert.ok('dirAside' in a && a.dirAside && a.dirAside.length > 0);
    if (r.expect === 'file') assert.equal((a as { expect: { ino?: number } }).expect.ino, 7, 'the expectation carries the inode');
  });
}

test('conflictKeepNames: shared name, then hashed names; a name already holding this loser counts as kept', () => {
  const copy = sharedConflictName('d/a.txt', file('d/a.txt', 'abcdef0123456789ff', { a: T }));
  const loser = file('d/a.txt', 'abcdef0123456789ff', { a: T });
  const there = file(copy, 'abcdef0123456789ff', { a: T + 1 }, { ino: 9 });
  const names = conflictKeepNames(ix(loser, there), 'd/a.txt', copy, loser);
  assert.equal(names.length, 3);
  assert.equal(names[0]!.name, copy);
  assert.deepEqual(names[0]!.sameIf, { kind: 'file', size: loser.entry.size, mtimeMs: T, mode: 0o644, ino: 9 });
  assert.match(names[1]!.name, /-a-abcdef01\.txt$/);
  assert.equal(names[1]!.sameIf, undefined);
});

test('replayJournal: ours always, a peer\'s when on disk, otherwise a failed item; covered and beaten entries skipped', () => {
  const saved = ix(file('x', 'old', { a: T }));
  const ours = gone(file('t', 'q', { a: T }), { a: T + 50 });
  const entries = [
    { peer: 'b', rec: file('x', 'new', { a: T, b: T + 1 }) }, // applied: on disk
    { peer: 'b', rec: file('y', 'yyy', { b: T + 2 }) }, // not applied: failed
    { peer: '', rec: ours }, // ours: taken
    { peer: 'c', rec: gone(file('t', 'q', { a: T }), { c: T + 3 }) }, // concurrent with ours, loses: skipped
    { peer: 'b', rec: file('x', 'older', { a: T }) }, // covered: skipped
  ];
  const r = replayJournal(saved, entries, (rec) => rec.entry.path === 'x');
  assert.equal(saved.get('x')!.entry.hash, 'new');
  assert.deepEqual(saved.get('t')!.version, { a: T + 50 });
  assert.deepEqual(r.ours, [ours]);
  assert.deepEqual(r.failed.map((f) => f.rec.entry.path), ['y']);
  assert.equal(saved.get('y'), undefined);
});

test('planLocalBatch: a vanished directory takes what the index had below it; unchanged paths give nothing', () => {
  const index = ix(dir('d', { a: T }), file('d/f', 'ff', { a: T }), file('g', 'gg', { a: T }));
  const out = planLocalBatch(index, [{ path: 'd', gone: true }, { path: 'g', entry: { ...index.get('g')!.entry } }], 'a', T + 5);
  assert.deepEqual(out.map((r) => [r.entry.path, r.deleted !== undefined]).sort(), [['d', true], ['d/f', true]]);
});
