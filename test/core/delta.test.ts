// The delta algorithm's pure parts (src/core/delta.ts): the rolling checksum against a
// fresh one at every offset, and the matcher on the cases that break naive ones: empty
// files, files shorter than a block, insertions that shift every later offset, all bytes
// changed, appends, ranges matched independently; the record format and its parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  applyOps,
  BlockIndex,
  blockSizeFor,
  DeltaFormatError,
  DeltaParser,
  encodeEnd,
  encodeFile,
  encodeOps,
  encodeSkip,
  lanes32,
  MAX_BLOCKS,
  MAX_LITERAL,
  matchRange,
  rollSum,
  signature,
  strongHash,
  weakSum,
  type DeltaOp,
  type DeltaRecord,
} from '../../src/core/delta.js';
import { blockSumsWasm, strongInPlace, weakSumsScratch, weakSumsWasm } from '../../src/core/weakSums.js';

const literalBytes = (ops: DeltaOp[]): number => ops.reduce((n, o) => n + ('literal' in o ? o.literal.length : 0), 0);
const copies = (ops: DeltaOp[]): number => ops.reduce((n, o) => n + ('copy' in o ? o.count : 0), 0);

const shape = (ops: DeltaOp[]): string => ops.map((o) => ('literal' in o ? `L${o.literal.length}` : `C${o.copy}+${o.count}`)).join(' ');

/**
 * Match `next` against `basis` with block size `bs` and check that the ops rebuild it
 * exactly; with either strong block hash (CRC-32, lanes32), the same ops.
 */
function delta(basis: Buffer, next: Buffer, bs = 1024): DeltaOp[] {
  const sig = signature(basis, bs);
  const ops = matchRange(next, 0, next.length, new BlockIndex(sig));
  assert.ok(applyOps(basis, bs, ops).equals(next), 'rebuilt file differs');
  for (const o of ops) if ('literal' in o) assert.ok(o.literal.length > 0 && o.literal.length <= MAX_LITERAL);
  const sigL = signature(basis, bs, 'lanes32');
  assert.equal(sigL.strongAlg, 'lanes32');
  const opsL = matchRange(next, 0, next.length, new BlockIndex(sigL));
  assert.ok(applyOps(basis, bs, opsL).equals(next), 'rebuilt file differs (lanes32)');
  assert.equal(shape(opsL), shape(ops), 'lanes32 and CRC-32 signatures match the same blocks');
  return ops;
}

test('rolling the weak checksum equals computing it afresh, at every offset', () => {
  const b = randomBytes(5000);
  // bytes near 0 and 255 too: the mod-2^16 arithmetic must wrap, not go negative
  b.fill(255, 100, 700);
  b.fill(0, 900, 1500);
  const len = 700;
  let s = weakSum(b, 0, len);
  for (let p = 0; p + len < b.length; p++) {
    s = rollSum(s, b[p]!, b[p + len]!, len);
    assert.equal(s, weakSum(b, p + 1, p + 1 + len), `offset ${p + 1}`);
  }
});

test('the WebAssembly block sums equal the JavaScript ones (odd sizes, short last block, bytes 0 and 255)', () => {
  for (const [size, bs] of [[1, 2048], [2047, 2048], [2048, 2048], [100_000, 2048], [3 * 65536 + 5, 32768], [1 << 20, 1 << 17]] as const) {
    const d = randomBytes(size);
    d.fill(255, 0, Math.min(size, 5000));
    const n = Math.ceil(size / bs);
    const got = new Uint32Array(n + 2);
    assert.equal(weakSumsWasm(d, bs, got, 2), true);
    for (let j = 0; j < n; j++) assert.equal(got[j + 2], weakSum(d, j * bs, Math.min(size, (j + 1) * bs)), `size ${size} block ${j}`);
  }
  // blocks not a multiple of the 16-byte SIMD step, all-zero and all-255 runs (the widest sums)
  for (const [size, bs] of [[15, 8], [17, 16], [5000, 24], [70_000, 2056]] as const) {
    for (const fill of [0, 255, -1]) {
      const d = fill < 0 ? randomBytes(size) : Buffer.alloc(size, fill);
      const n = Math.ceil(size / bs);
      const got = new Uint32Array(n);
      assert.equal(weakSumsWasm(d, bs, got, 0), true);
      for (let j = 0; j < n; j++) assert.equal(got[j], weakSum(d, j * bs, Math.min(size, (j + 1) * bs)), `size ${size} bs ${bs} fill ${fill} block ${j}`);
    }
  }
  // data read straight into the module's memory (the signing worker's path): summed in place, the same sums
  const size = 300_001;
  const bs = 4096;
  const src = randomBytes(size);
  const scratch = weakSumsScratch(size, bs)!;
  src.copy(scratch);
  const got = new Uint32Array(Math.ceil(size / bs));
  assert.equal(weakSumsWasm(scratch, bs, got, 0), true);
  for (let j = 0; j < got.length; j++) assert.equal(got[j], weakSum(src, j * bs, Math.min(size, (j + 1) * bs)));
});

