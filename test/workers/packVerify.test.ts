// The sender's side of end-to-end verification: LocalTree.pack(files, { verify: true })
// puts the sha256 of each WHOLE file in its pax header (`omirr.sha256`), for files that
// fit one batch (hashed from the bytes read), files that span batches (hashed first) and
// resumed files (the prefix the receiver has included); and the receiver checks it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Expected, PackRequest } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { closePools } from '../../src/workers/pool.js';
import { encodeFileHeaderWithHashSlot, HASHED_HEADER_LENGTH, writeHashedFileHeader } from '../../src/workers/tarFormat.js';
import { collect, expectedFile, noise, packSource, readTar } from '../helpers/tarFixtures.js';
import { describeTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

/** Batches of 64 KiB: files of 100-300 KB span several (the `cont` path). */
const BATCH = 64 << 10;
const MTIME = 1_700_000_000_123;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');


const LONG = `${'d'.repeat(150)}/${'n'.repeat(20)}`;
const CONTENT: Record<string, Buffer> = {
  small: noise(100, 1),
  empty: Buffer.alloc(0),
  [LONG]: noise(3000, 2),
  big: noise(300_000, 3),
  'resumed-big': noise(150_000, 4),
  'resumed-small': noise(5000, 5),
  exact: noise(BATCH, 6),
};
/** What the receiver already has of the resumed files. */
const OFFSETS: Record<string, number> = { 'resumed-big': 20_000, 'resumed-small': 1000 };

function sourceTree(): { root: string; tree: LocalTree; reqs: PackRequest[] } {
  const base = tempDir('packverify');
  dirs.push(base);
  return packSource(base, CONTENT, OFFSETS, BATCH);
}

const expected = (path: string, withHash = false): Expected => expectedFile(path, CONTENT[path]!, MTIME, withHash);

describe('pack with verify', () => {
  test('the in-place hashed header is byte for byte the built one', () => {
    for (const [name, size, mode, mtime] of [
      ['a', 0, 0o644, MTIME],
      ['x'.repeat(100), 8 ** 11 - 1, 0o4755, 0],
      ['dir/file name.txt', 12345, 0o600, 1_234_567_890_999],
    ] as const) {
      const { header, hashAt } = encodeFileHeaderWithHashSlot(name, size, mode, mtime);
      const digits = sha(Buffer.from(name));
      header.write(digits, hashAt, 64, 'latin1');
      const out = Buffer.alloc(HASHED_HEADER_LENGTH + 100, 0xee);
      out.write(digits, writeHashedFileHeader(out, 50, name, size, mode, mtime), 64, 'latin1');
      assert.equal(header.length, HASHED_HEADER_LENGTH, name);
      assert.ok(out.subarray(50, 50 + HASHED_HEADER_LENGTH).equals(header), name);
      assert.equal(out[49], 0xee);
      assert.equal(out[50 + HASHED_HEADER_LENGTH], 0xee);
    }
  });

  test('every entry carries the sha256 of its whole file: small, long name, spanning batches, resumed', async () => {
    const { tree, reqs } = sourceTree();
    const entries = await readTar(await collect(tree.pack(reqs, { verify: true })));
    assert.deepEqual([...entries.keys()].sort(), Object.keys(CONTENT).sort());
    for (const [path, data] of Object.entries(CONTENT)) {
      const e = entries.get(path)!;
      assert.equal(e.pax['omirr.sha256'], sha(data), `${path}: hash of the whole file`);
      assert.ok(e.data.equals(data.subarray(OFFSETS[path] ?? 0)), `${path}: data from its offset`);
      if (OFFSETS[path]) assert.equal(e.pax['omirr.offset'], String(OFFSETS[path]));
    }
  });

  test('with size hints the large files are hashed ahead, and each entry still carries its own whole-file hash', async () => {
    const { root, tree, reqs } = sourceTree();
    // more large files than the look-ahead holds at once, between small ones
    const more: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) {
      more[`large-${i}`] = noise(200_000 + i * 7_000, 10 + i);
      more[`tiny-${i}`] = noise(50 + i, 20 + i);
    }
    for (const [p, data] of Object.entries(more)) writeFileSync(join(root, p), data);
    const all = { ...CONTENT, ...more };
    const hinted = [...reqs, ...Object.keys(more).map((path) => ({ path }))].map((r) => ({ ...r, size: all[r.path]!.length }));
    const entries = await readTar(await collect(tree.pack(hinted, { verify: true })));
    assert.equal(entries.size, Object.keys(all).length);
    for (const [path, data] of Object.entries(all)) {
      const e = entries.get(path)!;
      assert.equal(e.pax['omirr.sha256'], sha(data), `${path}: hash of the whole file`);
      assert.ok(e.data.equals(data.subarray(OFFSETS[path] ?? 0)), path);
    }
  });

  test('without verify no entry carries a hash (the daemon fetch, the old format)', async () => {
    const { tree, reqs } = sourceTree();
    const entries = await readTar(await collect(tree.pack(reqs)));
    for (const e of entries.values()) assert.equal(e.pax['omirr.sha256'], undefined);
    assert.ok(entries.get('big')!.data.equals(CONTENT.big!));
  });

  test('the receiver without hashes of its own verifies with the sender\'s, resumed files included', async () => {
    const { root, tree, reqs } = sourceTree();
    const dst = join(root, '..', 'dst');
    mkdirSync(join(dst, 'd'.repeat(150)), { recursive: true });
    const expect = Object.keys(CONTENT).map((p) => expected(p));
    // the partial files a broken transfer left
    for (const [p, off] of Object.entries(OFFSETS)) writeFileSync(join(dst, tempPathFor(expected(p))), CONTENT[p]!.subarray(0, off));
    const r = await new LocalTree(dst, { writable: true }).unpack(tree.pack(reqs, { verify: true }), expect);
    assert.deepEqual(r.failed, []);
    assert.equal(r.written.length, expect.length);
    for (const [p, data] of Object.entries(CONTENT)) assert.equal(sha(readFileSync(join(dst, p))), sha(data), p);
    assert.deepEqual(tempFiles(dst), []);
  });

  test('a partial file whose prefix is not the source\'s fails verification (the hash covers the whole file)', async () => {
    const { root, tree } = sourceTree();
    const dst = join(root, '..', 'dst2');
    mkdirSync(dst);
    const p = 'resumed-big';
    const bad = Buffer.from(CONTENT[p]!.subarray(0, OFFSETS[p]));
    bad[5] ^= 0xff;
    writeFileSync(join(dst, tempPathFor(expected(p))), bad);
    const r = await new LocalTree(dst, { writable: true }).unpack(tree.pack([{ path: p, offset: OFFSETS[p] }], { verify: true }), [expected(p)]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, /hash mismatch/);
    assert.deepEqual(describeTree(dst), {});
  });

  test('a byte changed in transit is caught by the receiver from the pax hash alone', async () => {
    const { tree } = sourceTree();
    for (const p of ['small', 'big']) {
      const buf = await collect(tree.pack([{ path: p }], { verify: true }));
      // the last data byte of the entry (the stream ends in padding and two zero blocks)
      const data = CONTENT[p]!;
      const at = buf.indexOf(data.subarray(data.length - 32)) + 31;
      assert.ok(at > 31, p);
      buf[at] ^= 1;
      const dst = tempDir('packverify-dst');
      dirs.push(dst);
      const r = await new LocalTree(dst, { writable: true }).unpack(Readable.from([buf]), [expected(p)]);
      assert.deepEqual(r.written, [], p);
      assert.match(r.failed[0]!.error, /hash mismatch/, p);
      assert.deepEqual(describeTree(dst), {}, p);
    }
  });

  test('the receiver\'s own hash still decides when the sender sends none', async () => {
    const { tree } = sourceTree();
    const dst = tempDir('packverify-own');
    dirs.push(dst);
    const r = await new LocalTree(dst, { writable: true }).unpack(tree.pack([{ path: 'big' }]), [expected('big', true)]);
    assert.deepEqual(r.written, ['big']);
  });
});
