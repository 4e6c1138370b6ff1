// A pack batch's buffer goes back to the main thread moved, not copied (workers/transfer.ts
// moveWith), and without piscina's main module in the thread: that module (~13 ms of CPU
// to load) was loaded for Piscina.move alone by every thread that packed or extracted, a
// small transfer's critical path. Attacked here: the result arrives whole (a wrapper piscina
// did not recognise would be cloned without its symbol keys: no buffer at all), the bytes are
// the file's, and the thread that packed has not loaded piscina's main module. In a child
// process, whose pool is its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';

const poolModule = new URL('../../src/workers/pool.js', import.meta.url).href;

test('a pack batch returns its buffer moved, whole and right, from a thread without piscina\'s main module', async () => {
  const root = mkdtempSync(join(tmpdir(), 'omirr-move-'));
  try {
    const data = Buffer.alloc(70_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    writeFileSync(join(root, 'f.bin'), data);
    const script = `
      const m = await import(${JSON.stringify(poolModule)});
      m.warmPools(['io'], 1, 'tarWarm');
      const pool = m.ioPool();
      const r = await pool.run({ root: ${JSON.stringify(root)}, items: [{ path: 'f.bin', size: ${data.length} }], cont: null, cap: 1 << 20, verify: true, blake3: false }, { name: 'packBatch' });
      const isBuf = r.buf instanceof ArrayBuffer;
      const body = isBuf ? Buffer.from(r.buf, 0, r.length) : Buffer.alloc(0);
      const loaded = await pool.run(null, { name: 'loadedTasks' });
      console.log(JSON.stringify({ isBuf, length: r.length, consumed: r.consumed, body: body.toString('base64'), loaded, threads: pool.threads.length }));
      await m.closePools();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const r = JSON.parse(stdout) as { isBuf: boolean; length: number; consumed: number; body: string; loaded: string[]; threads: number };
    assert.equal(r.isBuf, true, 'the batch buffer arrived (moved)');
    assert.equal(r.consumed, 1);
    const body = Buffer.from(r.body, 'base64');
    assert.equal(body.length, r.length);
    // the file's bytes are in the tar stream, and so is their sha256 (the pax header's omirr.sha256)
    assert.ok(body.includes(data), 'the file\'s bytes are in the batch');
    assert.ok(body.includes(Buffer.from(createHash('sha256').update(data).digest('hex'))), 'with their hash');
    assert.equal(r.threads, 1);
    assert.deepEqual(r.loaded, ['tar'], 'the tar tasks, and not piscina\'s main module');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
