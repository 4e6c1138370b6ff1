// A packed scan must give back exactly the entries packed: fields present or absent, their
// order, symlink targets, and entries the columns cannot hold (kept whole), over several parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { everyPacked, packEntries, ScanList } from '../../src/core/scanColumns.js';
import type { Entry } from '../../src/core/entry.js';

function entries(): Entry[] {
  return [
    { path: 'a', kind: 'file', size: 5, mtimeMs: 1_765_000_000_123, mode: 0o644, ino: 2 ** 40 + 3, uid: 4_294_967_295, gid: 0, mtimeNs: -499_999 },
    { path: 'd', kind: 'dir', size: 0, mtimeMs: 7, mode: 0o2755, ino: 1, uid: 0, gid: 0 },
    { path: 'd/l', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, ino: 2, uid: 1, gid: 1, mtimeNs: 3, target: '../x y' },
    { path: 'bare', kind: 'file', size: 0, mtimeMs: 0, mode: 0 },
    { path: 'lone-\ud800', kind: 'file', size: 1, mtimeMs: 1.5, mode: 0o600, ino: 3, uid: 0, gid: 0 },
    // not the columns' forms: kept whole
    { path: 'hashed', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, hash: 'ab'.repeat(32) },
    { path: 'neg-uid', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, uid: -1 },
    { path: 'undef', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, ino: undefined },
    { kind: 'file', path: 'key-order', size: 1, mtimeMs: 1, mode: 0o644 },
    // the same first letters in another order (mode and mtimeMs swapped), an optional key early, one missing
    { path: 'm-swapped', kind: 'file', size: 1, mode: 0o644, mtimeMs: 1 },
    { path: 'ino-late', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, uid: 0, ino: 4 },
    { path: 'ns-before-mode', kind: 'file', size: 1, mtimeMs: 1, mtimeNs: 2, mode: 0o644 } as Entry,
    { path: 'no-mode', kind: 'file', size: 1, mtimeMs: 1 } as Entry,
    { path: 'nul\0in', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 },
  ];
}

test('every entry comes back as packed, in order, across parts, on every pass', () => {
  const all = entries();
  const list = new ScanList([packEntries(all.slice(0, 4)), packEntries([]), packEntries(all.slice(4))]);
  assert.equal(list.length, all.length);
  for (let pass = 0; pass < 2; pass++) {
    const back = [...list];
    assert.equal(back.length, all.length);
    back.forEach((e, i) => {
      assert.deepStrictEqual(e, all[i]);
      assert.deepEqual(Object.keys(e), Object.keys(all[i]!), `key order of ${all[i]!.path}`);
    });
  }
  assert.deepStrictEqual([...new ScanList([])], []);
});

test('a packed scan survives the trip to another thread (structured clone)', () => {
  const all = entries().filter((e) => !('ino' in e && e.ino === undefined)); // structuredClone keeps undefined keys: same
  assert.deepStrictEqual([...new ScanList([structuredClone(packEntries(all))])], all);
});

test('everyPacked shows every entry in order with the fields packed (absent ones undefined), and stops at the first that fails', () => {
  const all = entries();
  const c = packEntries(all);
  const seen: number[] = [];
  assert.equal(
    everyPacked(c, (e, i) => {
      seen.push(i);
      const want = all[i]!;
      for (const k of ['path', 'kind', 'size', 'mtimeMs', 'mode', 'ino', 'uid', 'gid', 'mtimeNs', 'target', 'hash'] as const) {
        assert.deepStrictEqual(e[k], want[k], `${k} of ${want.path}`);
      }
      return true;
    }),
    true,
  );
  assert.deepEqual(seen, all.map((_, i) => i));
  const upTo: number[] = [];
  assert.equal(everyPacked(c, (_, i) => (upTo.push(i), i < 2)), false);
  assert.deepEqual(upTo, [0, 1, 2]);
  assert.equal(everyPacked(packEntries([]), () => false), true);
});
