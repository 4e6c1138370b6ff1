// Inline contents: the sender's cache and what a delivery carries (pure), the receiver's
// checks of `data`, and the io worker's `put` (real files in a temp dir).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncodedChanges, INLINE_BATCH_MAX, INLINE_ENTRY_OVERHEAD, INLINE_FILE_MAX, InlineContentCache, parseInlineData, withInlineContent } from '../../src/daemon/inlineContent.js';
import type { WireChange } from '../../src/daemon/peerProtocol.js';
import type { OutboxRecord } from '../../src/actors/outbox.js';
import { ProtocolError } from '../../src/net/frames.js';
import { JsonPieces, type JsonText } from '../../src/net/connection.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { closePools } from '../../src/workers/pool.js';
import type { Expected } from '../../src/core/tree.js';
import { TEMP_PREFIX } from '../../src/core/paths.js';

after(() => closePools());

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function fileChange(path: string, data: Buffer, deleted = false): WireChange {
  const rec = { entry: { path, kind: 'file' as const, size: data.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: sha(data) }, version: { a: 1 } };
  return { tree: 't', rec: deleted ? { ...rec, deleted: { atMs: 1 } } : rec };
}
const outboxRec = (seq: number, change: WireChange): OutboxRecord<WireChange> => ({ seq, at: 0, change });

const text = (i: JsonText | JsonPieces): string => (i instanceof JsonPieces ? i.head + i.tail.toString('utf8') : i.text);
const texts = (items: Array<JsonText | JsonPieces>): unknown[] => items.map((i) => JSON.parse(text(i)) as unknown);

test('the cache: found only at the same hash, bounded in bytes (oldest out first), no file above the inline limit', () => {
  const c = new InlineContentCache(10_000);
  const a = Buffer.alloc(4000, 1);
  c.put('t', 'a', sha(a), a);
  assert.equal(c.get('t', 'a', sha(a)), a);
  assert.equal(c.get('t', 'a', sha(Buffer.from('other'))), undefined, 'another version of the path');
  assert.equal(c.get('u', 'a', sha(a)), undefined, 'another tree');
  const b = Buffer.alloc(4000, 2);
  const d = Buffer.alloc(4000, 3);
  c.put('t', 'b', sha(b), b);
  c.put('t', 'd', sha(d), d);
  assert.equal(c.get('t', 'a', sha(a)), undefined, 'the oldest went');
  assert.ok(c.get('t', 'b', sha(b)) && c.get('t', 'd', sha(d)));
  assert.deepEqual(c.size, { files: 2, bytes: 8000 });
  const big = Buffer.alloc(INLINE_FILE_MAX + 1);
  c.put('t', 'big', sha(big), big);
  assert.equal(c.get('t', 'big', sha(big)), undefined);
  // a new version of a path replaces the old one, and its bytes are counted once
  const b2 = Buffer.alloc(100, 9);
  c.put('t', 'b', sha(b2), b2);
  assert.deepEqual(c.size, { files: 2, bytes: 4100 });
});

test('the cache: empty files are not free, their count is bounded too (a million empty files, issue 12)', () => {
  const c = new InlineContentCache(100 * INLINE_ENTRY_OVERHEAD);
  const empty = Buffer.alloc(0);
  for (let i = 0; i < 10_000; i++) c.put('t', `e${i}`, sha(empty), empty);
  assert.equal(c.size.files, 100);
  assert.equal(c.size.bytes, 0);
  assert.ok(c.get('t', 'e9999', sha(empty)), 'the newest kept');
  assert.equal(c.get('t', 'e0', sha(empty)), undefined, 'the oldest went');
});

