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
import { prescanListing, scanInThread, takePrescanListing } from '../../src/engine/localScan.js';
import { ListingEncoder } from '../../src/core/listingEncode.js';
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

test('serve --stdio lists its tree on the main thread, a big tree\'s rest in a thread that goes on with the same encoding: the plain listing for every budget', async () => {
  const root = tempDir('liststream-main');
  try {
    makeWideTree(root);
    const entries = plainScan({ root }).entries;
    const plain = Buffer.concat([...encodeListing(entries)]);
    // 0: all but the root's entries in the thread; 6,000 and up: the whole tree here, no
    // thread (the walk stops between directories: 5,830 listed, the last one's 200 next)
    for (const budget of [0, 1, 200, 2_500, 5_831, 6_000, 50_000]) {
      await prescanListing(root, false, budget);
      const early = takePrescanListing(root);
      assert.ok(early?.feed, `budget ${budget}: no early listing`);
      let skipped = -1;
      const whole = await collect(early.feed.read((res) => (skipped = res.skipped.length)));
      assert.equal(skipped, 0);
      // a block is cut where the main thread stopped: the same records, not the same bytes
      const d = new ListingDecoder();
      for (const b of whole) d.push(b);
      assert.deepEqual(d.finish(), entries, `budget ${budget}`);
      if (budget >= 6_000) assert.ok(Buffer.concat(whole).equals(plain), `budget ${budget}: not the plain listing`);
    }
  } finally {
    removeDir(root);
  }
});

test('an encoder given where another stopped goes on as the one encoder would', () => {
  const root = tempDir('liststream-resume');
  try {
    makeWideTree(root);
    const entries = plainScan({ root }).entries;
    const plain = Buffer.concat([...encodeListing(entries)]);
    for (const cut of [0, 1, 31, 3_000, entries.length]) {
      const first = new ListingEncoder();
      const out: Buffer[] = [];
      for (const e of entries.slice(0, cut)) {
        const b = first.add(e);
        if (b) out.push(b);
      }
      const last = first.end();
      if (last) out.push(last);
      const second = new ListingEncoder(first.resumeAt());
      for (const e of entries.slice(cut)) {
        const b = second.add(e);
        if (b) out.push(b);
      }
      const tail = second.end();
      if (tail) out.push(tail);
      const d = new ListingDecoder();
      for (const b of out) d.push(b);
      assert.deepEqual(d.finish(), entries, `cut at ${cut}`);
      if (cut === 0 || cut === entries.length) assert.ok(Buffer.concat(out).equals(plain));
    }
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
