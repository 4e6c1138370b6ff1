import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, toPromise } from 'xstate';
import { decodeIndex, encodeIndex, indexPath, loadIndex, loadIndexLogic, saveIndex, saveIndexLogic } from '../../src/actors/indexStore.js';
import type { IndexRecord, TreeIndex } from '../../src/core/treeIndex.js';
import { CompactIndex } from '../../src/core/compactIndex.js';

function sampleIndex(n: number): TreeIndex {
  const index: TreeIndex = new Map();
  for (let i = 0; i < n; i++) {
    const path = `dir${i % 200}/file-${i}.dat`;
    const r: IndexRecord = {
      entry: { path, kind: 'file', size: 1000 + i, mtimeMs: 1_700_000_000_000 + i, mode: 0o644, ino: 5000 + i, hash: (i % 16).toString(16).repeat(64) },
      version: { alpha: 1_700_000_000_000 + i, ...(i % 3 === 0 ? { beta: 1_700_000_000_500 + i } : {}) },
    };
    if (i % 50 === 0) r.deleted = { atMs: 1_700_000_001_000 + i };
    index.set(path, r);
  }
  index.set('d', { entry: { path: 'd', kind: 'dir', size: 0, mtimeMs: 5, mode: 0o755, uid: 0, gid: 0 }, version: { alpha: 1 } });
  index.set('l', { entry: { path: 'l', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, target: '../x y' }, version: { 'node-with-dash': 9 } });
  return index;
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'omirr-indexstore-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('encode/decode round trip keeps every field', () => {
  const index = sampleIndex(300);
  const { index: back, meta } = decodeIndex(encodeIndex(index, { tree: 'www', node: 'alpha', savedAtMs: 42 }));
  assert.deepEqual(meta, { tree: 'www', node: 'alpha', savedAtMs: 42 });
  assert.deepEqual([...back.entries()], [...index.entries()]);
});

test('save and load 20,000 records (reports ms)', async (t) => {
  const state = tmp(t);
  const index = sampleIndex(20_000);
  const saved = await saveIndex(state, index, { tree: 'www', node: 'alpha' });
  assert.equal(saved.path, indexPath(state, 'www'));
  assert.equal(saved.path, join(state, 'trees', 'www.index'));
  assert.equal(saved.records, 20_002);
  const loaded = await loadIndex(state, 'www');
  assert.equal(loaded.status, 'loaded');
  assert.equal(loaded.index.size, 20_002);
  assert.deepEqual(loaded.index.get('dir7/file-7.dat'), index.get('dir7/file-7.dat'));
  assert.deepEqual([...loaded.index.entries()], [...index.entries()]);
  t.diagnostic(`20,002 records: ${saved.bytes} bytes, save ${saved.ms.toFixed(1)} ms, load ${loaded.ms.toFixed(1)} ms`);
  assert.ok(loaded.ms < 5000 && saved.ms < 5000);
  assert.deepEqual(readdirSync(join(state, 'trees')), ['www.index'], 'no temporary file left');
});

test('a missing index is empty; tree names are encoded into one file name', async (t) => {
  const state = tmp(t);
  const r = await loadIndex(state, 'none');
  assert.equal(r.status, 'missing');
  assert.equal(r.index.size, 0);
  assert.equal(indexPath(state, '../x/y'), join(state, 'trees', '..%2Fx%2Fy.index'));
});

test('crash safety: a truncated temp file never replaces the index and is cleaned up on load', async (t) => {
  const state = tmp(t);
  const index = sampleIndex(100);
  await saveIndex(state, index, { tree: 'www' });
  const good = readFileSync(indexPath(state, 'www'), 'utf8');
  // a save that died half way: its temp file holds the first half of a bigger index
  const bigger = encodeIndex(sampleIndex(2000), { tree: 'www' });
  writeFileSync(`${indexPath(state, 'www')}.tmp-99999-dead`, bigger.slice(0, bigger.length >> 1));
  const r = await loadIndex(state, 'www');
  assert.equal(r.status, 'loaded');
  assert.equal(r.removedTemps, 1);
  assert.deepEqual([...r.index.entries()], [...index.entries()]);
  assert.equal(readFileSync(indexPath(state, 'www'), 'utf8'), good);
  assert.deepEqual(readdirSync(join(state, 'trees')), ['www.index']);
});

