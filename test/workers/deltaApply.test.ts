// The receiver of delta streams (LocalTree.delta, src/workers/deltaTasks.ts) as an
// adversary sees it: an old version that changes between its signature and the rebuild,
// a hostile sender's records (copies beyond the old file, too much data, a wrong hash,
// files out of order, garbage). Nothing unverified is ever renamed into place, no
// temporary is left, and the engine sends a file whose delta failed again, whole.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { blockSizeFor, encodeEnd, encodeFile, encodeOps, type DeltaOp } from '../../src/core/delta.js';
import type { DeltaEndpoint, Expected, Tree } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { closePools } from '../../src/workers/pool.js';
import { deltaApply } from '../../src/workers/deltaTasks.js';
import { tempPathFor } from '../../src/core/tempPath.js';
import { hashOfRanges, newHasher } from '../../src/workers/contentHash.js';
import { removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

function fresh(): string {
  const d = tempDir('delta');
  dirs.push(d);
  return d;
}

const MiB = 1 << 20;
const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

function expected(path: string, content: Buffer): Expected {
  return { path, kind: 'file', size: content.length, mtimeMs: 1_700_000_000_000, mode: 0o644 };
}

/** A receiver with `old` at `a.bin`; returns the tree and the path. */
function receiver(old: Buffer): { tree: LocalTree; dir: string; file: string } {
  const dir = fresh();
  const file = join(dir, 'a.bin');
  writeFileSync(file, old);
  // older than any source written by the test: the plan must see a change
  utimesSync(file, new Date(2020, 0, 1), new Date(2020, 0, 1));
  return { tree: new LocalTree(dir, { writable: true }), dir, file };
}

test('the old version changes between signature and rebuild: the file fails, stays as it was, no temporary', async () => {
  const old = randomBytes(2 * MiB);
  const next = Buffer.from(old);
  randomBytes(1000).copy(next, MiB);
  const src = fresh();
  writeFileSync(join(src, 'a.bin'), next);
  const { tree, dir, file } = receiver(old);
  const sigs = await tree.delta.signatures(['a.bin']);
  assert.equal(sigs.size, 1);
  // same size, other bytes: the copies now read stale data
  const changed = randomBytes(2 * MiB);
  writeFileSync(file, changed);
  const stream = new LocalTree(src, { writable: false }).delta.pack([{ path: 'a.bin', size: next.length, sig: sigs.get('a.bin')! }]);
  const r = await tree.delta.unpack(stream, [expected('a.bin', next)]);
  assert.deepEqual(r.written, []);
  assert.equal(r.failed.length, 1);
  assert.match(r.failed[0]!.error, /hash mismatch/);
  assert.ok(readFileSync(file).equals(changed), 'the file was replaced by an unverified rebuild');
  assert.deepEqual(tempFiles(dir), []);
});

/** A tree the engine cannot see is local (so it takes the delta path), whose old version changes right after it is signed. */
class ShiftyTree implements Tree {
  readonly label: string;
  readonly writable = true;
  readonly delta: DeltaEndpoint;
  constructor(private readonly inner: LocalTree, onSigned: () => void) {
    this.label = inner.label;
    this.delta = {
      signatures: async (paths, strong) => {
        const s = await inner.delta.signatures(paths, strong);
        onSigned();
        return s;
      },
      pack: (f, o) => inner.delta.pack(f, o),
      unpack: (s, e) => inner.delta.unpack(s, e),
      hashAlgs: inner.delta.hashAlgs,
      strongAlgs: inner.delta.strongAlgs,
      wholeHashes: (p, a) => inner.delta.wholeHashes(p, a),
    };
  }
  scan: Tree['scan'] = (o) => this.inner.scan(o);
  hashFiles: Tree['hashFiles'] = (p) => this.inner.hashFiles(p);
  pack: Tree['pack'] = (f, o) => this.inner.pack(f, o);
  unpack: Tree['unpack'] = (t, e) => this.inner.unpack(t, e);
  resumeOffsets: Tree['resumeOffsets'] = (e) => this.inner.resumeOffsets(e);
  apply: Tree['apply'] = (o) => this.inner.apply(o);
  close: Tree['close'] = () => this.inner.close();
}

class ViaDelta extends ShiftyTree {}

test('sync: a file whose delta fails goes again whole, and arrives right', async () => {
  const src = fresh();
  const old = randomBytes(3 * MiB);
  const next = Buffer.from(old);
  randomBytes(5000).copy(next, 2 * MiB);
  writeFileSync(join(src, 'a.bin'), next);
  const { tree, dir, file } = receiver(old);
  const dst = new ShiftyTree(tree, () => {
    writeFileSync(file, randomBytes(3 * MiB));
    utimesSync(file, new Date(2020, 0, 1), new Date(2020, 0, 1));
  });
  const r = await syncTrees(new ViaDelta(new LocalTree(src, { writable: false }), () => undefined), dst);
  assert.deepEqual(r.failed, []);
  assert.equal(r.delta?.fallbacks, 1);
  assert.ok(readFileSync(file).equals(next));
  assert.ok(Math.abs(statSync(file).mtimeMs - statSync(join(src, 'a.bin')).mtimeMs) < 1, 'mtime set (to the millisecond)');
  assert.deepEqual(tempFiles(dir), []);
});

test('sync through the delta path: changed file rebuilt from mostly copies', async () => {
  const src = fresh();
  const old = randomBytes(4 * MiB + 123);
  const next = Buffer.concat([old.subarray(0, MiB), randomBytes(100), old.subarray(MiB)]);
  writeFileSync(join(src, 'a.bin'), next);
  const { tree, file } = receiver(old);
  const r = await syncTrees(new ViaDelta(new LocalTree(src, { writable: false }), () => undefined), new ViaDelta(tree, () => undefined));
  assert.deepEqual(r.failed, []);
  assert.equal(r.delta?.files, 1);
  assert.ok(r.delta!.literalBytes < 64 * 1024, `${r.delta!.literalBytes}`);
  assert.ok(readFileSync(file).equals(next));
});

/** A sender's dir with `next` versions and a receiver's dir with the `old` ones (older mtimes), synced through the delta path. */
async function syncViaDelta(files: Record<string, { old: Buffer; next: Buffer }>): Promise<{ r: Awaited<ReturnType<typeof syncTrees>>; dst: string }> {
  const src = fresh();
  const dst = fresh();
  for (const [name, f] of Object.entries(files)) {
    writeFileSync(join(src, name), f.next);
    writeFileSync(join(dst, name), f.old);
    utimesSync(join(dst, name), new Date(2020, 0, 1), new Date(2020, 0, 1));
  }
  const r = await syncTrees(new ViaDelta(new LocalTree(src, { writable: false }), () => undefined), new ViaDelta(new LocalTree(dst, { writable: true }), () => undefined));
  return { r, dst };
}

test('one byte changed at block boundaries, files that grew and shrank by less than a block: each rebuilt exactly, as a delta', async () => {
  const size = 2 * MiB + 777;
  const bs = blockSizeFor(size);
  const flip = (b: Buffer, at: number): Buffer => {
    const c = Buffer.from(b);
    c[at] = c[at]! ^ 0x01;
    return c;
  };
  const old = (): Buffer => randomBytes(size);
  const files: Record<string, { old: Buffer; next: Buffer }> = {};
  let o = old();
  files['first.bin'] = { old: o, next: flip(o, 0) };
  o = old();
  files['edges.bin'] = { old: o, next: flip(flip(o, 5 * bs - 1), 9 * bs) }; // the last byte of one block, the first of another
  o = old();
  files['last.bin'] = { old: o, next: flip(o, size - 1) }; // inside the short last block
  o = old();
  files['grew.bin'] = { old: o, next: Buffer.concat([flip(o, 3 * bs), randomBytes(bs - 5)]) };
  o = old();
  files['shrank.bin'] = { old: o, next: flip(o, bs).subarray(0, size - bs - 333) };
  const { r, dst } = await syncViaDelta(files);
  assert.deepEqual(r.failed, []);
  assert.equal(r.delta?.files, 5, JSON.stringify(r.delta));
  assert.equal(r.delta?.fallbacks, 0);
  for (const [name, f] of Object.entries(files)) assert.ok(readFileSync(join(dst, name)).equals(f.next), `${name} differs from the source`);
  // each file cost a block or two of literals (the changed ones), not a whole file
  assert.ok(r.delta!.literalBytes <= 5 * 3 * bs, `literal ${r.delta!.literalBytes}`);
  assert.deepEqual(tempFiles(dst), []);
});

test('a file rewritten over several match ranges (the sender matches them on every io thread): rebuilt exactly', async () => {
  // 34 MiB: three ranges of about 16 MiB; the first two mostly new bytes, the last unchanged
  const o = randomBytes(34 * MiB);
  const next = Buffer.from(o);
  randomBytes(20 * MiB).copy(next, 100);
  const { r, dst } = await syncViaDelta({ 'big.bin': { old: o, next } });
  assert.deepEqual(r.failed, []);
  assert.equal(r.delta?.files, 1);
  assert.equal(r.delta?.fallbacks, 0);
  assert.ok(r.delta!.literalBytes >= 20 * MiB && r.delta!.copiedBytes >= 13 * MiB, JSON.stringify(r.delta));
  assert.ok(readFileSync(join(dst, 'big.bin')).equals(next));
});

test('a changed large file the receiver has an old version of and a partial copy of: resumed the tar way, not sent as a delta (its signature is asked for alongside the resume offsets and dropped)', async () => {
  const src = fresh();
  const dst = fresh();
  const data = Buffer.alloc(5 * MiB);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  writeFileSync(join(src, 'big'), data);
  writeFileSync(join(dst, 'big'), randomBytes(5 * MiB));
  utimesSync(join(dst, 'big'), new Date(2020, 0, 1), new Date(2020, 0, 1));
  // what a killed receiver leaves: the first 2 MiB of the new version under its temporary name
  const entry = (await new LocalTree(src, { writable: false }).scan()).find((e) => e.path === 'big')!;
  writeFileSync(join(dst, tempPathFor({ path: 'big', size: entry.size, mtimeMs: entry.mtimeMs })), data.subarray(0, 2 * MiB));
  const r = await syncTrees(new ViaDelta(new LocalTree(src, { writable: false }), () => undefined), new ViaDelta(new LocalTree(dst, { writable: true }), () => undefined));
  assert.deepEqual(r.failed, []);
  assert.equal(r.resumedBytes, 2 * MiB);
  assert.equal(r.delta?.files ?? 0, 0);
  assert.ok(readFileSync(join(dst, 'big')).equals(data));
  assert.deepEqual(tempFiles(dst), []);
});

test('a receiver without delta (a peer that did not negotiate it) gets the changed file whole', async () => {
  const src = fresh();
  const old = randomBytes(2 * MiB);
  const next = Buffer.from(old);
  randomBytes(100).copy(next, MiB);
  writeFileSync(join(src, 'a.bin'), next);
  const { tree, file } = receiver(old);
  const noDelta = new ViaDelta(tree, () => undefined) as Tree & { delta?: DeltaEndpoint };
  Object.defineProperty(noDelta, 'delta', { value: undefined });
  const r = await syncTrees(new ViaDelta(new LocalTree(src, { writable: false }), () => undefined), noDelta);
  assert.deepEqual(r.failed, []);
  assert.equal(r.delta, undefined);
  assert.equal(r.filesSent, 1);
  assert.ok(readFileSync(file).equals(next));
});

/** Feed hand-made records to a receiver holding `old` at a.bin (and b.bin). */
async function feed(old: Buffer, records: Buffer[], expect: Expected[]): Promise<{ r?: Awaited<ReturnType<DeltaEndpoint['unpack']>>; err?: Error; dir: string }> {
  const { tree, dir } = receiver(old);
  writeFileSync(join(dir, 'b.bin'), old);
  try {
    return { r: await tree.delta.unpack(Readable.from(records, { objectMode: false }), expect), dir };
  } catch (err) {
    return { err: err as Error, dir };
  }
}

const ops = (o: DeltaOp[]): Buffer => encodeOps(o).buf;

test('hostile records: a copy beyond the old file, too much data, a wrong hash fail that file only; the next file is written', async () => {
  const old = randomBytes(64 * 1024);
  const good = Buffer.from(old);
  const e = (p: string, b: Buffer): Expected => expected(p, b);
  const bs = 4096;
  for (const bad of [
    ops([{ copy: 16, count: 1 }]), // the old file has blocks 0..15
    ops([{ copy: 15, count: 2 }]), // runs past its end
    ops([{ copy: 0, count: 0 }, { copy: 0, count: 16 }]), // an empty run
    ops([{ copy: 0xffffffff, count: 0xffffffff }]), // the largest index and count the record can carry
    ops([{ copy: 0, count: 16 }, { literal: Buffer.alloc(1) }]), // one byte past the size
    ops([{ copy: 1, count: 15 }, { copy: 0, count: 1 }]), // every index in range, in the wrong order: the hash must catch it
  ]) {
    const { r, dir } = await feed(old, [encodeFile(0, bs), bad, encodeEnd(sha(good)), encodeFile(1, bs), ops([{ copy: 0, count: 16 }]), encodeEnd(sha(good))], [e('a.bin', good), e('b.bin', good)]);
    assert.deepEqual(r!.written, ['b.bin']);
    assert.deepEqual(r!.failed.map((f) => f.path), ['a.bin']);
    assert.ok(r!.failed[0]!.error.startsWith('delta:'), r!.failed[0]!.error);
    // the old version is left as it was, byte for byte
    assert.ok(readFileSync(join(dir, 'a.bin')).equals(old));
    assert.deepEqual(tempFiles(dir), []);
  }
  const wrongHash = await feed(old, [encodeFile(0, bs), ops([{ copy: 0, count: 16 }]), encodeEnd(randomBytes(32))], [e('a.bin', good)]);
  assert.deepEqual(wrongHash.r!.written, []);
  assert.match(wrongHash.r!.failed[0]!.error, /hash mismatch/);
  // the right bytes but fewer of them than expected
  const short = await feed(old, [encodeFile(0, bs), ops([{ copy: 0, count: 15 }]), encodeEnd(sha(old.subarray(0, 15 * bs)))], [e('a.bin', good)]);
  assert.deepEqual(short.r!.written, []);
});

test('BLAKE3-verified files (REC_FILE_B3): the rebuild is checked with BLAKE3, a sha256 in its END record fails it', async () => {
  const old = randomBytes(64 * 1024);
  const next = Buffer.from(old);
  randomBytes(100).copy(next, 5000);
  const e = (p: string): Expected => ({ ...expected(p, next), hash: sha(next).toString('hex') });
  const bs = 4096;
  const body = ops([{ copy: 0, count: 1 }, { literal: next.subarray(bs, 2 * bs) }, { copy: 2, count: 14 }]);
  const h = newHasher('blake3');
  h.update(next);
  const good = await feed(old, [encodeFile(0, bs, 'blake3'), body, encodeEnd(h.digest()), encodeFile(1, bs, 'blake3'), body, encodeEnd(sha(next))], [e('a.bin'), e('b.bin')]);
  assert.deepEqual(good.r!.written, ['a.bin'], 'the listed sha256 is not compared with a BLAKE3 hash; the BLAKE3 one verifies');
  assert.match(good.r!.failed[0]!.error, /hash mismatch/, 'a sha256 where BLAKE3 is due');
  assert.ok(readFileSync(join(good.dir, 'a.bin')).equals(next));
  assert.deepEqual(tempFiles(good.dir), []);
});

/** The END hash of a blake3-ranges stream: the BLAKE3 of the BLAKE3s of `b`'s ranges of `range` bytes. */
function blake3OfRanges(b: Buffer, range: number): Buffer {
  const digests: Buffer[] = [];
  for (let at = 0; at < b.length; at += range) {
    const h = newHasher('blake3');
    h.update(b.subarray(at, at + range));
    digests.push(h.digest());
  }
  return hashOfRanges(digests);
}

test('BLAKE3 of ranges (REC_FILE_B3R): ranges cut across records and a short last range verify; a whole-file BLAKE3 or a range size out of bounds does not', async () => {
  const old = randomBytes(64 * 1024);
  const next = Buffer.concat([old, randomBytes(100)]);
  randomBytes(100).copy(next, 5000);
  const e = (p: string): Expected => expected(p, next);
  const bs = 4096;
  const range = 16 * 1024; // ranges end inside the literal, inside a copy run, and 100 bytes before the end
  const body = ops([{ copy: 0, count: 1 }, { literal: next.subarray(bs, 2 * bs) }, { copy: 2, count: 14 }, { literal: next.subarray(16 * bs) }]);
  const ofRanges = (b: Buffer): Buffer => blake3OfRanges(b, range);
  const whole = newHasher('blake3');
  whole.update(next);
  const good = await feed(
    old,
    [encodeFile(0, bs, 'blake3-ranges', range), body, encodeEnd(ofRanges(next)), encodeFile(1, bs, 'blake3-ranges', range), body, encodeEnd(whole.digest())],
    [e('a.bin'), e('b.bin')],
  );
  assert.deepEqual(good.r!.written, ['a.bin']);
  assert.match(good.r!.failed[0]!.error, /hash mismatch/, 'the whole file\'s BLAKE3 is not the BLAKE3 of its ranges');
  assert.ok(readFileSync(join(good.dir, 'a.bin')).equals(next));
  assert.deepEqual(tempFiles(good.dir), []);
  // a range size the sender never uses (too small: a hash per few bytes; too large) refuses the stream
  for (const size of [0, 1, 4095, 2 ** 31]) {
    const { err, dir } = await feed(old, [encodeFile(0, bs, 'blake3-ranges', size), body, encodeEnd(ofRanges(next))], [e('a.bin')]);
    assert.match(String(err), /refused/, `range size ${size}`);
    assert.deepEqual(tempFiles(dir), []);
  }
});

test('BLAKE3 of ranges made only of copies: moved ranges, many runs in a range, several files in one stream; a bad copy or a wrong hash fails that file only, old version intact', async () => {
  const old = randomBytes(256 * 1024);
  const dir = fresh();
  const names = ['moved.bin', 'runs.bin', 'bad.bin', 'after.bin', 'wrong.bin'];
  for (const n of names) writeFileSync(join(dir, n), old);
  const tree = new LocalTree(dir, { writable: true });
  const blocks = (b: Buffer, bs: number, list: number[]): Buffer => Buffer.concat(list.map((i) => b.subarray(i * bs, (i + 1) * bs)));
  const range = 16 * 1024;
  // moved: whole ranges out of order (none where it was)
  const bs = 4096;
  const order = [4, 5, 6, 7, 0, 1, 2, 3, ...Array.from({ length: 56 }, (_, i) => i + 8)];
  const moved = blocks(old, bs, order);
  const movedOps = ops([{ copy: 4, count: 4 }, { copy: 0, count: 4 }, { copy: 8, count: 56 }]);
  // runs: 512-byte blocks swapped in pairs, 128 runs in each 64 KiB range
  const small = 512;
  const pairs = Array.from({ length: 512 }, (_, i) => (i % 2 === 0 ? i + 1 : i - 1));
  const runs = blocks(old, small, pairs);
  const runsOps = ops(pairs.map((i) => ({ copy: i, count: 1 })));
  const e = (p: string, b: Buffer): Expected => expected(p, b);
  const records = [
    encodeFile(0, bs, 'blake3-ranges', range), movedOps, encodeEnd(blake3OfRanges(moved, range)),
    encodeFile(1, small, 'blake3-ranges', 64 * 1024), runsOps, encodeEnd(blake3OfRanges(runs, 64 * 1024)),
    // a whole range of copies, then a copy beyond the old file
    encodeFile(2, bs, 'blake3-ranges', range), ops([{ copy: 0, count: 8 }, { copy: 64, count: 1 }]), encodeEnd(blake3OfRanges(old, range)),
    encodeFile(3, bs, 'blake3-ranges', range), ops([{ copy: 0, count: 64 }]), encodeEnd(blake3OfRanges(old, range)),
    encodeFile(4, bs, 'blake3-ranges', range), ops([{ copy: 0, count: 64 }]), encodeEnd(randomBytes(32)),
  ];
  const r = await tree.delta.unpack(Readable.from(records, { objectMode: false }), [e('moved.bin', moved), e('runs.bin', runs), e('bad.bin', old), e('after.bin', old), e('wrong.bin', old)]);
  assert.deepEqual(r.written, ['moved.bin', 'runs.bin', 'after.bin']);
  assert.deepEqual(r.failed.map((f) => f.path), ['bad.bin', 'wrong.bin']);
  assert.match(r.failed[0]!.error, /copy beyond the basis/);
  assert.match(r.failed[1]!.error, /hash mismatch/);
  assert.ok(readFileSync(join(dir, 'moved.bin')).equals(moved));
  assert.ok(readFileSync(join(dir, 'runs.bin')).equals(runs));
  assert.ok(readFileSync(join(dir, 'after.bin')).equals(old));
  assert.ok(readFileSync(join(dir, 'bad.bin')).equals(old), 'the old version is left as it was');
  assert.ok(readFileSync(join(dir, 'wrong.bin')).equals(old));
  assert.deepEqual(tempFiles(dir), []);
});

test('hostile records: garbage, files out of order, records outside a file refuse the whole stream', async () => {
  const old = randomBytes(16 * 1024);
  const e = (p: string): Expected => expected(p, old);
  for (const records of [
    [Buffer.from('GET / HTTP/1.0\r\n\r\n')],
    [encodeFile(1, 4096)],
    [encodeFile(0, 4096), encodeFile(0, 4096)],
    [ops([{ copy: 0, count: 1 }])],
    [encodeFile(0, 1)], // block size below any real one
  ]) {
    const { err, dir } = await feed(old, records, [e('a.bin'), e('b.bin')]);
    assert.match(String(err), /refused/);
    assert.ok(readFileSync(join(dir, 'a.bin')).equals(old));
    assert.deepEqual(tempFiles(dir), []);
  }
});

/** This process's descriptors open on the file `id` (device and inode, from statSync); Linux /proc. */
function fdsOn(id: { dev: number; ino: number }): string[] {
  const fds: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const st = statSync(`/proc/self/fd/${fd}`);
      if (st.ino === id.ino && st.dev === id.dev) fds.push(fd);
    } catch {
      /* closed meanwhile (readdir's own descriptor) */
    }
  }
  return fds;
}

