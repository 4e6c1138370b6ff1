// Crafted tar streams fed to LocalTree.unpack: nothing may be written outside the root,
// no temporary file may stay behind, and a hostile stream is refused as a whole.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { LocalTree, UnsafeStreamError } from '../../src/engine/localTree.js';
import type { Expected } from '../../src/core/tree.js';
import { encodeFileHeader, END_OF_ARCHIVE, padding } from '../../src/workers/tarFormat.js';
import { closePools } from '../../src/workers/pool.js';
import { describeTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

interface Raw {
  name: string;
  data: Buffer;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
  pax?: Record<string, string>;
}

/** A tar made by tar-stream (so hostile names pass through a real encoder). */
async function tarStreamOf(entries: Raw[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    pack.entry({ name: e.name, size: e.data.length, type: e.type ?? 'file', ...(e.linkname ? { linkname: e.linkname } : {}), ...(e.pax ? { pax: e.pax } : {}) }, e.data);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A tar made by our encoder (for names tar-stream would not write, such as NUL). */
function ourTarOf(entries: Raw[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeFileHeader(e.name, e.data.length, 0o644, Date.now(), e.pax), e.data, Buffer.alloc(padding(e.data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const exp = (path: string, data: Buffer, withHash = true): Expected => ({
  path,
  kind: 'file',
  size: data.length,
  mtimeMs: 1_700_000_000_123,
  mode: 0o644,
  ...(withHash ? { hash: sha(data) } : {}),
});

function setup(tag: string): { root: string; outside: string; tree: LocalTree } {
  const base = tempDir(tag);
  dirs.push(base);
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  return { root, outside, tree: new LocalTree(root, { writable: true }) };
}

const good = Buffer.from('good content\n');

describe('LocalTree.unpack with hostile or broken tar streams', () => {
  for (const [label, name] of [
    ['../escape', '../outside/escape'],
    ['absolute path', '/tmp/omirr-absolute-escape'],
    ['dot segment', 'a/./b'],
    ['empty segment', 'a//b'],
  ] as const) {
    test(`${label} is refused, nothing written`, async () => {
      const { root, outside, tree } = setup('h');
      const buf = await tarStreamOf([{ name: 'ok', data: good }, { name, data: Buffer.from('evil') }]);
      await assert.rejects(tree.unpack(Readable.from([buf]), [exp('ok', good)]), UnsafeStreamError);
      assert.deepEqual(describeTree(outside), {});
      assert.ok(!existsSync('/tmp/omirr-absolute-escape'));
      assert.deepEqual(tempFiles(root), []);
      // the entry before the hostile one was complete and verified: it may stay
      assert.deepEqual(Object.keys(describeTree(root)).filter((p) => p !== 'ok'), []);
    });
  }

  test('NUL in a (pax) path is refused', async () => {
    const { root, tree } = setup('nul');
    const buf = ourTarOf([{ name: 'a\0b', data: good }]);
    await assert.rejects(tree.unpack(Readable.from([buf]), [exp('a', good)]), /NUL/);
    assert.deepEqual(describeTree(root), {});
  });

  test('an entry not expected is refused', async () => {
    const { root, tree } = setup('unexp');
    const buf = await tarStreamOf([{ name: 'surprise', data: good }]);
    await assert.rejects(tree.unpack(Readable.from([buf]), [exp('ok', good)]), /not expected/);
    assert.deepEqual(describeTree(root), {});
  });

  test('an entry sent twice is refused', async () => {
    const { root, tree } = setup('dup');
    const buf = await tarStreamOf([{ name: 'ok', data: good }, { name: 'ok', data: good }]);
    await assert.rejects(tree.unpack(Readable.from([buf]), [exp('ok', good)]), /twice/);
    assert.deepEqual(tempFiles(root), []);
  });

  test('symlink, directory and hard-link entries are refused', async () => {
    for (const e of [
      { name: 'ok', data: Buffer.alloc(0), type: 'symlink' as const, linkname: '/etc/passwd' },
      { name: 'ok', data: Buffer.alloc(0), type: 'directory' as const },
    ]) {
      const { root, tree } = setup('types');
      const buf = await tarStreamOf([e]);
      await assert.rejects(tree.unpack(Readable.from([buf]), [exp('ok', good)]), /entry type/);
      assert.deepEqual(describeTree(root), {});
    }
  });

  test('a write through a symlink in the destination is refused', async () => {
    const { root, outside, tree } = setup('sym');
    symlinkSync(outside, join(root, 'evil'));
    const buf = await tarStreamOf([{ name: 'evil/x', data: good }]);
    const r = await tree.unpack(Readable.from([buf]), [exp('evil/x', good)]);
    assert.equal(r.written.length, 0);
    assert.match(r.failed[0]!.error, /symlink/);
    assert.deepEqual(describeTree(outside), {});
    assert.deepEqual(tempFiles(root), []);
  });

  test('a size that differs from the expected one writes nothing for that file', async () => {
    const { root, tree } = setup('size');
    const big = Buffer.alloc(100_000, 1);
    const buf = await tarStreamOf([{ name: 'f', data: big }, { name: 'ok', data: good }]);
    const r = await tree.unpack(Readable.from([buf]), [exp('f', Buffer.alloc(10)), exp('ok', good)]);
    assert.deepEqual(r.written, ['ok']);
    assert.match(r.failed[0]!.error, /size changed/);
    assert.deepEqual(Object.keys(describeTree(root)), ['ok']);
  });

  test('a hash mismatch leaves neither the file nor a temporary', async () => {
    const { root, tree } = setup('hash');
    const buf = await tarStreamOf([{ name: 'f', data: Buffer.from('tampered!!!!') }]);
    const r = await tree.unpack(Readable.from([buf]), [exp('f', Buffer.from('original....'))]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, /hash mismatch/);
    assert.deepEqual(describeTree(root), {});
  });

  test('omirr.sha256 that does not match the data: no file, no temporary, the rest goes on', async () => {
    const { root, tree } = setup('paxhash');
    const evil = Buffer.from('tampered!!!!');
    const buf = ourTarOf([
      { name: 'f', data: evil, pax: { 'omirr.sha256': sha(Buffer.from('original....')) } },
      { name: 'ok', data: good, pax: { 'omirr.sha256': sha(good) } },
    ]);
    // the receiver has no hash of its own (a plain sync's first copy): the sender's is checked
    const r = await tree.unpack(Readable.from([buf]), [exp('f', evil, false), exp('ok', good, false)]);
    assert.deepEqual(r.written, ['ok']);
    assert.deepEqual(r.failed.map((f) => f.path), ['f']);
    assert.match(r.failed[0]!.error, /hash mismatch/);
    assert.deepEqual(Object.keys(describeTree(root)), ['ok']);
    assert.deepEqual(tempFiles(root), []);
  });

  test('omirr.sha256 that differs from the receiver\'s own hash: the source changed since it was listed', async () => {
    const { root, tree } = setup('paxchanged');
    const now = Buffer.from('new content!');
    const buf = ourTarOf([{ name: 'f', data: now, pax: { 'omirr.sha256': sha(now) } }]);
    const r = await tree.unpack(Readable.from([buf]), [{ ...exp('f', now), hash: sha(Buffer.from('listed conte')) }]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, /source changed since it was listed/);
    assert.deepEqual(describeTree(root), {});
    assert.deepEqual(tempFiles(root), []);
  });

  for (const [label, value] of [
    ['uppercase', sha(good).toUpperCase()],
    ['too short', sha(good).slice(1)],
    ['not hex', 'z'.repeat(64)],
    ['empty', ''],
  ] as const) {
    test(`a malformed omirr.sha256 (${label}) is refused`, async () => {
      const { root, tree } = setup('paxbad');
      const buf = ourTarOf([{ name: 'f', data: good, pax: { 'omirr.sha256': value } }]);
      await assert.rejects(tree.unpack(Readable.from([buf]), [exp('f', good, false)]), /omirr\.sha256/);
      assert.deepEqual(describeTree(root), {});
    });
  }

  test('a corrupted header checksum is refused', async () => {
    const { root, tree } = setup('ck');
    const buf = await tarStreamOf([{ name: 'f', data: good }]);
    buf[10] = buf[10]! ^ 0x55;
    await assert.rejects(tree.unpack(Readable.from([buf]), [exp('f', good)]), /checksum/);
    assert.deepEqual(describeTree(root), {});
  });

  test('a truncated stream keeps nothing under a real name', async () => {
    const { root, tree } = setup('trunc');
    const data = Buffer.alloc(200_000, 3);
    const buf = (await tarStreamOf([{ name: 'f', data }])).subarray(0, 50_000);
    const r = await tree.unpack(Readable.from([buf]), [exp('f', data)]);
    assert.deepEqual(r.written, []);
    assert.ok(!existsSync(join(root, 'f')));
    assert.deepEqual(tempFiles(root), [], 'small partial files are not kept');
  });

  test('streams written by tar-stream (long pax names, many chunks) are accepted', async () => {
    const { root, tree } = setup('ok');
    const long = `${'d'.repeat(150)}/${'n'.repeat(200)}`;
    const files = [
      { name: long, data: Buffer.from('long name') },
      { name: 'e', data: Buffer.alloc(0) },
      { name: 'ü/ñ.txt', data: Buffer.alloc(70_000, 5) },
    ];
    const buf = await tarStreamOf(files);
    // feed it in odd slices, as a socket would
    const slices: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 777) slices.push(buf.subarray(i, i + 777));
    const r = await tree.unpack(Readable.from(slices), files.map((f) => exp(f.name, f.data)));
    assert.deepEqual(r.failed, []);
    assert.equal(r.written.length, 3);
    assert.ok(readFileSync(join(root, long)).equals(files[0]!.data));
    assert.equal(describeTree(root)['ü/ñ.txt']!.mtimeMs, 1_700_000_000_123);
  });

  test('LocalTree.pack output is a tar that tar-stream reads', async () => {
    const { root } = setup('pack');
    const src = new LocalTree(root, { writable: true });
    const ex = tar.extract();
    const seen: Record<string, string> = {};
    ex.on('entry', (h, stream, next) => {
      const cs: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        cs.push(c as Buffer);
      });
      stream.on('end', () => {
        seen[h.name] = sha(Buffer.concat(cs));
        next();
      });
    });
    const { writeFileSync } = await import('node:fs');
    const names = ['x', `${'p'.repeat(120)}/q`, 'big'];
    mkdirSync(join(root, 'p'.repeat(120)));
    writeFileSync(join(root, 'x'), 'xx');
    writeFileSync(join(root, names[1]!), 'qq');
    writeFileSync(join(root, 'big'), Buffer.alloc(9 << 20, 1));
    const finished = new Promise<void>((r) => ex.on('finish', () => r()));
    src.pack(names.map((path) => ({ path }))).pipe(ex);
    await finished;
    assert.deepEqual(Object.keys(seen).sort(), [...names].sort());
    assert.equal(seen.big, sha(Buffer.alloc(9 << 20, 1)));
  });
});
