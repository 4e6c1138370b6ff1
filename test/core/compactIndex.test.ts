// CompactIndex must behave exactly as the Map it replaces: every record comes back as it
// was stored (fields present or absent, hashes, versions of one or many nodes, tombstones,
// records that do not fit the columns), in insertion order, with deletes and re-sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactIndex } from '../../src/core/compactIndex.js';
import { expiredTombstones, liveFileCount, type IndexRecord, type TreeIndex } from '../../src/core/treeIndex.js';

function records(): IndexRecord[] {
  return [
    { entry: { path: 'a', kind: 'file', size: 5, mtimeMs: 1_765_000_000_123, mtimeNs: -499_999, mode: 0o644, ino: 2 ** 40 + 3, uid: 4_294_967_295, gid: 0, hash: 'ab'.repeat(32) }, version: { alpha: 1_765_000_000_999 } },
    { entry: { path: 'd', kind: 'dir', size: 0, mtimeMs: 7, mode: 0o2755 }, version: { alpha: 1, beta: 2, gamma: 3 } },
    { entry: { path: 'd/gone', kind: 'file', size: 9, mtimeMs: 8, mode: 0o600, hash: 'cd'.repeat(32) }, version: { beta: 5 }, deleted: { atMs: 1000 } },
    { entry: { path: 'l', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, target: '../x y' }, version: { 'node-with-dash': 9 } },
    // not the columns' forms: an upper-case hash, a negative uid, an explicit undefined, an empty version
    { entry: { path: 'odd1', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, hash: 'AB'.repeat(32) }, version: { alpha: 2 } },
    { entry: { path: 'odd2', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, uid: -1, hash: 'ab'.repeat(32) }, version: { alpha: 2 } },
    { entry: { path: 'odd3', kind: 'file', size: 1, mtimeMs: 1.5, mode: 0o644, ino: undefined, hash: 'ab'.repeat(32) }, version: {} },
    { entry: { path: 'f', kind: 'file', size: 0, mtimeMs: 0, mode: 0 }, version: { alpha: 0 } },
  ];
}

test('every record comes back as stored, in insertion order, like a Map', () => {
  const c = new CompactIndex();
  const m: TreeIndex = new Map();
  for (const r of records()) {
    c.set(r.entry.path, r);
    m.set(r.entry.path, r);
  }
  assert.equal(c.size, m.size);
  assert.deepEqual([...c.keys()], [...m.keys()]);
  assert.deepEqual([...c], [...m]);
  assert.deepEqual([...c.values()], [...m.values()]);
  for (const r of records()) {
    // strict: a field absent in one and present as undefined in the other differs
    assert.deepStrictEqual(c.get(r.entry.path), r);
  }
  assert.equal(c.get('nope'), undefined);
  assert.equal(c.has('d/gone'), true);
  assert.equal(liveFileCount(c), liveFileCount(m));
  assert.deepEqual(expiredTombstones(c, 5000, 1000), expiredTombstones(m, 5000, 1000));
  assert.deepEqual(expiredTombstones(c, 1500, 1000), []);
});

test('re-set, delete and reuse of slots keep records and counts right', () => {
  const c = new CompactIndex();
  const m: TreeIndex = new Map();
  const put = (r: IndexRecord) => (c.set(r.entry.path, r), m.set(r.entry.path, r));
  for (let i = 0; i < 3000; i++) {
    put({ entry: { path: `p${i}`, kind: 'file', size: i, mtimeMs: i * 1.25, mode: 0o644, ino: i, hash: (i % 256).toString(16).padStart(2, '0').repeat(32) }, version: { n: i } });
  }
  for (let i = 0; i < 3000; i += 3) {
    c.delete(`p${i}`);
    m.delete(`p${i}`);
  }
  for (let i = 1; i < 3000; i += 3) put({ entry: { path: `p${i}`, kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 }, version: { n: i + 1 }, deleted: { atMs: i } });
  for (let i = 0; i < 500; i++) put({ entry: { path: `q${i}`, kind: 'symlink', size: 0, mtimeMs: 1, mode: 0o777, target: `t${i}` }, version: { n: 1, o: 2 } });
  // a path first kept whole, then packed, then whole again
  put({ entry: { path: 'w', kind: 'symlink', size: 0, mtimeMs: 1, mode: 0o777, target: 'x' }, version: { n: 1 } });
  put({ entry: { path: 'w', kind: 'file', size: 0, mtimeMs: 1, mode: 0o644, hash: '00'.repeat(32) }, version: { n: 2 } });
  assert.equal(c.fileCount(), liveFileCount(m));
  put({ entry: { path: 'w', kind: 'file', size: 0, mtimeMs: 1, mode: 0o644, hash: 'x' }, version: { n: 3 } });
  assert.deepEqual([...c], [...m]);
  assert.equal(c.fileCount(), liveFileCount(m));
  assert.equal(c.fileCount(), 1000 + 1);
  c.clear();
  assert.equal(c.size, 0);
  assert.equal(c.fileCount(), 0);
  assert.deepEqual([...c], []);
});

