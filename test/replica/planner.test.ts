// Table tests of the replica's pure planner (src/replica/planner.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/entry.js';
import type { IndexRecord, TreeIndex } from '../../src/core/treeIndex.js';
import { conflictKeepNames, lastPerPath, planLocalBatch, planRemoteRecord, replayJournal, sharedConflictName } from '../../src/replica/planner.js';
import { FailedItems } from '../../src/replica/failures.js';

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

test('lastPerPath: the winning record of a path, not the last (an older record sent again after a crash)', () => {
  const write = file('f', 'a1', { a: T + 143 });
  const del = gone(write, { a: T + 664 });
  const link1 = link('f', 'f0.txt', { b: T + 2112 }); // relayed; concurrent with the delete, wins
  const d = dir('d', { b: T + 2112 });
  const out = lastPerPath([write, del, link1, d, write].map((rec) => ({ rec })));
  assert.deepEqual(out.map((c) => c.rec), [link1, d]);
  // a sender's normal stream: the last record of a path (it descends from the earlier ones)
  const next = file('f', 'a2', { a: T + 700 });
  assert.deepEqual(lastPerPath([write, d, next].map((rec) => ({ rec }))).map((c) => c.rec), [d, next]);
});

test('FailedItems: an item is resolved only by a record that beats it, and keeps the winning record (sim seed 8214)', () => {
  const wire = (rec: IndexRecord) => ({ tree: 't', rec });
  const f = new FailedItems();
  const symlink = link('f1.txt', 'f0.txt', { b: T + 2112 });
  f.add('b', wire(symlink), 'ENOSPC', 'ENOSPC', T);
  // a concurrent delete that loses to the failed symlink is adopted: the item stays
  assert.equal(f.resolved('f1.txt', { a: T + 664 }), false);
  // a failing record that loses to the pending one does not replace it
  f.add('a', wire(gone(symlink, { a: T + 700 })), 'ENOSPC', 'ENOSPC', T);
  assert.deepEqual(f.list().map((i) => [i.peer, i.change.rec.version, i.attempts]), [['b', { b: T + 2112 }, 2]]);
  // the record itself, or a descendant, settles it
  assert.equal(f.resolved('f1.txt', { b: T + 2112, c: T + 1 }), true);
  assert.equal(f.size, 0);
  f.add('b', wire(symlink), 'ENOSPC', 'ENOSPC', T);
  assert.equal(f.resolved('f1.txt'), true); // no version: resolved whatever it held
});

test('replayJournal: a local version concurrent with a failed peer record does not settle it (sim seed 7182)', () => {
  // the journal holds a peer's record (placed, then overwritten by a user before the crash:
  // not on disk, so failed) and then our own version of the same path, which never saw it
  const received = file('f0.txt', 'b1', { b: T + 3083 });
  const ours = file('f0.txt', 'c19', { c: T + 2809 });
  const r = replayJournal(ix(), [{ peer: 'b', rec: received }, { peer: '', rec: ours }], () => false);
  assert.deepEqual(r.failed.map((x) => x.rec), [received]); // still failing: it beats ours
  assert.deepEqual(r.settled, []);
  // a saved failed item of that record is not resolved by the replayed local version either
  const saved = ix();
  const f = new FailedItems();
  f.add('b', { tree: 't', rec: received }, 'not applied before a crash', 'crash', T);
  const r2 = replayJournal(saved, [{ peer: '', rec: ours }], () => false);
  for (const p of r2.settled) f.resolved(p, saved.get(p)?.version);
  assert.equal(f.size, 1);
  // a local version that descends from it does
  const after = file('f0.txt', 'c20', { b: T + 3083, c: T + 3100 });
  const r3 = replayJournal(saved, [{ peer: '', rec: after }], () => false);
  for (const p of r3.settled) f.resolved(p, saved.get(p)?.version);
  assert.equal(f.size, 0);
});
