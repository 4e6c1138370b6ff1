// The receiver's checks on the cheap paths of a first copy: a file whose data arrives in one
// piece is hashed in one call, one that arrives in pieces incrementally, an empty one as the
// hash of nothing; and the parser's direct read of a lone hash record decides exactly as the
// strict pax decoder. Each is attacked: a flipped byte at either end, a wrong hash for an
// empty file, malformed records that look almost like the real one.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import type { Expected } from '../../src/core/tree.js';
import { packExpected } from '../../src/core/expectedColumns.js';
import { BLAKE3_KEY, END_OF_ARCHIVE, HASHED_HEADER_LENGTH, isHex64, padding, SHA256_KEY, TarParser, writeHashedFileHeader, type TarHeader, type TarHashKey } from '../../src/workers/tarFormat.js';
import { extract, type ExtractResult } from '../../src/workers/tarTasks.js';
import { noise } from '../helpers/tarFixtures.js';
import { describeTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) removeDir(d);
});

const MTIME = 1_700_000_000_000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** One entry as the verifying packer writes it, with `hash` as its sent hash. */
function entry(name: string, data: Buffer, hash: string, key: TarHashKey = SHA256_KEY): Buffer {
  const h = Buffer.alloc(HASHED_HEADER_LENGTH);
  h.write(hash, writeHashedFileHeader(h, 0, name, data.length, 0o644, MTIME, key), 64, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc(padding(data.length))]);
}

const expected = (path: string, size: number): Expected => ({ path, kind: 'file', size, mtimeMs: MTIME, mode: 0o644 });

/** Runs the extract task in this thread, the stream cut into the given pieces (each its own message). */
async function extractPieces(root: string, expect: Expected[], stream: Buffer, cuts: number[]): Promise<ExtractResult> {
  const { port1, port2 } = new MessageChannel();
  const done = extract({ root, expect: packExpected(expect), port: port2, chown: false, resumeMin: 1 << 30 });
  port1.on('message', () => {});
  let at = 0;
  for (const end of [...cuts, stream.length]) {
    const piece = stream.subarray(at, end);
    const ab = new ArrayBuffer(piece.length);
    new Uint8Array(ab).set(piece);
    port1.postMessage({ chunk: ab, length: piece.length }, [ab]);
    at = end;
  }
  port1.postMessage({ end: true });
  const r = await done;
  port1.close();
  return r;
}

describe('extract: one-call and incremental hashing', () => {
  const sizes = [1, 5000, 200_000];
  // where the stream is cut, relative to the entry's data: none (whole), its middle, every 997 bytes
  const splits: Array<[string, (dataAt: number, n: number) => number[]]> = [
    ['whole', () => []],
    ['halves', (at, n) => (n > 1 ? [at + (n >> 1)] : [at])],
    ['pieces', (at, n) => Array.from({ length: Math.ceil(n / 997) }, (_, i) => at + i * 997).filter((c) => c > 0)],
  ];

  for (const size of sizes) {
    for (const [how, cuts] of splits) {
      test(`${size} bytes, ${how}: written when the hash matches, refused when a byte at either end flipped`, async () => {
        const data = noise(size, size);
        for (const flip of [-1, 0, size - 1]) {
          const root = tempDir('extracthash');
          dirs.push(root);
          const sent = Buffer.from(data);
          if (flip >= 0) sent[flip]! ^= 1;
          const stream = Buffer.concat([entry('f', sent, sha(data)), END_OF_ARCHIVE]);
          const r = await extractPieces(root, [expected('f', size)], stream, cuts(HASHED_HEADER_LENGTH, size));
          assert.equal(r.fatal, undefined);
          if (flip < 0) {
            assert.deepEqual(r.written, ['f']);
            assert.equal(sha(readFileSync(join(root, 'f'))), sha(data));
          } else {
            assert.deepEqual(r.written, [], `flipped byte ${flip}`);
            assert.match(r.failed[0]!.error, /hash mismatch/);
            assert.deepEqual(describeTree(root), {});
          }
          assert.deepEqual(tempFiles(root), []);
        }
      });
    }
  }

  test('an empty file is checked too: the hash of nothing, and nothing else', async () => {
    const root = tempDir('extracthash-empty');
    dirs.push(root);
    mkdirSync(join(root, 'd'));
    const stream = Buffer.concat([entry('ok', Buffer.alloc(0), sha(Buffer.alloc(0))), entry('d/bad', Buffer.alloc(0), sha(Buffer.from('x'))), END_OF_ARCHIVE]);
    const r = await extractPieces(root, [expected('ok', 0), expected('d/bad', 0)], stream, []);
    assert.deepEqual(r.written, ['ok']);
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.error, /hash mismatch/);
    assert.equal(readFileSync(join(root, 'ok')).length, 0);
    assert.deepEqual(tempFiles(root), []);
  });

  test('a stream that ends without an expected file names that file, not received; the others are written', async () => {
    const root = tempDir('extracthash-missing');
    dirs.push(root);
    mkdirSync(join(root, 'd'));
    const data = noise(300, 3);
    const r = await extractPieces(root, [expected('d/missing', 10), expected('d/here', 300), expected('gone', 0)], Buffer.concat([entry('d/here', data, sha(data)), END_OF_ARCHIVE]), []);
    assert.deepEqual(r.written, ['d/here']);
    assert.deepEqual(r.failed, [
      { path: 'd/missing', error: 'not received' },
      { path: 'gone', error: 'not received' },
    ]);
    assert.deepEqual(readFileSync(join(root, 'd/here')), data);
  });

  test('a malformed sent hash (uppercase, 63 digits and a g) ends the stream as before', async () => {
    const data = noise(100, 7);
    for (const bad of [sha(data).toUpperCase(), `${sha(data).slice(0, 63)}g`]) {
      const root = tempDir('extracthash-bad');
      dirs.push(root);
      const r = await extractPieces(root, [expected('f', 100)], Buffer.concat([entry('f', data, bad), END_OF_ARCHIVE]), []);
      assert.match(r.fatal ?? '', /bad omirr\.sha256|malformed/, bad);
      assert.deepEqual(describeTree(root), {});
    }
  });
});

