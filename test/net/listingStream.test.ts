// `omirr serve` sends a tree's binary listing as its io thread walks (the scan task's port,
// engine/listingFeed.ts): the blocks posted during the walk and the result's last one are
// exactly the listing of a plain scan, in order; a listing cut short by a failed scan is
// never handed on as whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { encodeListing, ListingDecoder } from '../../src/net/listingWire.js';
import { scan as scanTask } from '../../src/workers/tasks.js';
import { scan as plainScan, type ScanTaskResult } from '../../src/workers/scanTask.js';
import { ListingFeed } from '../../src/engine/listingFeed.js';
import { scanInThread } from '../../src/engine/localScan.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

/** ~6,000 entries whose names differ at their start: several 64 KiB blocks of listing. */
function makeWideTree(root: string): void {
  for (let d = 0; d < 30; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 200; f++) writeFileSync(join(root, `d${d}`, `${f}-a-file-whose-name-differs-at-its-start.txt`), `${d}/${f}`);
  }
}

const result = (listing: Buffer[], streamed: number): ScanTaskResult => ({ entries: [], listing, skipped: [], streamed });
const collect = async (it: AsyncIterable<Buffer>): Promise<Buffer[]> => {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return out;
};

test('the scan task posts full blocks while it walks; with its last block they are the plain listing, byte for byte', async () => {
  const root = tempDir('liststream');
  try {
    makeWideTree(root);
    const { port1, port2 } = new MessageChannel();
    const posted: Buffer[] = [];
    // every posted block is delivered before a message sent after them on the same channel
    const ended = new Promise<void>((resolve) =>
      port1.on('message', (b: Uint8Array | 'end') => (b === 'end' ? resolve() : posted.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength)))),
    );
    const r = await scanTask({ root, listing: true, port: port2 });
    port2.postMessage('end');
    await ended;
    port1.close();
    assert.ok((r.streamed ?? 0) >= 2, `blocks posted during the walk: ${r.streamed}`);
    assert.equal(posted.length, r.streamed);
    assert.equal(r.listing!.length, 1);
    const plain = plainScan({ root });
    assert.equal(plain.entries.length, 30 + 30 * 200);
    const whole = [...posted, ...r.listing!];
    assert.ok(Buffer.concat(whole).equals(Buffer.concat([...encodeListing(plain.entries)])));
    const d = new ListingDecoder();
    for (const b of whole) d.push(b);
    assert.deepEqual(d.finish(), plain.entries);
  } finally {
    removeDir(root);
  }
});

test('serve --stdio\'s scan thread posts its blocks as it walks, the root\'s entries first: the plain listing, byte for byte', async () => {
  const root = tempDir('liststream-thread');
  try {
    makeWideTree(root);
    const plain = plainScan({ root });
    const top = plainScan({ root, recursive: false });
    const feed = new ListingFeed();
    const r = await scanInThread(root, true, top, undefined, feed).result;
    feed.end(r);
    assert.ok((r.streamed ?? 0) >= 2, `blocks posted during the walk: ${r.streamed}`);
    let skipped = -1;
    const whole = await collect(feed.read((res) => (skipped = res.skipped.length)));
    assert.equal(skipped, 0);
    assert.equal(whole.length, r.streamed! + 1);
    assert.ok(Buffer.concat(whole).equals(Buffer.concat([...encodeListing(plain.entries)])));
  } finally {
    removeDir(root);
  }
});

test('a feed hands on blocks in order, waits for every block its result counts, then the last ones', async () => {
  const feed = new ListingFeed();
  const a = Buffer.from('a');
  const b = Buffer.from('b');
  const c = Buffer.from('c');
  feed.block(a);
  // the result (over another channel) can overtake the blocks it counts: they are waited for
  feed.end(result([c], 2));
  let ended = 0;
  const out = collect(feed.read(() => ended++));
  await new Promise((r) => setImmediate(r));
  assert.equal(ended, 0, 'not whole before the second block');
  feed.block(b);
  assert.deepEqual(await out, [a, b, c]);
  assert.equal(ended, 1);
  assert.equal(await feed.started, true);
});

test('a scan that fails after blocks went out fails the read: a cut listing is never whole', async () => {
  const feed = new ListingFeed();
  feed.block(Buffer.from('a'));
  feed.fail(new Error('EACCES mid-walk'));
  assert.equal(await feed.started, true);
  await assert.rejects(collect(feed.read(() => assert.fail('no end for a failed scan'))), /EACCES mid-walk/);
});

test('a scan that fails before its first block is walked again by the taker (started is false)', async () => {
  const feed = new ListingFeed();
  feed.fail(new Error('thread died'));
  assert.equal(await feed.started, false);
});

test('more blocks than the scan counted are refused, not sent', async () => {
  const feed = new ListingFeed();
  feed.block(Buffer.from('a'));
  feed.block(Buffer.from('b'));
  feed.end(result([], 1));
  await assert.rejects(collect(feed.read(() => undefined)), /more listing blocks/);
});
