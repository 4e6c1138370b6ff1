// The PathTable (src/core/pathTable.ts) and the CompactIndex over it must behave exactly as a
// Map of path strings: every key found again after any sequence of adds, removes, re-sets,
// table growth, backward-shift deletes, arena and row compaction; iteration in insertion
// order; keys of any form (non-ASCII, surrogate pairs, lone surrogates, NUL, '', slashes at
// either end) kept exactly, also through the index file's path column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 as nodeIsUtf8 } from 'node:buffer';
import { PathTable, hashBytes, hashKey, isUtf8 } from '../../src/core/pathTable.js';
import { CompactIndex } from '../../src/core/compactIndex.js';
import type { IndexRecord } from '../../src/core/treeIndex.js';
import { decodeIndex, encodeIndex } from '../../src/actors/indexStore.js';
import { rng } from '../../src/core/random.js';

/** Keys of every awkward form, and many plain ones sharing directories. */
function keyPool(rand: () => number, n: number): string[] {
  const odd = ['', '/', 'a/', '/a', 'a//b', 'ä/ö', 'dir/naïve', '日本/語.txt', 'emoji/😀.png', 'x/\ud800', '\udc00y', 'nul\0in/name', 'dir/\0', 'é', 'e\u0301', 'deep/a/b/c/d/e/f'];
  const keys = new Set(odd);
  while (keys.size < n) {
    const d = Math.floor(rand() * 12);
    const f = Math.floor(rand() * n);
    keys.add(d === 0 ? `f${f}` : `g${d % 3}/d${d}/f${f}.dat`);
  }
  return [...keys];
}

test('hashKey over a string equals hashBytes over its UTF-8, and sets aside what UTF-8 cannot carry', () => {
  for (const k of ['', 'a', 'g000/d001/f12.dat', 'ä/ö', '日本/語.txt', 'emoji/😀.png', '\u07ff\u0800\uffff']) {
    const b = Buffer.from(k, 'utf8');
    assert.equal(hashKey(k), hashBytes(b, 0, b.length), k);
  }
  assert.equal(hashKey('x/\ud800'), -1);
  assert.equal(hashKey('\udc00y'), -1);
  assert.equal(hashKey('a\0b'), -1);
});

test('isUtf8 agrees with node:buffer on random bytes and on every edge of the encoding', () => {
  const rand = rng(99);
  const edges = [[0xc2, 0x80], [0xc1, 0xbf], [0xe0, 0xa0, 0x80], [0xe0, 0x9f, 0xbf], [0xed, 0x9f, 0xbf], [0xed, 0xa0, 0x80], [0xef, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0x80], [0xff]];
  for (const e of edges) assert.equal(isUtf8(Uint8Array.from(e)), nodeIsUtf8(Uint8Array.from(e)), JSON.stringify(e));
  for (let i = 0; i < 20_000; i++) {
    const len = Math.floor(rand() * 8);
    // mostly bytes that start or continue sequences
    const b = Uint8Array.from({ length: len }, () => (rand() < 0.3 ? Math.floor(rand() * 128) : 0x80 + Math.floor(rand() * 128)));
    assert.equal(isUtf8(b), nodeIsUtf8(b), Buffer.from(b).toString('hex'));
  }
});

test('PathTable: a seeded random sequence of adds and removes agrees with a Map at every step', () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const rand = rng(seed);
    const keys = keyPool(rand, 400);
    const t = new PathTable();
    const m = new Map<string, number>();
    let rows = 0;
    let cap = 0;
    for (let step = 0; step < 6000; step++) {
      const k = keys[Math.floor(rand() * keys.length)]!;
      const r = rand();
      if (r < 0.55) {
        if (m.has(k)) continue;
        if (rows === cap) t.setRows((cap = Math.max(8, cap * 2)));
        t.add(k, rows);
        m.set(k, rows++);
      } else if (r < 0.9) {
        assert.equal(t.remove(k), m.get(k) ?? -1, `seed ${seed} step ${step}: remove ${JSON.stringify(k)}`);
        m.delete(k);
      } else {
        // every key: found at its row, and its row gives it back
        assert.equal(t.size, m.size);
        for (const q of keys) assert.equal(t.find(q), m.get(q) ?? -1, `seed ${seed} step ${step}: find ${JSON.stringify(q)}`);
        for (const [q, row] of m) {
          assert.equal(t.holds(row), true);
          assert.equal(t.keyOf(row), q);
        }
      }
    }
    for (const q of keys) assert.equal(t.find(q), m.get(q) ?? -1);
  }
});