test('lanes32: the WebAssembly block sums and in-place hashes equal the JavaScript reference (odd sizes, offsets, 0 and 255 runs)', () => {
  for (const [size, bs] of [[1, 2048], [15, 8], [17, 16], [33, 32], [5000, 24], [70_000, 2056], [3 * 65536 + 5, 32768], [1 << 20, 1 << 17]] as const) {
    for (const fill of [0, 255, -1]) {
      const d = fill < 0 ? randomBytes(size) : Buffer.alloc(size, fill);
      const n = Math.ceil(size / bs);
      const weak = new Uint32Array(n + 1);
      const strong = new Uint8Array((n + 1) * 4);
      assert.equal(blockSumsWasm(d, bs, weak, strong, 1), true);
      for (let j = 0; j < n; j++) {
        const [s, e] = [j * bs, Math.min(size, (j + 1) * bs)];
        assert.equal(weak[j + 1], weakSum(d, s, e), `weak: size ${size} bs ${bs} fill ${fill} block ${j}`);
        assert.equal(Buffer.from(strong).readUInt32BE((j + 1) * 4), lanes32(d, s, e), `lanes32: size ${size} bs ${bs} fill ${fill} block ${j}`);
      }
    }
  }
  // the matcher's path: a range read into the module's memory, any block of it hashed in place
  const src = randomBytes(100_003);
  const scratch = weakSumsScratch(src.length, 2048)!;
  src.copy(scratch);
  for (const [s, e] of [[0, 0], [0, 1], [3, 19], [7, 2055], [1000, 100_003], [0, 100_003]] as const) {
    assert.equal(strongInPlace(scratch, s, e), lanes32(src, s, e), `[${s}, ${e})`);
    assert.equal(strongHash('lanes32', scratch, s, e), strongHash('lanes32', src, s, e));
  }
  assert.equal(strongInPlace(src, 0, 10), undefined, 'a buffer outside the module memory is hashed in JavaScript');
});

test('lanes32 changes with every single bit flipped, and with changes that keep the weak checksum', () => {
  const b = randomBytes(1027);
  const h0 = lanes32(b, 0, b.length);
  for (let bit = 0; bit < b.length * 8; bit++) {
    b[bit >> 3]! ^= 1 << (bit & 7);
    assert.notEqual(lanes32(b, 0, b.length), h0, `bit ${bit}`);
    b[bit >> 3]! ^= 1 << (bit & 7);
  }
  // +4 at one byte and -4 at a byte 16 KiB later: the same weak checksum (mod 2^16 sums), another block
  const blk = Buffer.alloc(32768, 100);
  const w0 = weakSum(blk, 0, blk.length);
  const s0 = lanes32(blk, 0, blk.length);
  blk[10]! += 4;
  blk[10 + 16384]! -= 4;
  assert.equal(weakSum(blk, 0, blk.length), w0);
  assert.notEqual(lanes32(blk, 0, blk.length), s0);
  // the same words in another order
  const c = Buffer.concat([blk.subarray(16), blk.subarray(0, 16)]);
  assert.notEqual(lanes32(c, 0, c.length), lanes32(blk, 0, blk.length));
});

test('block size: about 2 sqrt(size), bounded, and never more than MAX_BLOCKS blocks', () => {
  assert.equal(blockSizeFor(0), 2048);
  assert.equal(blockSizeFor(256 << 20), 32768);
  assert.equal(blockSizeFor(2 ** 40), 2 ** 24); // 1 TiB: blocks grow past the 128 KiB cap to stay under MAX_BLOCKS
  for (const size of [1, 1e6, 1e9, 1e12, 2 ** 50]) assert.ok(Math.ceil(size / blockSizeFor(size)) <= MAX_BLOCKS);
});

test('identical files: all copies, merged into one run', () => {
  const b = randomBytes(64 * 1024 + 100); // a short last block
  const ops = delta(b, b);
  assert.equal(literalBytes(ops), 0);
  assert.deepEqual(ops, [{ copy: 0, count: 65 }]);
});

test('empty files: an empty basis gives everything as literal; an empty new file gives no ops', () => {
  const empty = Buffer.alloc(0);
  const b = randomBytes(3000);
  assert.equal(literalBytes(delta(empty, b)), 3000);
  assert.deepEqual(delta(b, empty), []);
  assert.deepEqual(delta(empty, empty), []);
});

test('files shorter than a block: the same short file is one copy; a different one is a literal', () => {
  const b = randomBytes(100);
  assert.deepEqual(delta(b, b), [{ copy: 0, count: 1 }]);
  const c = Buffer.from(b);
  c[50] ^= 1;
  assert.equal(literalBytes(delta(b, c)), 100);
});

test('an insertion shifts every later offset: only the inserted bytes and the block they land in go as literals', () => {
  const basis = randomBytes(256 * 1024);
  for (const at of [0, 1, 1000, 128 * 1024 + 3, 256 * 1024 - 1]) {
    const next = Buffer.concat([basis.subarray(0, at), randomBytes(37), basis.subarray(at)]);
    const ops = delta(basis, next);
    assert.ok(literalBytes(ops) <= 37 + 2 * 1024, `insert at ${at}: ${literalBytes(ops)} literal bytes`);
    assert.ok(copies(ops) >= 254, `insert at ${at}: ${copies(ops)} copies`);
  }
});

