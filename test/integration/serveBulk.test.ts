// Bulk syncs through a real `omirr serve` on 127.0.0.1: thousands of small files (their
// listings and expectations span many protocol frames in both directions) and large files
// (many data frames; the receiving side takes ownership of the chunks it reads), each pushed
// and pulled, compared by content hash.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKey, omirrBin, rmTemp, snapshot, startServe, tempDir, writeConfig, type ServeProcess } from '../helpers/netFixtures.js';

let base: string;
let serve: ServeProcess;
let client: ReturnType<typeof makeKey>;

before(async () => {
  base = tempDir('bulk');
  makeKey(base, 'alpha');
  client = makeKey(base, 'beta');
  for (const d of ['small', 'large', 'dst']) mkdirSync(join(base, d));
  // 3,000 small files in 30 directories, with long names so the listings are several frames.
  for (let d = 0; d < 30; d++) {
    const dir = join(base, 'small', `directory-with-a-rather-long-name-${d}`);
    mkdirSync(dir);
    for (let i = 0; i < 100; i++) writeFileSync(join(dir, `file-number-${i}-of-directory-${d}-padded-so-that-the-expected-list-needs-several-frames.txt`), `${d}/${i}\n`.repeat((i % 7) + 1));
  }
  // Large files of odd sizes: chunk and frame boundaries fall everywhere.
  const sizes = [8 * 1024 * 1024 + 13, 3 * 1024 * 1024 - 1, 65536, 65535, 300_001];
  sizes.forEach((n, i) => writeFileSync(join(base, 'large', `big-${i}.bin`), randomBytes(n)));
  const config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = small small beta', 'tree = large large beta', 'tree = dst dst beta rw']);
  serve = await startServe(config);
});

after(async () => {
  await serve?.stop();
  rmTemp(base);
});

function runSync(src: string, dst: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [omirrBin, 'sync', src, dst, '--key', client.file, '--pin', serve.fingerprint], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

const url = (tree: string): string => `omirr://127.0.0.1:${serve.port}/${tree}`;

test('3,000 small files: push to and pull from omirr://, identical; a re-run sends nothing', async () => {
  const push = await runSync(join(base, 'small'), url('dst/small'));
  assert.equal(push.code, 0, push.stderr);
  const want = snapshot(join(base, 'small'));
  assert.equal(Object.keys(want).length, 3030);
  assert.deepEqual(snapshot(join(base, 'dst/small')), want);
  const pull = await runSync(url('small'), join(base, 'pulled-small'));
  assert.equal(pull.code, 0, pull.stderr);
  assert.deepEqual(snapshot(join(base, 'pulled-small')), want);
  const again = await runSync(join(base, 'small'), url('dst/small'));
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(snapshot(join(base, 'dst/small')), want);
});

test('large files: push to and pull from omirr://, hashes identical', async () => {
  const want = snapshot(join(base, 'large'));
  const push = await runSync(join(base, 'large'), url('dst/large'));
  assert.equal(push.code, 0, push.stderr);
  assert.deepEqual(snapshot(join(base, 'dst/large')), want);
  const pull = await runSync(url('large'), join(base, 'pulled-large'));
  assert.equal(pull.code, 0, pull.stderr);
  assert.deepEqual(snapshot(join(base, 'pulled-large')), want);
});