test('PathTable: moves and a reindex keep every key (the rows compacted under it)', () => {
  const t = new PathTable();
  t.setRows(100);
  const keys = Array.from({ length: 100 }, (_, i) => `d${i % 7}/n${i}`);
  keys.forEach((k, i) => t.add(k, i));
  for (let i = 0; i < 100; i += 2) t.remove(keys[i]!);
  let w = 0;
  for (let r = 0; r < 100; r++) if (t.holds(r)) t.move(r, w++);
  t.reindex(w);
  for (let i = 0; i < 100; i++) assert.equal(t.find(keys[i]!), i % 2 === 0 ? -1 : (i - 1) / 2);
  for (let r = 0; r < 50; r++) assert.equal(t.keyOf(r), keys[2 * r + 1]);
});

function rec(path: string, i: number, deleted = false): IndexRecord {
  const r: IndexRecord = { entry: { path, kind: 'file', size: i, mtimeMs: 1_765_000_000_000 + i, mode: 0o644, ino: i + 1, hash: (i % 256).toString(16).padStart(2, '0').repeat(32) }, version: { alpha: i } };
  if (deleted) r.deleted = { atMs: i };
  return r;
}

test('CompactIndex: a seeded random sequence of set, delete and re-set is a Map, in insertion order, through compactions and the index file', () => {
  for (const seed of [7, 8, 9]) {
    const rand = rng(seed);
    const keys = keyPool(rand, 3000);
    const c = new CompactIndex();
    const m = new Map<string, IndexRecord>();
    for (let step = 0; step < 30_000; step++) {
      const k = keys[Math.floor(rand() * keys.length)]!;
      const r = rand();
      if (r < 0.5) {
        const v = rec(k, step, rand() < 0.1);
        c.set(k, v);
        m.set(k, v);
      } else if (r < 0.95) assert.equal(c.delete(k), m.delete(k));
      else assert.deepStrictEqual(c.get(k), m.get(k));
    }
    assert.equal(c.size, m.size);
    assert.deepStrictEqual([...c.keys()], [...m.keys()]);
    assert.deepStrictEqual([...c], [...m]);
    for (const k of keys) assert.equal(c.has(k), m.has(k));
    // through the index file's columns: the same records in the same order
    const back = decodeIndex(encodeIndex(c, { tree: 't' })).index;
    assert.deepStrictEqual([...back], [...m]);
    for (const k of keys) assert.deepStrictEqual(back.get(k), m.get(k));
  }
});

test('CompactIndex: rows are not compacted under an iteration that sets and deletes', () => {
  const c = new CompactIndex();
  const m = new Map<string, IndexRecord>();
  for (let i = 0; i < 1024; i++) {
    c.set(`p${i}`, rec(`p${i}`, i));
    m.set(`p${i}`, rec(`p${i}`, i));
  }
  // the rows are full; deleting half and adding new keys mid-iteration would compact them
  const walk = (x: Map<string, IndexRecord>): string[] => {
    const seen: string[] = [];
    for (const k of x.keys()) {
      seen.push(k);
      const i = Number(k.slice(1));
      if (i < 600) {
        x.delete(`p${i + 400}`);
        x.set(`q${i}`, rec(`q${i}`, i));
      }
    }
    return seen;
  };
  const seenC = walk(c);
  const seenM = walk(m);
  assert.deepStrictEqual(seenC, seenM);
  assert.deepStrictEqual([...c], [...m]);
  // and after it, the next growth compacts (the holes are reused)
  for (let i = 0; i < 2000; i++) {
    c.set(`r${i}`, rec(`r${i}`, i));
    m.set(`r${i}`, rec(`r${i}`, i));
  }
  assert.deepStrictEqual([...c], [...m]);
});

test('index file: a damaged path column is refused, not half loaded', () => {
  const c = new CompactIndex();
  for (const k of ['abc', 'b/c', 'ä']) c.set(k, rec(k, 1));
  const good = encodeIndex(c, { tree: 't' });
  // one NUL more: a path count that does not match
  const at = good.indexOf(Buffer.from('b/c'));
  const extraNul = Buffer.from(good);
  extraNul[at + 1] = 0;
  assert.throws(() => decodeIndex(extraNul), /path count mismatch/);
  // the same path twice
  const dup = Buffer.from(good);
  dup.write('abc', at, 'latin1');
  assert.throws(() => decodeIndex(dup), /duplicate paths/);
  // bytes that are not UTF-8 are read as a string reads them
  const bad = Buffer.from(good);
  bad[good.indexOf(Buffer.from('ä'))] = 0xff;
  const back = decodeIndex(bad).index;
  assert.equal(back.size, 3);
  assert.equal(back.has(Buffer.from([0xff, 0xa4]).toString('utf8')), true);
});
