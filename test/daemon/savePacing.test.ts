// The index save waits for a pause while changes keep coming (src/core/savePacing.ts): a
// save encodes the whole index, so saving once per delay through a burst spent CPU that
// grew with the index. The records are in the apply journal meanwhile. A real tree, real
// io threads, a real pino logger counting the 'index saved' lines.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { TreeReplica } from '../../src/daemon/treeReplica.js';
import { loadIndex } from '../../src/actors/indexStore.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dir = tempDir('save-pacing');
after(async () => {
  await closePools();
  removeDir(dir);
});

test('changes arriving for longer than the save delay: no save until they pause, then one with all of them', async () => {
  const root = join(dir, 'tree');
  mkdirSync(root, { recursive: true });
  let saves = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      saves += chunk.toString().split('\n').filter((l) => l.includes('"index saved"')).length;
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const stateDir = join(dir, 'state');
  const DELAY = 400;
  const r = new TreeReplica({ name: 'data', root, node: 'a', stateDir, log, saveDelayMs: DELAY, send: async () => undefined });
  await r.load();
  await r.scan();
  await r.idle();
  const before = saves;
  // a change every few ms for 3 s: 7 save delays (the build before saved ~7 times here)
  const end = Date.now() + 3000;
  let n = 0;
  while (Date.now() < end) {
    const p = `f${n++}`;
    writeFileSync(join(root, p), `${p}\n`);
    await r.localChanges([{ path: p, kind: 'file' as const }], []);
  }
  const during = saves - before;
  assert.ok(during <= 2, `${during} index saves while ${n} changes kept coming (a pause on a loaded machine may allow one or two)`);
  // once they pause: saved, with every change
  const deadline = Date.now() + 10_000;
  while (saves - before === during && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.ok(saves - before > during, 'saved once the changes paused');
  await r.idle();
  const saved = await loadIndex(stateDir, 'data');
  for (let i = 0; i < n; i++) assert.ok(saved.index.get(`f${i}`), `f${i} in the saved index`);
  await r.close();
});