/** Runs deltaApply in this thread on `records` (each its own message), for `expect` under `root`. */
async function applyHere(root: string, records: Buffer[], expect: Expected[]): Promise<Awaited<ReturnType<typeof deltaApply>>> {
  const { port1, port2 } = new MessageChannel();
  const done = deltaApply({ root, expect, port: port2, chown: false });
  port1.on('message', () => {});
  for (const rec of records) {
    const ab = new ArrayBuffer(rec.length);
    new Uint8Array(ab).set(rec);
    port1.postMessage({ chunk: ab, length: rec.length }, [ab]);
  }
  port1.postMessage({ end: true });
  const r = await done;
  port1.close();
  return r;
}

test('the replaced old version is closed after the result (its pages freed off the critical path), and never left open: after a good stream, a failed file, a refused stream', { skip: process.platform !== 'linux' }, async () => {
  const bs = 4096;
  const old = randomBytes(16 * bs);
  const next = Buffer.from(old);
  randomBytes(100).copy(next, 5000);
  const body = ops([{ copy: 0, count: 1 }, { literal: next.subarray(bs, 2 * bs) }, { copy: 2, count: 14 }]);
  const e = (p: string): Expected => expected(p, next);

  // two files: the first's old version is closed when the second finishes, the last's after the result
  const { dir, file } = receiver(old);
  writeFileSync(join(dir, 'b.bin'), old);
  const oldA = statSync(file);
  const oldB = statSync(join(dir, 'b.bin'));
  const r = await applyHere(dir, [encodeFile(0, bs), body, encodeEnd(sha(next)), encodeFile(1, bs), body, encodeEnd(sha(next))], [e('a.bin'), e('b.bin')]);
  assert.deepEqual(r.written, ['a.bin', 'b.bin']);
  assert.ok(readFileSync(file).equals(next) && readFileSync(join(dir, 'b.bin')).equals(next));
  assert.notEqual(statSync(file).ino, oldA.ino, 'renamed into place, not written over');
  assert.deepEqual(fdsOn(oldA), [], 'the first file\'s old version is closed once the next one finished');
  // the result is out before the last replaced file is let go: its descriptor is still open here ...
  assert.equal(fdsOn(oldB).length, 1, 'the last old version was closed before the result (on the critical path)');
  // ... and closed right after (an immediate: the extract pool waits for tasks with async atomics, so it runs)
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(fdsOn(oldB), [], 'the last old version was left open');
  assert.deepEqual(tempFiles(dir), []);

  // a good file, then one whose hash is wrong (failed: its descriptor closed at once), then a refused stream
  const bad = receiver(old);
  writeFileSync(join(bad.dir, 'b.bin'), old);
  const badA = statSync(bad.file);
  const badB = statSync(join(bad.dir, 'b.bin'));
  const r2 = await applyHere(bad.dir, [encodeFile(0, bs), body, encodeEnd(sha(next)), encodeFile(1, bs), body, encodeEnd(randomBytes(32)), Buffer.from([0xee])], [e('a.bin'), e('b.bin')]);
  assert.ok(r2.fatal, 'garbage after the files refuses the stream');
  assert.deepEqual(r2.written, ['a.bin']);
  assert.match(r2.failed[0]!.error, /hash mismatch/);
  assert.ok(readFileSync(join(bad.dir, 'b.bin')).equals(old), 'the failed file keeps its old version');
  assert.deepEqual(fdsOn(badB), [], 'the failed file\'s old version was left open');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(fdsOn(badA), [], 'the written file\'s old version was left open after a refused stream');
  assert.deepEqual(tempFiles(bad.dir), []);
});