test('a corrupt (truncated) index is reported, never half loaded', async (t) => {
  const state = tmp(t);
  mkdirSync(join(state, 'trees'), { recursive: true });
  const text = encodeIndex(sampleIndex(500), { tree: 'www' });
  writeFileSync(indexPath(state, 'www'), text.slice(0, text.length - 100));
  const r = await loadIndex(state, 'www');
  assert.equal(r.status, 'corrupt');
  assert.equal(r.index.size, 0);
  assert.match(r.error!, /not a complete index/);
  writeFileSync(indexPath(state, 'www'), JSON.stringify({ format: 'omirr-index', v: 1, nodes: [], count: 2, records: [] }));
  assert.equal((await loadIndex(state, 'www')).status, 'corrupt');
  writeFileSync(indexPath(state, 'www'), JSON.stringify({ format: 'omirr-index', v: 1, nodes: [], count: 1, records: [['p', 9, 0, 0, 0, null, null, null, null, null, null]] }));
  assert.match((await loadIndex(state, 'www')).error!, /record 0/);
});

test('save overwrites atomically and the actors load/save', async (t) => {
  const state = tmp(t);
  await saveIndex(state, sampleIndex(10), { tree: 't' });
  const saved = await toPromise(createActor(saveIndexLogic, { input: { stateDir: state, index: sampleIndex(20), meta: { tree: 't' } } }).start());
  assert.equal(saved.records, 22);
  const loaded = await toPromise(createActor(loadIndexLogic, { input: { stateDir: state, tree: 't' } }).start());
  assert.equal(loaded.index.size, 22);
});

/** Records of every form the columns hold and do not hold, and keys UTF-8 cannot carry. */
function oddIndex(): CompactIndex {
  const c = new CompactIndex();
  const put = (key: string, r: IndexRecord) => c.set(key, r);
  put('a', { entry: { path: 'a', kind: 'file', size: 5, mtimeMs: 1_765_000_000_123, mtimeNs: -499_999, mode: 0o644, ino: 2 ** 40 + 3, uid: 4_294_967_295, gid: 0, hash: 'ab'.repeat(32) }, version: { alpha: 1_765_000_000_999 } });
  put('d', { entry: { path: 'd', kind: 'dir', size: 0, mtimeMs: 7, mode: 0o2755 }, version: { alpha: 1, beta: 2, gamma: 3 } });
  put('d/gone', { entry: { path: 'd/gone', kind: 'file', size: 9, mtimeMs: 8, mode: 0o600, hash: 'cd'.repeat(32) }, version: { beta: 5 }, deleted: { atMs: 1000 } });
  put('l', { entry: { path: 'l', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, target: '../x y' }, version: { 'node-with-dash': 9 } });
  put('odd', { entry: { path: 'odd', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644, hash: 'AB'.repeat(32) }, version: { alpha: 2 } });
  put('lone-\ud800-surrogate', { entry: { path: 'lone-\ud800-surrogate', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 }, version: { alpha: 3 } });
  put('ünïcode/ファイル', { entry: { path: 'ünïcode/ファイル', kind: 'file', size: 1, mtimeMs: 1.5, mode: 0o644, hash: '01'.repeat(32) }, version: { alpha: 4 } });
  put('key-differs', { entry: { path: 'other', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 }, version: { alpha: 5 } });
  for (let i = 0; i < 50; i++) put(`x${i}`, { entry: { path: `x${i}`, kind: 'file', size: i, mtimeMs: i, mode: 0o644, ino: i }, version: { gamma: i } });
  for (let i = 0; i < 50; i += 2) c.delete(`x${i}`); // holes in the slots: the file is written in the index's order
  put('x0', { entry: { path: 'x0', kind: 'dir', size: 0, mtimeMs: 0, mode: 0o755 }, version: { gamma: 99 } });
  return c;
}

