import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Outbox } from '../../src/actors/outbox.js';

interface Change {
  path: string;
  n: number;
  pad?: string;
}

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-outbox-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(box: Outbox<Change>, after = 0): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const recs = await box.read(after, 100);
    if (recs.length === 0) return seqs;
    for (const r of recs) seqs.push(r.seq);
    after = recs[recs.length - 1]!.seq;
  }
}

test('append, read, ack; replay from the acked cursor after reopen', async (t) => {
  const dir = tmpdir(t);
  let clock = 1000;
  const box = await Outbox.open<Change>({ dir, now: () => clock });
  const seqs = await Promise.all([1, 2, 3, 4, 5].map((n) => box.append({ path: `f${n}`, n })));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(box.depth, 5);
  const recs = await box.read(0, 3);
  assert.deepEqual(
    recs.map((r) => [r.seq, r.change.path, r.at]),
    [
      [1, 'f1', 1000],
      [2, 'f2', 1000],
      [3, 'f3', 1000],
    ],
  );
  assert.deepEqual((await box.read(3, 10)).map((r) => r.seq), [4, 5], 'sequential read continues');
  assert.deepEqual((await box.read(1, 2)).map((r) => r.seq), [2, 3], 'random read');
  box.ack(2);
  assert.equal(box.ackedSeq, 2);
  assert.equal(box.depth, 3);
  clock = 2000;
  await box.append({ path: 'f6', n: 6 });
  assert.deepEqual(await readAll(box), [3, 4, 5, 6], 'reads never return acknowledged records');
  await box.close();

  // Restart of this side: the cursor and the records are back.
  const again = await Outbox.open<Change>({ dir });
  assert.equal(again.headSeq, 6);
  assert.equal(again.ackedSeq, 2);
  assert.equal(again.stats().oldestPendingAt, 1000);
  assert.deepEqual(await readAll(again), [3, 4, 5, 6]);
  // The peer restarted and lost what it had not acknowledged: it reads from the cursor again.
  assert.deepEqual(await readAll(again, 2), [3, 4, 5, 6]);
  again.ack(6);
  assert.equal(again.depth, 0);
  assert.equal(again.stats().oldestPendingAt, null);
  assert.equal(await again.append({ path: 'f7', n: 7 }), 7, 'sequence numbers never restart');
  await again.close();
  const third = await Outbox.open<Change>({ dir });
  assert.equal(third.ackedSeq, 6);
  assert.deepEqual(await readAll(third), [7]);
  await third.close();
});

test('a crash mid-append leaves a readable log: the torn record is dropped', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir });
  for (let n = 1; n <= 10; n++) await box.append({ path: `f${n}`, n });
  box.ack(4);
  await box.close();
  const seg = fs.readdirSync(dir).find((f) => f.endsWith('.log'))!;
  const file = path.join(dir, seg);
  const good = fs.readFileSync(file);
  // A torn write: half a line with no newline...
  fs.appendFileSync(file, '11\tdeadbeef\t{"at":1,"change":{"pa');
  let re = await Outbox.open<Change>({ dir });
  assert.equal(re.headSeq, 10);
  assert.deepEqual(await readAll(re), [5, 6, 7, 8, 9, 10]);
  assert.equal(fs.readFileSync(file).length, good.length, 'truncated back to the last good record');
  assert.equal(await re.append({ path: 'f11', n: 11 }), 11);
  await re.close();
  // ...and a complete line whose bytes are corrupt (crc mismatch), followed by garbage.
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace('"f11"', '"fXX"') + '\0\0\0\0\n');
  re = await Outbox.open<Change>({ dir });
  assert.equal(re.headSeq, 10);
  assert.deepEqual(await readAll(re), [5, 6, 7, 8, 9, 10]);
  await re.close();
});

test('compaction deletes acknowledged segments; a drained outbox shrinks to one small file', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir, segmentBytes: 2048, ackPersistMs: 1 });
  const pad = 'x'.repeat(100);
  await Promise.all(Array.from({ length: 200 }, (_, i) => box.append({ path: `f${i}`, n: i, pad })));
  // Batched appends roll only between batches; push more in small batches to get segments.
  for (let i = 200; i < 400; i++) await box.append({ path: `f${i}`, n: i, pad });
  const segsBefore = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length;
  assert.ok(segsBefore > 10, `expected many segments, got ${segsBefore}`);
  assert.equal((await readAll(box)).length, 400);
  box.ack(250);
  await box.sync();
  const mid = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length;
  assert.ok(mid < segsBefore, 'acknowledged segments deleted');
  assert.deepEqual((await box.read(0, 1)).map((r) => r.seq), [251]);
  box.ack(400);
  await box.sync();
  const after = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
  assert.equal(after.length, 1);
  assert.ok(fs.statSync(path.join(dir, after[0]!)).size < 2048);
  await box.close();
  const re = await Outbox.open<Change>({ dir });
  assert.equal(re.headSeq, 400);
  assert.equal(re.depth, 0);
  assert.equal(await re.append({ path: 'next', n: 401 }), 401);
  await re.close();
});