describe('the parser reads a lone hash record directly, deciding as decodePax does', () => {
  /** The pax of the one entry, or the error, parsed from whole buffers and then byte by byte (the decodePax path). */
  function both(stream: Buffer): Array<Record<string, string> | string> {
    return [stream.length, 1].map((slice) => {
      let pax: Record<string, string> | undefined;
      try {
        const p = new TarParser({ entry: (h: TarHeader) => (pax = { ...h.pax }), data: () => {}, entryEnd: () => {} });
        for (let i = 0; i < stream.length; i += slice) p.feed(stream.subarray(i, i + slice));
        p.end();
        return pax ?? 'no entry';
      } catch (err) {
        return (err as Error).message;
      }
    });
  }

  const good = sha(Buffer.from('x'));
  const variants: Array<[string, (b: Buffer, hashAt: number) => void]> = [
    ['as written', () => {}],
    ['uppercase digit', (b, at) => (b[at] = 0x41)],
    ['a g', (b, at) => (b[at + 63] = 0x67)],
    ['a NUL in the value', (b, at) => (b[at + 10] = 0)],
    ['another key of the same length', (b, at) => (b[at - 2] = 0x37)],
    ['no newline', (b, at) => (b[at + 64] = 0x20)],
    ['a wrong length field', (b, at) => (b[at - 16] = 0x30)],
    ['a non-ASCII byte in the value', (b, at) => (b[at + 5] = 0xc3)],
  ];
  for (const key of [SHA256_KEY, BLAKE3_KEY] as const) {
    for (const [what, spoil] of variants) {
      test(`${key}, ${what}`, () => {
        const stream = Buffer.concat([entry('f', Buffer.from('x'), good, key), END_OF_ARCHIVE]);
        // the hash's digits start 64 + 1 bytes before the end of the record (its newline)
        const hashAt = stream.indexOf(`${key}=`) + key.length + 1;
        spoil(stream, hashAt);
        const [fast, slow] = both(stream);
        assert.deepEqual(fast, slow);
        if (what === 'as written') assert.deepEqual(fast, { [key]: good });
      });
    }
  }

  test('isHex64 is the receiver\'s check of a sent hash: 64 lowercase hex digits exactly', () => {
    assert.ok(isHex64(good));
    for (const s of [good.toUpperCase(), good.slice(1), `${good}0`, `${good.slice(0, 63)}g`, `${good.slice(0, 63)}/`, `${good.slice(0, 63)}:`, `${good.slice(0, 63)}\``, '']) assert.equal(isHex64(s), false, s);
  });
});