test('a delivery carries the contents the cache holds, files only, up to the batch budget', () => {
  const c = new InlineContentCache();
  const small = Buffer.from('hello\n');
  c.put('t', 'small', sha(small), small);
  const stale = Buffer.from('old content');
  c.put('t', 'stale', sha(stale), stale);
  const recs = [
    outboxRec(1, fileChange('small', small)),
    outboxRec(2, fileChange('stale', Buffer.from('new content'))), // the cache has another version
    outboxRec(3, fileChange('small', small, true)), // a tombstone never carries data
    outboxRec(4, { tree: 't', rec: { entry: { path: 'dir', kind: 'dir', size: 0, mtimeMs: 1, mode: 0o755 }, version: { a: 1 } } }),
  ];
  const items = texts(withInlineContent(recs, c)) as Array<OutboxRecord<WireChange> & { data?: string }>;
  assert.deepEqual(items[1], recs[1], 'an item is the record as JSON');
  assert.equal(items[0]!.data, small.toString('base64'));
  assert.equal(items[0]!.seq, 1);
  assert.equal(items[1]!.data, undefined);
  assert.equal(items[2]!.data, undefined);
  assert.equal(items[3]!.data, undefined);
  assert.equal((recs[0] as { data?: string }).data, undefined, 'the outbox records are not changed');

  // budget: 1 MiB of contents per delivery, the rest goes without (and is fetched)
  const many = Array.from({ length: 40 }, (_, i) => Buffer.alloc(INLINE_FILE_MAX, i));
  const cache = new InlineContentCache();
  many.forEach((b, i) => cache.put('t', `f${i}`, sha(b), b));
  const out = texts(withInlineContent(many.map((b, i) => outboxRec(i + 1, fileChange(`f${i}`, b))), cache)) as Array<{ data?: string }>;
  const carried = out.filter((o) => o.data !== undefined).length;
  assert.equal(carried, INLINE_BATCH_MAX / INLINE_FILE_MAX);
});

test('a change delivered to several peers is encoded once, each delivery with its own seq and budget', () => {
  const c = new InlineContentCache();
  const enc = new EncodedChanges();
  const body = Buffer.from('x'.repeat(4096));
  c.put('t', 'f', sha(body), body);
  const change = fileChange('f', body);
  const first = texts(withInlineContent([outboxRec(7, change)], c, enc)) as Array<{ seq: number; data?: string }>;
  const size = enc.size;
  c.put('t', 'f', sha(Buffer.from('newer')), Buffer.from('newer')); // the cache moved on: the delivered change's content is the same
  const again = texts(withInlineContent([outboxRec(9, change)], c, enc)) as Array<{ seq: number; data?: string; change: WireChange }>;
  assert.deepEqual(enc.size, size, 'nothing encoded again');
  assert.equal(first[0]!.seq, 7);
  assert.equal(again[0]!.seq, 9);
  assert.equal(Buffer.from(again[0]!.data!, 'base64').toString(), body.toString());
  assert.deepEqual(again[0]!.change, change);
  // the bytes after each delivery's own seq are shared, not encoded again for the next peer
  const [p1] = withInlineContent([outboxRec(7, change)], c, enc);
  const [p2] = withInlineContent([outboxRec(9, change)], c, enc);
  assert.ok(p1 instanceof JsonPieces && p2 instanceof JsonPieces);
  assert.equal(p1.tail, p2.tail, 'the same Buffer');
  assert.equal(text(p1), JSON.stringify({ seq: 7, at: 0, change, data: body.toString('base64') }));
  // a tiny file's item stays text (cheaper to encode whole than to copy in pieces), the same text
  const tiny = Buffer.from('6 byte');
  c.put('t', 'tiny', sha(tiny), tiny);
  const [t1] = withInlineContent([outboxRec(3, fileChange('tiny', tiny))], c, enc);
  assert.ok(!(t1 instanceof JsonPieces));
  assert.equal(text(t1!), JSON.stringify({ seq: 3, at: 0, change: fileChange('tiny', tiny), data: tiny.toString('base64') }));

  // bounded: the oldest encodings go
  const small = new EncodedChanges(1000);
  for (let i = 0; i < 100; i++) withInlineContent([outboxRec(i + 1, fileChange(`g${i}`, Buffer.from(String(i))))], c, small);
  assert.ok(small.size.chars <= 1000 && small.size.changes < 100, JSON.stringify(small.size));
});