test('100,000 records: memory stays bounded while a peer is away, then it catches up', async (t) => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir, fsync: 'never' });
  const pad = 'p'.repeat(400);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const N = 100_000;
  for (let i = 0; i < N; i += 1000) {
    const batch: Promise<number>[] = [];
    for (let j = i; j < i + 1000; j++) batch.push(box.append({ path: `dir/file-${j}`, n: j, pad }));
    await Promise.all(batch);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - heap0;
  const onDisk = box.stats().bytesOnDisk;
  assert.ok(onDisk > 40e6, `~45 MB of records on disk (${onDisk})`);
  assert.ok(grown < 8e6, `heap grew ${(grown / 1e6).toFixed(1)} MB for ${(onDisk / 1e6).toFixed(0)} MB of records`);
  assert.equal(box.depth, N);

  // The peer returns: it reads and acknowledges in windows.
  let after = 0;
  let count = 0;
  for (;;) {
    const recs = await box.read(after, 1000);
    if (recs.length === 0) break;
    for (const r of recs) assert.equal(r.change.n, r.seq - 1);
    count += recs.length;
    after = recs[recs.length - 1]!.seq;
    box.ack(after);
  }
  assert.equal(count, N);
  await box.sync();
  assert.equal(box.stats().segments, 1);
  gc();
  assert.ok(process.memoryUsage().heapUsed - heap0 < 8e6);
  await box.close();
});

test('a reader behind the tail kept in memory reads the segments, then the memory, in order and intact', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir });
  const n = 5000; // more than the 4096 records kept in memory
  await Promise.all(Array.from({ length: n }, (_, i) => box.append({ path: `f${i + 1}`, n: i + 1 })));
  const got: Change[] = [];
  let after = 0;
  for (;;) {
    const recs = await box.read(after, 700);
    if (recs.length === 0) break;
    for (const r of recs) {
      assert.equal(r.seq, after + 1, 'consecutive');
      got.push(r.change);
      after = r.seq;
    }
  }
  assert.equal(got.length, n);
  assert.deepEqual(got[0], { path: 'f1', n: 1 });
  assert.deepEqual(got[n - 1], { path: `f${n}`, n });
  // acknowledged records are neither in memory nor read again; a new append is read at once
  box.ack(4990);
  const seq = await box.append({ path: 'late', n: 0 });
  assert.deepEqual(
    (await box.read(0, 100)).map((r) => r.seq),
    [...Array.from({ length: 10 }, (_, i) => 4991 + i), seq],
  );
  await box.close();
  // and the same records from disk after a reopen
  const again = await Outbox.open<Change>({ dir });
  t.after(() => again.close());
  assert.deepEqual(await readAll(again, 4995), [4996, 4997, 4998, 4999, 5000, seq]);
});

test('the appends of one tick are written together: the first append event finds them all', async (t) => {
  const box = await Outbox.open<Change>({ dir: tmpdir(t) });
  t.after(() => box.close());
  const first = new Promise<number>((resolve) => box.once('append', resolve));
  const done = Array.from({ length: 300 }, (_, i) => box.append({ path: `moved/f${i}`, n: i }));
  assert.equal(await first, 300, 'one write for the whole tick');
  assert.equal((await box.read(0, 1000)).length, 300);
  await Promise.all(done);
});

test('one change appended to several outboxes in a turn is encoded once; changed and appended again later, it is encoded afresh', async (t) => {
  const dir = tmpdir(t);
  let clock = 1_000;
  const boxes = await Promise.all(['p1', 'p2', 'p3'].map((p) => Outbox.open<Change>({ dir: path.join(dir, p), fsync: 'never', now: () => clock })));
  t.after(() => Promise.all(boxes.map((b) => b.close())));
  const c: Change = { path: 'f', n: 1 };
  await Promise.all(boxes.map((b) => b.append(c)));
  // the same object, the next turn: its new content must be what is written
  c.n = 2;
  await Promise.all(boxes.map((b) => b.append(c)));
  // the same object in one turn, but a different clock reading for the last outbox
  c.n = 3;
  const jobs = [boxes[0]!.append(c), boxes[1]!.append(c)];
  clock = 2_000;
  jobs.push(boxes[2]!.append(c));
  await Promise.all(jobs);
  for (const [i, b] of boxes.entries()) {
    await b.close();
    const again = await Outbox.open<Change>({ dir: path.join(dir, `p${i + 1}`), fsync: 'never' });
    const recs = await again.read(0, 10);
    assert.deepEqual(
      recs.map((r) => [r.seq, r.at, r.change.n]),
      [
        [1, 1_000, 1],
        [2, 1_000, 2],
        [3, i === 2 ? 2_000 : 1_000, 3],
      ],
      `outbox p${i + 1}, read back from disk`,
    );
    await again.close();
  }
});

test('changeJson: the line on disk takes the caller\'s JSON of the change (encoded once for the disk and the deliveries), and reads back as the change', async (t) => {
  const dir = tmpdir(t);
  const given = new WeakMap<Change, string>();
  let asked = 0;
  // the same value as JSON.stringify gives, in another key order: only the given text writes it so
  const json = (c: Change): string => {
    asked++;
    let j = given.get(c);
    if (j === undefined) given.set(c, (j = `{"n":${c.n},"path":${JSON.stringify(c.path)}}`));
    return j;
  };
  const box = await Outbox.open<Change>({ dir, now: () => 5, changeJson: json });
  const changes: Change[] = [1, 2, 3].map((n) => ({ path: `f${n}`, n }));
  await Promise.all(changes.map((c) => box.append(c)));
  assert.equal(asked, 3);
  await box.close();
  const text = fs.readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
  for (const c of changes) assert.ok(text.includes(`"change":{"n":${c.n},"path":"${c.path}"}`), `line of ${c.path} in the given text: ${text}`);
  const again = await Outbox.open<Change>({ dir });
  assert.deepEqual((await again.read(0, 10)).map((r) => r.change), changes, 'the crc and the JSON read back');
  await again.close();
});
