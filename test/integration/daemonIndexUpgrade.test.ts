// The index file's format 2 (binary, issue 12) replaces format 1 (JSON) of earlier versions.
// A daemon upgraded in place must keep its index (no file taken as new, no version changed)
// and rewrite it in the current format, even when nothing in the tree changed (else every
// restart would pay the slow JSON load again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';
import { decodeIndex, indexPath } from '../../src/actors/indexStore.js';
import type { TreeIndex } from '../../src/core/treeIndex.js';

/** Format 1 as earlier versions wrote it: one JSON document, each record a flat array. */
function formatOne(index: TreeIndex, tree: string, node: string): string {
  const nodes: string[] = [];
  const records = [...index.values()].map((r) => {
    const e = r.entry;
    const row: unknown[] = [e.path, ['file', 'dir', 'symlink'].indexOf(e.kind), e.size, e.mtimeMs, e.mode, e.ino ?? null, e.hash ?? null, e.target ?? null, e.uid ?? null, e.gid ?? null, r.deleted?.atMs ?? null];
    for (const [n, c] of Object.entries(r.version)) {
      if (!nodes.includes(n)) nodes.push(n);
      row.push(nodes.indexOf(n), c);
    }
    return row;
  });
  return JSON.stringify({ format: 'omirr-index', v: 1, tree, node, savedAtMs: Date.now(), nodes, count: records.length, records });
}

test('a format 1 index is kept at the upgrade (no file new, no version changed) and rewritten as format 2', async (t) => {
  const c = await Cluster.create(['a'], { links: [] });
  t.after(() => c.close());
  const A = c.tree('a');
  mkdirSync(join(A, 'sub'));
  for (let i = 0; i < 20; i++) writeFileSync(join(A, i % 2 ? 'sub' : '', `f${i}.txt`), `file ${i}\n`);
  await c.start('a');
  await c.waitLive();
  await until(async () => ((await c.status('a')).trees[0]!.files === 20 ? true : undefined), 'a to index its files');
  await c.stop('a'); // saves the index
  const file = indexPath(c.nodes.get('a')!.state, 'data');
  const before = decodeIndex(readFileSync(file)).index;
  assert.equal(before.size, 21);
  writeFileSync(file, formatOne(before, 'data', 'a'));
  await c.start('a');
  await c.waitLive();
  // rewritten although nothing changed (its first save comes ~1 s after the scan)
  const magic = await until(async () => (readFileSync(file).subarray(0, 8).toString('latin1') === 'OMIRRIX\n' ? true : undefined), 'the index rewritten as format 2', 20_000);
  assert.equal(magic, true);
  const after = decodeIndex(readFileSync(file)).index;
  // format 1 never held the mtime's nanoseconds: the scan after the upgrade adds them back
  const plain = (ix: TreeIndex) => [...ix].map(([p, r]) => [p, { ...r, entry: { ...r.entry, mtimeNs: undefined } }]).sort();
  assert.deepStrictEqual(plain(after), plain(before), 'every record as it was: no file taken as new, no version changed');
  assert.equal((await c.status('a')).trees[0]!.files, 20);
});