test('received data: exactly the record size, valid base64, on a live file record; anything else is a protocol violation', () => {
  const data = Buffer.from('twelve bytes');
  const ch = fileChange('f', data);
  assert.deepEqual(parseInlineData(data.toString('base64'), ch), data);
  assert.equal(parseInlineData(undefined, ch), undefined);
  const bad: Array<[unknown, WireChange, RegExp]> = [
    [Buffer.from('eleven byte').toString('base64'), ch, /size/],
    [data.toString('base64').slice(0, -2) + '!!', ch, /size/],
    [42, ch, /bad inline data/],
    ['A'.repeat(Math.ceil(INLINE_FILE_MAX / 3) * 4 + 4), ch, /bad inline data/],
    [data.toString('base64'), fileChange('f', data, true), /not a file/],
    [data.toString('base64'), { tree: 't', rec: { entry: { path: 'd', kind: 'dir', size: 12, mtimeMs: 1, mode: 0o755 }, version: { a: 1 } } }, /not a file/],
  ];
  for (const [v, c, re] of bad) assert.throws(() => parseInlineData(v, c), (err: Error) => err instanceof ProtocolError && re.test(err.message));
});

test('received data: checked without encoding it again, still refused when any character is not base64 (Buffer.from would skip it)', () => {
  // sizes with each padding (none, one '=', two) and the burst's 4 KiB
  for (const size of [1, 2, 3, 10, 11, 12, 4096]) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 37 + size) & 0xff;
    const ch = fileChange('f', data);
    const good = data.toString('base64');
    assert.deepEqual(parseInlineData(good, ch), data);
    const bad: string[] = [];
    // a stray character where the padding was: Buffer.from needs no padding and decodes the same bytes
    if (good.endsWith('=')) bad.push(good.slice(0, -1) + '!', good.slice(0, -1) + '\n');
    if (good.endsWith('==')) bad.push(good.slice(0, -2) + '*=', good.slice(0, -2) + 'A=');
    // a stray character inside, the padding dropped to keep the length
    if (good.endsWith('=')) bad.push(good.slice(0, 1) + ' ' + good.slice(1, -1));
    if (good.endsWith('==')) bad.push(good.slice(0, 1) + '%' + good.slice(1, -2) + '=');
    // padding where the size has none, or one too many
    if (!good.endsWith('=')) bad.push(good.slice(0, -1) + '=');
    else if (!good.endsWith('==')) bad.push(good.slice(0, -2) + '==');
    // a character replaced inside (the length kept)
    bad.push(good.slice(0, 2) + '.' + good.slice(3));
    for (const v of bad) {
      assert.equal(v.length, good.length, JSON.stringify(v));
      assert.throws(() => parseInlineData(v, ch), (err: Error) => err instanceof ProtocolError && /size/.test(err.message), `size ${size}: ${JSON.stringify(v.slice(-6))}`);
    }
  }
});

/** A tree for the put op's tests, a directory outside it (a symlink's target), a content and its Expected. */
function putFixture(t: { after(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), 'omirr-put-'));
  const outside = mkdtempSync(join(tmpdir(), 'omirr-put-outside-'));
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const tree = new LocalTree(root, { writable: true });
  const data = Buffer.from('inline content\n');
  const exp = (path: string, d = data, mode = 0o640): Expected => ({ path, kind: 'file', size: d.length, mtimeMs: 1_600_000_000_123, mode, hash: sha(d) });
  return { root, outside, tree, data, exp };
}