test('a deletion: the rest still matches', () => {
  const basis = randomBytes(100 * 1024);
  const next = Buffer.concat([basis.subarray(0, 30_000), basis.subarray(30_500)]);
  const ops = delta(basis, next);
  assert.ok(literalBytes(ops) < 2 * 1024);
});

test('all bytes changed: all literal, in records of at most MAX_LITERAL', () => {
  const basis = randomBytes(600 * 1024);
  const next = randomBytes(600 * 1024);
  const ops = delta(basis, next);
  assert.equal(copies(ops), 0);
  assert.equal(literalBytes(ops), next.length);
  assert.equal(ops.length, Math.ceil(next.length / MAX_LITERAL));
});

test('appended: the old file is copied, the new tail (and the old short last block) sent', () => {
  const basis = randomBytes(50 * 1024 + 10);
  const next = Buffer.concat([basis, randomBytes(7000)]);
  const ops = delta(basis, next);
  assert.ok(literalBytes(ops) <= 7000 + 1024, `${literalBytes(ops)}`);
  assert.equal(copies(ops), 50);
  const aligned = randomBytes(50 * 1024);
  assert.equal(literalBytes(delta(aligned, Buffer.concat([aligned, randomBytes(10)]))), 10);
});

test('truncated: the short last block of the new file is the basis block cut short -> literal, the rest copied', () => {
  const basis = randomBytes(20 * 1024);
  const next = basis.subarray(0, 15 * 1024 + 500);
  const ops = delta(basis, next);
  assert.equal(literalBytes(ops), 500);
});

test('repeated blocks: any block with the same content is a correct copy', () => {
  const block = randomBytes(1024);
  const basis = Buffer.concat([block, block, randomBytes(1024), block]);
  const next = Buffer.concat([block, block, block, block, block]);
  assert.equal(literalBytes(delta(basis, next)), 0);
});

test('ranges matched independently and concatenated rebuild the file (matches never cross a range end)', () => {
  const bs = 1024;
  const basis = randomBytes(300 * 1024 + 77);
  const next = Buffer.concat([basis.subarray(0, 100_000), randomBytes(5000), basis.subarray(100_000)]);
  const index = new BlockIndex(signature(basis, bs));
  const step = 64 * bs;
  const ops: DeltaOp[] = [];
  for (let s = 0; s < next.length; s += step) ops.push(...matchRange(next.subarray(s, Math.min(next.length, s + step)), s, next.length, index));
  assert.ok(applyOps(basis, bs, ops).equals(next));
  assert.ok(literalBytes(ops) < 5000 + 10 * bs, `${literalBytes(ops)}`);
});

test('records: encoded, then parsed fed one byte at a time, give the same instructions back', () => {
  const lit = randomBytes(3000);
  const { buf, literal } = encodeOps([{ copy: 7, count: 3 }, { literal: lit }, { copy: 0, count: 1 }]);
  assert.equal(literal, 3000);
  const sha = randomBytes(32);
  const stream = Buffer.concat([encodeFile(2, 4096), buf, encodeEnd(sha), encodeSkip('gone'), encodeFile(3, 2048, 'blake3-ranges', 1 << 24), encodeFile(4, 2048, 'blake3')]);
  const p = new DeltaParser();
  const got: DeltaRecord[] = [];
  for (const byte of stream) {
    p.push(Buffer.of(byte));
    for (let r = p.next(); r; r = p.next()) got.push(r.t === 'literal' ? { t: 'literal', data: Buffer.from(r.data) } : r);
  }
  assert.equal(p.pending, 0);
  assert.deepEqual(got, [
    { t: 'file', index: 2, blockSize: 4096, hash: 'sha256' },
    { t: 'copy', block: 7, count: 3 },
    { t: 'literal', data: lit },
    { t: 'copy', block: 0, count: 1 },
    { t: 'end', hash: sha },
    { t: 'skip', reason: 'gone' },
    { t: 'file', index: 3, blockSize: 2048, hash: 'blake3-ranges', rangeSize: 1 << 24 },
    { t: 'file', index: 4, blockSize: 2048, hash: 'blake3' },
  ]);
});

test('malformed records are refused: unknown type, empty or oversized literal', () => {
  const parse = (b: Buffer): void => {
    const p = new DeltaParser();
    p.push(b);
    while (p.next());
  };
  assert.throws(() => parse(Buffer.of(9)), DeltaFormatError);
  assert.throws(() => parse(Buffer.of(3, 0, 0, 0, 0)), DeltaFormatError);
  const big = Buffer.alloc(5);
  big[0] = 3;
  big.writeUInt32BE(MAX_LITERAL + 1, 1);
  assert.throws(() => parse(big), DeltaFormatError);
});
