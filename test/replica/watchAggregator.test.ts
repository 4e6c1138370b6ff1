// The watcher's pure aggregator (src/replica/watchAggregator.ts), table-tested with the
// time passed in and a fake watch table: coalescing, rescans covering subtrees, the
// overflow doubt and its quiet period, and the classification of lstat results (deletes,
// replaced directories, lstat errors, renames paired by inode, the root's own deletion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchAggregator, type StatResult, type WatchTable } from '../../src/replica/watchAggregator.js';

function agg(extra: Partial<ConstructorParameters<typeof WatchAggregator>[0]> = {}): WatchAggregator {
  return new WatchAggregator({ rootName: 'tree', overflowSuspectEvents: 100, quietMs: 200, ...extra });
}

/** A watch table over a map dir -> inode, recording the subtrees dropped. */
function table(watched: Record<string, number>, unwatched: string[] = []): WatchTable & { dropped: string[]; watched: Map<string, number> } {
  const w = new Map(Object.entries(watched));
  const u = new Set(unwatched);
  const dropped: string[] = [];
  return {
    watched: w,
    dropped,
    watchedIno: (d) => w.get(d),
    isUnwatched: (d) => u.has(d),
    dropSubtree: (d) => {
      dropped.push(d);
      for (const k of [...w.keys()]) if (k === d || k.startsWith(d + '/')) w.delete(k);
      for (const k of [...u]) if (k === d || k.startsWith(d + '/')) u.delete(k);
    },
  };
}

test('events coalesce per path, in first-seen order; own and ignored names are not reported', () => {
  const a = agg({ ignoreName: (n) => n.endsWith('.swp') });
  const cases: Array<[string, string | null, boolean]> = [
    ['', 'a.txt', true],
    ['d', 'b.txt', true],
    ['', 'a.txt', true],
    ['', '.omirr-part.x', false],
    ['d', 'c.swp', false],
  ];
  for (const [dir, name, added] of cases) assert.equal(a.event(dir, name, 0), added, `${dir}/${name}`);
  assert.deepEqual(a.takePending(), ['a.txt', 'd/b.txt']);
  assert.deepEqual(a.takePending(), []);
  assert.equal(a.hasWork(), false);
});

test('an event without a name asks for a rescan of its directory', () => {
  const a = agg();
  assert.equal(a.event('d/e', null, 0), true);
  assert.deepEqual(a.takePending(), []);
  assert.deepEqual(a.takeRescans(), [{ path: 'd/e', reason: 'event without a file name' }]);
});

test('rescans: a subtree covers what is below it, never a sibling with the same prefix', () => {
  const table: Array<{ asks: string[]; want: string[] }> = [
    { asks: ['a/b', 'a'], want: ['a'] },
    { asks: ['a', 'a/b'], want: ['a'] },
    { asks: ['a', 'ab'], want: ['a', 'ab'] },
    { asks: ['a/b', 'a/c', ''], want: [''] },
    { asks: ['', 'x'], want: [''] },
  ];
  for (const { asks, want } of table) {
    const a = agg();
    for (const p of asks) a.requestRescan(p, `why ${p}`);
    assert.equal(a.hasWork(), true);
    assert.deepEqual(a.takeRescans().map((r) => r.path).sort(), want, asks.join(','));
    assert.equal(a.hasWork(), false);
  }
});

test('overflow doubt: raised by a full read while watching, a rescan of the whole tree once quiet', () => {
  const a = agg();
  assert.equal(a.turn(99, true), null);
  assert.equal(a.turn(500, false), null, 'no watches: nothing to doubt');
  assert.equal(a.quietCheck(0), null);
  assert.match(a.turn(100, true) ?? '', /100 inotify events in one read/);
  a.event('', 'f', 1000); // the burst goes on
  assert.deepEqual(a.quietCheck(1150), { waitMs: 51 });
  assert.equal(a.quietCheck(1200), 'rescan');
  assert.deepEqual(a.takeRescans().map((r) => r.path), ['']);
  assert.equal(a.quietCheck(5000), null, 'the doubt is spent');
});

test('classify: kinds, deletes, lstat errors, new and replaced directories', () => {
  const a = agg();
  const t = table({ '': 1, d: 10, 'd/e': 11, x: 20 });
  const paths = ['f.txt', 'd', 'x', 'n', 'bad/p', 'gone.txt'];
  const stats: StatResult[] = [{ kind: 'file', ino: 5 }, { kind: 'dir', ino: 99 }, { kind: 'file', ino: 21 }, { kind: 'dir', ino: 30 }, { error: 'EACCES' }, 'gone'];
  const c = a.classify(paths, stats, t);
  assert.deepEqual(c.report, {
    moves: [],
    changes: [
      { path: 'f.txt', kind: 'file', ino: 5 },
      { path: 'd', kind: 'dir', ino: 99 },
      { path: 'x', kind: 'file', ino: 21 },
      { path: 'n', kind: 'dir', ino: 30 },
      { path: 'gone.txt', kind: 'gone' },
    ],
  });
  // d was replaced by another directory (new inode): its watches go and it is armed again;
  // x was a directory and is a file now; n is new
  assert.deepEqual(t.dropped, ['d', 'x']);
  assert.deepEqual(c.newDirs, [{ dir: 'd', ino: 99 }, { dir: 'n', ino: 30 }]);
  assert.deepEqual([...t.watched.keys()], ['']);
  assert.equal(c.rootInDoubt, false);
  // the unreadable path is never reported as deleted: its parent is rescanned
  assert.deepEqual(a.takeRescans(), [{ path: 'bad', reason: 'lstat bad/p: EACCES' }]);
});

