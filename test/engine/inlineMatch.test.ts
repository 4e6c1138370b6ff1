// The sending sync's own process matches a delta's ranges on its main thread once told
// warmToSend (LocalDelta.inline), while they come back mostly copies: no io thread is booted
// for it (~100 ms of CPU per run). A tree not told (a server sending a pull) matches in the io
// pool, its event loop kept free. Either way the receiver rebuilds the new version exactly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Expected } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { closePools, ioPool } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const MiB = 1 << 20;
const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** An old version at dst/big.bin, a new one (64 KiB rewritten in the middle) at src/big.bin: three match ranges. */
function pair(old: Buffer): { src: string; dst: string; next: Buffer } {
  const d = tempDir('inlinematch');
  dirs.push(d);
  const src = join(d, 'src');
  const dst = join(d, 'dst');
  mkdirSync(src);
  mkdirSync(dst);
  const next = Buffer.from(old);
  randomBytes(64 * 1024).copy(next, old.length / 2 + 12345);
  writeFileSync(join(src, 'big.bin'), next);
  writeFileSync(join(dst, 'big.bin'), old);
  return { src, dst, next };
}

async function push(told: boolean, old: Buffer): Promise<{ poolTasks: number; rebuilt: boolean; written: string[] }> {
  const { src, dst, next } = pair(old);
  const sender = new LocalTree(src, { writable: false });
  const receiver = new LocalTree(dst, { writable: true });
  const sigs = await receiver.delta.signatures(['big.bin'], 'lanes32');
  const sig = sigs.get('big.bin');
  assert.ok(sig, 'signed');
  if (told) sender.delta.warmToSend?.();
  const before = ioPool().completed;
  // sha256 with the hash given: the sender runs no whole-file hash task of its own
  const stream = sender.delta.pack([{ path: 'big.bin', size: next.length, sig, hash: sha(next) }], { hash: 'sha256' });
  const exp: Expected = { path: 'big.bin', kind: 'file', size: next.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: sha(next) };
  const r = await receiver.delta.unpack(stream, [exp]);
  return { poolTasks: ioPool().completed - before, rebuilt: sha(readFileSync(join(dst, 'big.bin'))) === sha(next), written: r.written };
}

test('a sender told warmToSend matches on its own thread: no io pool task, the file rebuilt exactly', async () => {
  const r = await push(true, randomBytes(40 * MiB));
  assert.deepEqual(r.written, ['big.bin']);
  assert.ok(r.rebuilt, 'the receiver has the new version');
  assert.equal(r.poolTasks, 0, 'no match task went to the io pool');
});

test('a sender not told (a server sending a pull) matches in the io pool, the file rebuilt exactly', async () => {
  const r = await push(false, randomBytes(40 * MiB));
  assert.deepEqual(r.written, ['big.bin']);
  assert.ok(r.rebuilt, 'the receiver has the new version');
  assert.ok(r.poolTasks >= 3, `the three ranges matched in the pool (${r.poolTasks} tasks)`);
});