test("the io worker's put: verified before anything is written, attributes set, renamed into place, never through a symlink", async (t) => {
  const { root, outside, tree, data, exp } = putFixture(t);
  writeFileSync(join(root, 'replaced.txt'), 'the old version');
  mkdirSync(join(root, 'sub'));
  symlinkSync(outside, join(root, 'link'));
  const res = await tree.apply([
    { op: 'put', path: 'new/deep/file.txt', file: exp('new/deep/file.txt'), data },
    { op: 'put', path: 'replaced.txt', file: exp('replaced.txt', data, 0o600), data },
    { op: 'put', path: 'sub/forged.txt', file: exp('sub/forged.txt'), data: Buffer.from('other content!\n') },
    { op: 'put', path: 'link/escape.txt', file: exp('link/escape.txt'), data },
    { op: 'put', path: 'sub/../../escape.txt', file: exp('sub/../../escape.txt'), data },
  ]);
  assert.deepEqual(
    res.map((r) => r.ok),
    [true, true, false, false, false],
  );
  assert.match(res[2]!.error!, /hash mismatch/);
  assert.equal(readFileSync(join(root, 'new/deep/file.txt'), 'utf8'), 'inline content\n');
  const st = lstatSync(join(root, 'new/deep/file.txt'));
  assert.equal(st.mode & 0o7777, 0o640);
  assert.equal(Math.round(st.mtimeMs), 1_600_000_000_123);
  assert.equal(readFileSync(join(root, 'replaced.txt'), 'utf8'), 'inline content\n');
  assert.equal(lstatSync(join(root, 'replaced.txt')).mode & 0o7777, 0o600);
  assert.equal(existsSync(join(root, 'sub/forged.txt')), false);
  assert.deepEqual(readdirSync(outside), [], 'nothing written through the symlink');
  assert.deepEqual(readdirSync(join(root, 'sub')), [], 'no temporary left behind');
  assert.equal(existsSync(join(root, '..', 'escape.txt')), false);
});

test("a staged put (the staging directory's): written at its name, no temporary and no rename; verified, attributes set, a stale file replaced, never through a symlink", async (t) => {
  const { root, outside, tree, data, exp } = putFixture(t);
  mkdirSync(join(root, 'd'));
  writeFileSync(join(root, 'd/stale.txt'), 'a partial write a crash left'); // replaced
  symlinkSync(outside, join(root, 'link'));
  // every name the directory sees (inotify, in order): the files' own names only
  const seen: string[] = [];
  const w = watch(join(root, 'd'), (_ev, name) => void seen.push(String(name)));
  t.after(() => w.close());
  const res = await tree.apply([
    { op: 'put', path: 'd/file.txt', file: exp('d/file.txt'), data, staged: true },
    { op: 'put', path: 'd/stale.txt', file: exp('d/stale.txt', data, 0o600), data, staged: true },
    { op: 'put', path: 'd/forged.txt', file: exp('d/forged.txt'), data: Buffer.from('other content!\n'), staged: true },
    { op: 'put', path: 'link/escape.txt', file: exp('link/escape.txt'), data, staged: true },
    { op: 'put', path: 'd/last.txt', file: exp('d/last.txt'), data, staged: true },
  ]);
  assert.deepEqual(
    res.map((r) => r.ok),
    [true, true, false, false, true],
  );
  assert.match(res[2]!.error!, /hash mismatch/);
  for (const p of ['d/file.txt', 'd/stale.txt', 'd/last.txt']) assert.equal(readFileSync(join(root, p), 'utf8'), 'inline content\n', p);
  assert.equal(lstatSync(join(root, 'd/file.txt')).mode & 0o7777, 0o640);
  assert.equal(lstatSync(join(root, 'd/stale.txt')).mode & 0o7777, 0o600);
  assert.equal(Math.round(lstatSync(join(root, 'd/file.txt')).mtimeMs), 1_600_000_000_123);
  assert.equal(existsSync(join(root, 'd/forged.txt')), false);
  assert.deepEqual(readdirSync(outside), [], 'nothing written through the symlink');
  assert.deepEqual(readdirSync(join(root, 'd')).sort(), ['file.txt', 'last.txt', 'stale.txt']);
  // the last file's events come after the others' (inotify keeps their order)
  const deadline = Date.now() + 10_000;
  while (!seen.includes('last.txt') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(seen.includes('last.txt'), 'the watch saw the writes');
  assert.deepEqual(seen.filter((n) => n.startsWith(TEMP_PREFIX)), [], 'no temporary name: written at the name');
});
