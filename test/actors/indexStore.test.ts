import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, toPromise } from 'xstate';
import { decodeIndex, encodeIndex, indexPath, loadIndex, loadIndexLogic, saveIndex, saveIndexLogic } from '../../src/actors/indexStore.js';
import type { IndexRecord, TreeIndex } from '../../src/core/treeIndex.js';

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
