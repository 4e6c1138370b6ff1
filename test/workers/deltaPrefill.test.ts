// The receiver's prefill (src/workers/deltaTasks.ts, src/engine/localDelta.ts): as it reads a
// large old version to sign it, it writes those bytes into the rebuild's temporary, each
// range's BLAKE3 taken from the bytes written; the rebuild then writes only the ranges that
// changed and does not read the old version again. As an adversary sees it: the old version
// changed after it was signed, the temporary swapped, hostile and truncated streams, an
// older sender's stream, prefills nobody uses. Every result verified, nothing unverified
// renamed into place, no temporary left behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { blockSizeFor, encodeEnd, encodeFile, encodeOps, type DeltaOp } from '../../src/core/delta.js';
import type { Expected } from '../../src/core/tree.js';
import { LocalDelta } from '../../src/engine/localDelta.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { silentLogger } from '../../src/log.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';
import { waitFor } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

function fresh(): string {
  const d = tempDir('prefill');
  dirs.push(d);
  return d;
}

const MiB = 1 << 20;
// above LocalDelta's PREFILL_MIN (two 16 MiB ranges): three ranges
const SIZE = 40 * MiB;
const MTIME = 1_700_000_000_000;

function expected(path: string, content: Buffer): Expected {
  return { path, kind: 'file', size: content.length, mtimeMs: MTIME, mode: 0o644 };
}

/** A receiver holding `old` at each name (older mtime), and a sender holding each `next`. */
function trees(files: Record<string, { old: Buffer; next?: Buffer }>): { dst: LocalTree; src: LocalTree; dir: string } {
  const dir = fresh();
  const srcDir = fresh();
  for (const [name, f] of Object.entries(files)) {
    writeFileSync(join(dir, name), f.old);
    utimesSync(join(dir, name), new Date(2020, 0, 1), new Date(2020, 0, 1));
    if (f.next) writeFileSync(join(srcDir, name), f.next);
  }
  return { dst: new LocalTree(dir, { writable: true }), src: new LocalTree(srcDir, { writable: false }), dir };
}

/** The prefill temporaries in `dir` (named .omirr-part.NAME.pPID-N), with their sizes. */
function prefills(dir: string): Array<{ name: string; size: number }> {
  return readdirSync(dir)
    .filter((n) => /^\.omirr-part\..*\.p\d+-\d+$/.test(n))
    .map((name) => ({ name, size: statSync(join(dir, name)).size }));
}

/** Waits until the prefill of a file of `size` bytes is written whole. */
async function prefilled(dir: string, size: number): Promise<string> {
  await waitFor(() => prefills(dir).some((p) => p.size === size), 20_000, 'the prefill');
  return prefills(dir).find((p) => p.size === size)!.name;
}

/** Signatures, the sender's stream (blake3-ranges unless `hash`), the rebuild. */
async function deltaSync(src: LocalTree, dst: LocalTree, names: string[], next: Record<string, Buffer>, beforeUnpack?: () => Promise<void> | void, hash: 'blake3-ranges' | 'blake3' = 'blake3-ranges') {
  const sigs = await dst.delta.signatures(names, 'lanes32');
  assert.equal(sigs.size, names.length);
  await beforeUnpack?.();
  const stream = src.delta.pack(names.map((path) => ({ path, size: next[path]!.length, sig: sigs.get(path)! })), { hash });
  return dst.delta.unpack(stream, names.map((n) => expected(n, next[n]!)));
}

test('prefilled rebuilds: a file changed in one range, one that shrank, one that grew, one shifted by an insertion (ranges copied in place, written whole, and both): rebuilt exactly with their mode; the prefills renamed into place, nothing left', async () => {
  const old = randomBytes(SIZE);
  const same = Buffer.from(old);
  randomBytes(100_000).copy(same, 20 * MiB + 17);
  const shrank = Buffer.from(old.subarray(0, SIZE - 3 * MiB - 5));
  randomBytes(10).copy(shrank, 1000);
  const grew = Buffer.concat([old, randomBytes(MiB + 7)]);
  // 33 bytes in at 5 MiB: the first range part in place, part written; the others written whole
  const shifted = Buffer.concat([old.subarray(0, 5 * MiB), randomBytes(33), old.subarray(5 * MiB)]);
  const next = { 'same.bin': same, 'shrank.bin': shrank, 'grew.bin': grew, 'shifted.bin': shifted };
  const { src, dst, dir } = trees({ 'same.bin': { old, next: same }, 'shrank.bin': { old, next: shrank }, 'grew.bin': { old, next: grew }, 'shifted.bin': { old, next: shifted } });
  const names = Object.keys(next);
  const r = await deltaSync(src, dst, names, next, () => waitFor(() => prefills(dir).filter((p) => p.size === SIZE).length === 4, 20_000, 'four prefills'));
  assert.deepEqual(r.failed, []);
  assert.deepEqual([...r.written].sort(), [...names].sort());
  for (const n of names) {
    assert.ok(readFileSync(join(dir, n)).equals(next[n as keyof typeof next]), n);
    assert.equal(statSync(join(dir, n)).mode & 0o7777, 0o644, `${n}: the mode asked for, not the prefill's 0600`);
  }
  assert.ok(r.copied > 3 * SIZE, `copied ${r.copied}`);
  assert.deepEqual(tempFiles(dir), []);
});