test('holdsFileStat: what get() and a comparison of size, mtime (to the microsecond), inode and hash would say, without building the record', () => {
  const c = new CompactIndex();
  const m: TreeIndex = new Map();
  const hash = 'ab'.repeat(32);
  const recs: IndexRecord[] = [
    ...records(),
    { entry: { path: 'ns', kind: 'file', size: 4096, mtimeMs: 1_765_000_000_123, mtimeNs: 456_789, mode: 0o644, ino: 77, hash }, version: { alpha: 3 } },
    { entry: { path: 'noino', kind: 'file', size: 4096, mtimeMs: 1_765_000_000_123, mode: 0o644, hash }, version: { alpha: 3 } },
    { entry: { path: 'nohash', kind: 'file', size: 4096, mtimeMs: 1_765_000_000_123, mode: 0o644, ino: 78 }, version: { alpha: 3 } },
    // kept whole (an upper-case hash): the same answer from the record
    { entry: { path: 'whole', kind: 'file', size: 4096, mtimeMs: 1_765_000_000_123, mtimeNs: 456_789, mode: 0o644, ino: 79, hash: hash.toUpperCase() }, version: { alpha: 3 } },
    { entry: { path: 'wholegone', kind: 'file', size: 4096, mtimeMs: 1_765_000_000_123, mode: 0o644, ino: 80, hash: hash.toUpperCase() }, version: { alpha: 3 }, deleted: { atMs: 5 } },
  ];
  for (const r of recs) {
    c.set(r.entry.path, r);
    m.set(r.entry.path, r);
  }
  const reference = (path: string, s: { size: number; mtimeMs: number; mtimeNs?: number; ino?: number }): boolean => {
    const r = m.get(path);
    if (!r || r.deleted || r.entry.kind !== 'file' || r.entry.hash === undefined || r.entry.size !== s.size || r.entry.ino !== s.ino) return false;
    if (r.entry.mtimeMs !== s.mtimeMs) return false;
    return r.entry.mtimeNs === undefined || s.mtimeNs === undefined || Math.floor(r.entry.mtimeNs / 1000) === Math.floor(s.mtimeNs / 1000);
  };
  let held = 0;
  for (const path of [...m.keys(), 'missing']) {
    const e: { size: number; mtimeMs: number; mtimeNs?: number; ino?: number } = m.get(path)?.entry ?? { size: 1, mtimeMs: 1 };
    const base = { size: e.size, mtimeMs: e.mtimeMs, ...(e.mtimeNs !== undefined ? { mtimeNs: e.mtimeNs } : {}), ...(e.ino !== undefined ? { ino: e.ino } : {}) };
    const variants = [
      base,
      { ...base, size: base.size + 1 },
      { ...base, mtimeMs: base.mtimeMs + 1 },
      { ...base, mtimeNs: (base.mtimeNs ?? 0) + 1 }, // the same microsecond
      { ...base, mtimeNs: (base.mtimeNs ?? 0) + 1000 }, // another microsecond
      { ...base, ino: (base.ino ?? 0) + 1 },
      { size: base.size, mtimeMs: base.mtimeMs }, // no inode, no nanoseconds
    ];
    for (const v of variants) {
      const want = reference(path, v);
      if (want) held++;
      assert.equal(c.holdsFileStat(path, v), want, `${path} ${JSON.stringify(v)}`);
    }
  }
  assert.ok(held >= 6, `${held} matches: the test must see both answers`);
});
