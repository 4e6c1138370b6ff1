// A watcher backlog of more than RESCAN_INSTEAD_OF_BATCH paths is handled as one rescan of
// the tree (src/daemon/treeReplica.ts, localBatch). Its small files must still reach the
// peers inline: their bytes, read once when hashed, wait in the inline cache with the
// version that describes them, as a watcher batch's do. Before, the rescan hashed without
// keeping anything and every peer fetched the burst back in tar batches (9,000 of the
// bench's 10,000 files, packed once per peer by the writer). A real tree and real io
// threads; the batch is handed to the replica directly, so the rescan is certain.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireChange } from '../../src/core/wireChange.js';
import { InlineContentCache } from '../../src/daemon/inlineContent.js';
import { BURST_SEND_FILES, TreeReplica } from '../../src/daemon/treeReplica.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dir = tempDir('burst-rescan-inline');
after(async () => {
  await closePools();
  removeDir(dir);
});

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');

test("a burst taken as a rescan: every small file's bytes are in the inline cache at the version sent; a large one is not", async () => {
  const root = join(dir, 'tree');
  mkdirSync(root, { recursive: true });
  const cache = new InlineContentCache();
  const sent: WireChange[] = [];
  const r = new TreeReplica({ name: 'data', root, node: 'a', stateDir: join(dir, 'state'), inline: cache, send: async (changes) => void sent.push(...changes) });
  await r.load();
  await r.scan(); // the initial scan (an empty tree)
  const paths: string[] = [];
  for (let d = 0; d < 50; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 100; f++) {
      const p = `d${d}/f${f}`;
      writeFileSync(join(root, p), `${p} ${'x'.repeat(f)}\n`);
      paths.push(p);
    }
  }
  writeFileSync(join(root, 'large.bin'), Buffer.alloc(100 * 1024, 7)); // above the inline limit
  await r.localChanges([...paths, 'large.bin'].map((path) => ({ path, kind: 'file' as const })), []);
  await r.idle();
  assert.equal(r.stats.scansBy.burst, 1, 'the batch was taken as a rescan');
  const files = sent.filter((c) => c.rec.entry.kind === 'file' && !c.rec.deleted);
  assert.equal(files.length, paths.length + 1);
  for (const c of files) {
    const e = c.rec.entry;
    const data = cache.get('data', e.path, e.hash!);
    if (e.path === 'large.bin') {
      assert.equal(data, undefined, 'a large file is fetched, not kept');
      continue;
    }
    assert.ok(data, `${e.path}: not in the inline cache`);
    assert.equal(data.length, e.size);
    assert.equal(sha(data), e.hash, `${e.path}: the bytes kept are the version's`);
    assert.equal(data.toString(), `${e.path} ${'x'.repeat(Number(e.path.slice(e.path.lastIndexOf('f') + 1)))}\n`);
  }
  await r.close();
});

// The rescan used to hash the whole backlog and then send it in one go: the peers sat idle
// while the writer hashed (about a second of a 10,000-file burst, docs/performance.md "tenth
// pass"). Now what needs no hash goes first and the files follow a part at a time.
test("a burst taken as a rescan is sent part by part: directories first, then at most BURST_SEND_FILES files a time, each once", async () => {
  const root = join(dir, 'parts');
  mkdirSync(root, { recursive: true });
  const cache = new InlineContentCache();
  const calls: WireChange[][] = [];
  const r = new TreeReplica({ name: 'data', root, node: 'a', stateDir: join(dir, 'state-parts'), inline: cache, send: async (changes) => void calls.push(changes) });
  await r.load();
  await r.scan();
  calls.length = 0;
  const paths: string[] = [];
  for (let d = 0; d < 50; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 100; f++) {
      const p = `d${d}/f${f}`;
      writeFileSync(join(root, p), `${p}\n`);
      paths.push(p);
    }
  }
  await r.localChanges(paths.map((path) => ({ path, kind: 'file' as const })), []);
  await r.idle();
  assert.equal(r.stats.scansBy.burst, 1, 'the batch was taken as a rescan');
  assert.ok(calls.length >= 1 + Math.ceil(paths.length / BURST_SEND_FILES), `sent in ${calls.length} parts`);
  assert.deepEqual(calls[0]!.map((c) => c.rec.entry.kind), Array(50).fill('dir'), 'the directories go first, alone');
  const seen = new Set<string>();
  for (const part of calls) {
    assert.ok(part.length <= BURST_SEND_FILES, `a part of ${part.length}`);
    for (const c of part) {
      const e = c.rec.entry;
      assert.ok(!seen.has(e.path), `${e.path} sent twice`);
      if (e.kind === 'file') {
        assert.ok(seen.has(e.path.slice(0, e.path.indexOf('/'))), `${e.path} before its directory`);
        assert.equal(e.hash, sha(`${e.path}\n`));
        assert.equal(cache.get('data', e.path, e.hash)?.toString(), `${e.path}\n`);
      }
    }
    for (const c of part) seen.add(c.rec.entry.path);
  }
  assert.equal(seen.size, paths.length + 50);
  await r.close();
});