test('the old version changes after it was signed (and prefilled): the ranges left as they were come from the prefill (the bytes signed), so the rebuild is still right and verified', async () => {
  // without the prefill, the rebuild copies these from the changed old version: a hash mismatch
  const old = randomBytes(SIZE);
  const next = Buffer.from(old);
  randomBytes(5000).copy(next, 33 * MiB);
  const { src, dst, dir } = trees({ 'a.bin': { old, next } });
  const r = await deltaSync(src, dst, ['a.bin'], { 'a.bin': next }, async () => {
    await prefilled(dir, SIZE);
    // same size, other bytes in the first range (the sender copies it whole)
    const changed = Buffer.from(old);
    randomBytes(MiB).copy(changed, MiB);
    writeFileSync(join(dir, 'a.bin'), changed);
  });
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.written, ['a.bin']);
  assert.ok(readFileSync(join(dir, 'a.bin')).equals(next));
  assert.deepEqual(tempFiles(dir), []);
});

test('a prefill swapped for another file before the rebuild is not used, not renamed into place and not removed: the file is rebuilt the whole way from its old version', async () => {
  const old = randomBytes(SIZE);
  const next = Buffer.from(old);
  randomBytes(5000).copy(next, 7 * MiB);
  const { src, dst, dir } = trees({ 'a.bin': { old, next } });
  const planted = randomBytes(SIZE);
  let name = '';
  const r = await deltaSync(src, dst, ['a.bin'], { 'a.bin': next }, async () => {
    name = await prefilled(dir, SIZE);
    // same name and size, another inode: its ranges' hashes would pass for the prefill's
    writeFileSync(join(dir, 'planted'), planted);
    renameSync(join(dir, 'planted'), join(dir, name));
  });
  assert.deepEqual(r.failed, []);
  assert.ok(readFileSync(join(dir, 'a.bin')).equals(next));
  assert.ok(readFileSync(join(dir, name)).equals(planted), 'the planted file is left alone');
});

const ops = (o: DeltaOp[]): Buffer => encodeOps(o).buf;

test('hostile or broken streams against a prefill: a wrong hash, a copy beyond the old file, too much data, a stream cut inside the file: the file fails, the old version stays, the prefill is removed', async () => {
  const old = randomBytes(SIZE);
  const bs = blockSizeFor(SIZE);
  const range = bs * Math.floor((16 * MiB) / bs);
  const blocks = Math.ceil(SIZE / bs);
  const cases: Array<{ records: Buffer[]; error: RegExp }> = [
    // every block in place (so every range taken from the prefill), then a wrong END hash
    { records: [encodeFile(0, bs, 'blake3-ranges', range), ops([{ copy: 0, count: blocks }]), encodeEnd(randomBytes(32))], error: /hash mismatch/ },
    { records: [encodeFile(0, bs, 'blake3-ranges', range), ops([{ copy: 0, count: blocks + 1 }]), encodeEnd(randomBytes(32))], error: /copy beyond/ },
    { records: [encodeFile(0, bs, 'blake3-ranges', range), ops([{ copy: 0, count: blocks }, { literal: randomBytes(10) }]), encodeEnd(randomBytes(32))], error: /more data/ },
    { records: [encodeFile(0, bs, 'blake3-ranges', range), ops([{ copy: 0, count: 10 }])], error: /stream ended inside a file|truncated/ },
  ];
  for (const c of cases) {
    const { dst, dir } = trees({ 'a.bin': { old } });
    await dst.delta.signatures(['a.bin'], 'lanes32');
    await prefilled(dir, SIZE);
    const r = await dst.delta.unpack(Readable.from(c.records, { objectMode: false }), [expected('a.bin', old)]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, c.error);
    assert.ok(readFileSync(join(dir, 'a.bin')).equals(old));
    await waitFor(() => tempFiles(dir).length === 0, 10_000, 'no temporary left');
  }
});

test('a stream verified by the whole file\'s BLAKE3 (a sender without hash-blake3-ranges): the prefill is dropped and the file rebuilt as before', async () => {
  const old = randomBytes(SIZE);
  const next = Buffer.from(old);
  randomBytes(5000).copy(next, 25 * MiB);
  const { src, dst, dir } = trees({ 'a.bin': { old, next } });
  const r = await deltaSync(src, dst, ['a.bin'], { 'a.bin': next }, () => prefilled(dir, SIZE).then(() => undefined), 'blake3');
  assert.deepEqual(r.failed, []);
  assert.ok(readFileSync(join(dir, 'a.bin')).equals(next));
  await waitFor(() => tempFiles(dir).length === 0, 10_000, 'the prefill removed');
});

test('prefills that no rebuild takes (the sync went another way) are removed when the tree is closed', async () => {
  const old = randomBytes(SIZE);
  const { dst, dir } = trees({ 'a.bin': { old }, 'b.bin': { old } });
  await dst.delta.signatures(['a.bin', 'b.bin'], 'lanes32');
  await waitFor(() => prefills(dir).filter((p) => p.size === SIZE).length === 2, 20_000, 'two prefills');
  await dst.close();
  await waitFor(() => tempFiles(dir).length === 0, 10_000, 'the prefills removed');
  assert.ok(readFileSync(join(dir, 'a.bin')).equals(old));
});

test('an endpoint that signs for another one to rebuild (the daemon\'s fetches: signed in the tree, rebuilt in the staging) makes no prefill in the tree', async () => {
  const old = randomBytes(SIZE);
  const { dir } = trees({ 'a.bin': { old } });
  // as src/daemon/deltaFetch.ts makes it: writable, no prefill asked for
  const basis = new LocalDelta(dir, async () => undefined, () => undefined, silentLogger);
  const sigs = await basis.signatures(['a.bin'], 'lanes32');
  assert.equal(sigs.size, 1);
  // a prefill is created before the sign tasks that write it, so it would be here by now
  assert.deepEqual(tempFiles(dir), []);
});