test('format 2 round trip: every form of record, key and order comes back exactly, with the counts', () => {
  const index = oddIndex();
  const meta = { tree: 'www', node: 'alpha', savedAtMs: 7, failed: [{ x: 1 }], modes: { ignored: [1], local: [] } };
  const buf = encodeIndex(index, meta);
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'OMIRRIX\n');
  const { index: back, meta: m } = decodeIndex(buf);
  assert.deepEqual(m, meta);
  assert.deepStrictEqual([...back.keys()], [...index.keys()]);
  for (const [k, r] of index) assert.deepStrictEqual(back.get(k), r, k);
  assert.equal((back as CompactIndex).fileCount(), index.fileCount());
  // and it goes on working as an index: a new record after the load
  back.set('new', { entry: { path: 'new', kind: 'file', size: 1, mtimeMs: 1, mode: 0o644 }, version: { alpha: 1 } });
  assert.equal(back.size, index.size + 1);
  assert.equal(decodeIndex(encodeIndex(new CompactIndex(), { tree: 'e' })).index.size, 0);
});

test('format 1 (the JSON document of earlier versions) still loads, and says so', async (t) => {
  const state = tmp(t);
  mkdirSync(join(state, 'trees'), { recursive: true });
  const rows = [
    ['f', 0, 3, 5, 0o644, 9, 'ab'.repeat(32), null, 0, 0, null, 0, 4],
    ['d', 1, 0, 5, 0o755, 8, null, null, null, null, null, 0, 1, 1, 2],
    ['l', 2, 0, 5, 0o777, null, null, 'f', null, null, 77, 1, 3],
  ];
  writeFileSync(indexPath(state, 'www'), JSON.stringify({ format: 'omirr-index', v: 1, tree: 'www', node: 'alpha', savedAtMs: 1, nodes: ['alpha', 'beta'], count: 3, records: rows }));
  const r = await loadIndex(state, 'www');
  assert.equal(r.status, 'loaded');
  assert.equal(r.format, 1);
  assert.deepStrictEqual(r.index.get('f'), { entry: { path: 'f', kind: 'file', size: 3, mtimeMs: 5, mode: 0o644, ino: 9, uid: 0, gid: 0, hash: 'ab'.repeat(32) }, version: { alpha: 4 } });
  assert.deepStrictEqual(r.index.get('d')!.version, { alpha: 1, beta: 2 });
  assert.deepStrictEqual(r.index.get('l'), { entry: { path: 'l', kind: 'symlink', size: 0, mtimeMs: 5, mode: 0o777, target: 'f' }, version: { beta: 3 }, deleted: { atMs: 77 } });
  await saveIndex(state, r.index, { tree: 'www' });
  const again = await loadIndex(state, 'www');
  assert.equal(again.format, 2);
  assert.deepStrictEqual([...again.index], [...r.index]);
});

test('a damaged format 2 file is reported as corrupt, never half loaded', async (t) => {
  const state = tmp(t);
  mkdirSync(join(state, 'trees'), { recursive: true });
  const good = encodeIndex(sampleIndex(300), { tree: 'www' });
  const file = indexPath(state, 'www');
  const headerEnd = 16 + good.readUInt32LE(12);
  const colStart = headerEnd + ((8 - (headerEnd % 8)) % 8);
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', good.subarray(0, good.length - 9), /not a complete index/],
    ['one byte more', Buffer.concat([good, Buffer.from([0])]), /not a complete index/],
    ['a future version', Buffer.concat([good.subarray(0, 8), Buffer.from([3, 0, 0, 0]), good.subarray(12)]), /unsupported index format version 3/],
    ['a kind out of range', (() => { const b = Buffer.from(good); b[colStart + 5] = 7; return b; })(), /record 5/],
    ['flags of a record kept whole without it', (() => { const b = Buffer.from(good); b[colStart + 304 + 7] = 64; /* after the kinds: 302 bytes, padded to 8 */ return b; })(), /record 7/],
    ['a duplicate path', (() => { const b = Buffer.from(good); const i = b.indexOf('dir1/file-1.dat'); b.write('dir0/file-0.dat', i); return b; })(), /duplicate paths/],
  ];
  for (const [what, bytes, err] of cases) {
    writeFileSync(file, bytes);
    const r = await loadIndex(state, 'www');
    assert.equal(r.status, 'corrupt', what);
    assert.equal(r.index.size, 0, what);
    assert.match(r.error!, err, what);
  }
});