test('classify: a vanished watched directory drops its subtree; the root name raises the doubt', () => {
  const a = agg();
  const t = table({ '': 1, d: 10, 'd/e': 11 }, ['u']);
  const c = a.classify(['d', 'u', 'tree'], ['gone', 'gone', 'gone'], t);
  assert.deepEqual(t.dropped, ['d', 'u']);
  assert.equal(c.rootInDoubt, true);
  assert.deepEqual(c.newDirs, []);
});

test('classify: a rename is paired by inode, from the index or from what was reported before', () => {
  const index = new Map([['old.txt', 7]]);
  const a = agg({ inodeOf: (p) => index.get(p) });
  const t = table({ '': 1 });
  const c1 = a.classify(['old.txt', 'new.txt'], ['gone', { kind: 'file', ino: 7 }], t);
  assert.deepEqual(c1.report?.moves.map((m) => [m.from, m.to]), [['old.txt', 'new.txt']]);
  assert.deepEqual(c1.report?.changes, []);
  // not in the index: the inode the aggregator saw in an earlier batch pairs it
  a.classify(['b.txt'], [{ kind: 'file', ino: 8 }], t);
  const c2 = a.classify(['b.txt', 'c.txt'], ['gone', { kind: 'file', ino: 8 }], t);
  assert.deepEqual(c2.report?.moves.map((m) => [m.from, m.to]), [['b.txt', 'c.txt']]);
  // nothing seen: no report at all
  assert.equal(a.classify(['q'], [{ error: 'EIO' }], t).report, undefined);
});

test('the echo of our own placing is not reported; the watches of a replaced directory are dropped all the same', () => {
  const asked: string[] = [];
  // the daemon's check: a file with inode 7, 3 bytes (what it placed at a.txt and d)
  const a = agg({
    ownEcho: (p, st) => {
      asked.push(p);
      return st.ino === 7 && st.size === 3;
    },
  });
  const t = table({ '': 1, d: 5 });
  const stats: StatResult[] = [
    { kind: 'file', ino: 7, size: 3, mtimeMs: 1 }, // a.txt: our placing
    { kind: 'file', ino: 8, size: 3, mtimeMs: 1 }, // b.txt: another file (a user's)
    { kind: 'file', ino: 7, size: 3, mtimeMs: 1 }, // d: our file where a watched directory was
    { kind: 'dir', ino: 9 }, // e: never asked (not a file)
  ];
  const c = a.classify(['a.txt', 'b.txt', 'd', 'e'], stats, t);
  assert.deepEqual(asked, ['a.txt', 'b.txt', 'd']);
  assert.deepEqual(c.report?.changes, [
    { path: 'b.txt', kind: 'file', ino: 8 },
    { path: 'e', kind: 'dir', ino: 9 },
  ]);
  assert.deepEqual(t.dropped, ['d'], 'the directory replaced by our file is no longer watched');
  assert.equal(a.echoes, 2);
  // only echoes in a batch: nothing to report
  assert.equal(a.classify(['a.txt'], [{ kind: 'file', ino: 7, size: 3, mtimeMs: 1 }], t).report, undefined);
});

test('holdEmpty: an empty file is held back once; its next sight (an event, or the end of the hold) is reported whatever it is', () => {
  const a = agg();
  const empty: StatResult = { kind: 'file', ino: 7, size: 0, mtimeMs: 1 };
  const full: StatResult = { kind: 'file', ino: 7, size: 4096, mtimeMs: 2 };
  const dir: StatResult = { kind: 'dir', ino: 8 };
  // first sight: the empty file waits, the rest goes on (a directory, a file with bytes, a delete)
  let r = a.holdEmpty(['new.bin', 'd', 'old.bin', 'gone.bin'], [empty, dir, full, 'gone']);
  assert.deepEqual(r.held, ['new.bin']);
  assert.deepEqual(r.paths, ['d', 'old.bin', 'gone.bin']);
  assert.deepEqual(r.stats, [dir, full, 'gone']);
  // its write's event comes before the hold ends: reported once, written
  r = a.holdEmpty(['new.bin'], [full]);
  assert.deepEqual([r.held, r.paths], [[], ['new.bin']]);
  // the hold's end finds it reported: nothing pending again
  a.releaseHeld('new.bin');
  assert.equal(a.hasWork(), false, 'no second report of a path its event reported');

  // a file that stays empty: held once, then reported empty when the hold ends
  r = a.holdEmpty(['touched'], [empty]);
  assert.deepEqual(r.held, ['touched']);
  a.releaseHeld('touched');
  assert.deepEqual(a.takePending(), ['touched']);
  r = a.holdEmpty(['touched'], [empty]);
  assert.deepEqual([r.held, r.paths, r.stats], [[], ['touched'], [empty]], 'never held twice in a row');
  // deleted during its hold: the delete is reported (the path is not held any more)
  a.holdEmpty(['brief'], [empty]);
  r = a.holdEmpty(['brief'], ['gone']);
  assert.deepEqual([r.held, r.paths], [[], ['brief']]);
  a.releaseHeld('brief');
  assert.equal(a.hasWork(), false);
});
