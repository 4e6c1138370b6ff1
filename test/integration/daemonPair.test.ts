// Two real daemons on 127.0.0.1: every kind of change on one appears on the other
// (files, contents, modes, mtimes, empty directories, symlinks, deletes, renames), and a
// change applied from the peer is not echoed back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

test('two daemons converge on create, modify, mode, mtime, mkdir, symlink, delete and rename, without echo', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  // something present before the start: the initial scans send it
  writeFileSync(join(c.tree('a'), 'before.txt'), 'was here first\n');
  await c.startAll();
  await c.waitLive();
  await c.converge();

  const A = c.tree('a');
  const B = c.tree('b');
  writeFileSync(join(A, 'hello.txt'), 'hello\n');
  mkdirSync(join(A, 'empty'));
  mkdirSync(join(A, 'sub/deeper'), { recursive: true });
  writeFileSync(join(A, 'sub/deeper/x.bin'), Buffer.alloc(300_000, 7));
  symlinkSync('hello.txt', join(A, 'link'));
  let snap = await c.converge();
  assert.equal(snap['empty'], 'dir:755');
  assert.match(snap['link']!, /^link:hello.txt$/);

  // the other way, and attributes only
  writeFileSync(join(B, 'hello.txt'), 'hello again\n');
  chmodSync(join(B, 'sub/deeper/x.bin'), 0o600);
  utimesSync(join(B, 'before.txt'), new Date(), new Date('2020-01-02T03:04:05.678Z'));
  chmodSync(join(B, 'empty'), 0o700);
  snap = await c.converge();
  assert.match(snap['sub/deeper/x.bin']!, /:600:/);
  assert.match(snap['before.txt']!, new RegExp(`:${Date.parse('2020-01-02T03:04:05.678Z')}$`));
  assert.equal(snap['empty'], 'dir:700');

  // deletes and renames
  renameSync(join(A, 'sub/deeper/x.bin'), join(A, 'moved.bin'));
  unlinkSync(join(A, 'link'));
  rmSync(join(A, 'empty'), { recursive: true });
  snap = await c.converge();
  assert.equal(snap['sub/deeper/x.bin'], undefined);
  assert.ok(snap['moved.bin']);
  assert.equal(snap['link'], undefined);
  assert.equal(snap['empty'], undefined);

  // no echo: once quiet, each side sent only its own changes and every outbox is drained
  await until(async () => {
    const [sa, sb] = [await c.status('a'), await c.status('b')];
    return sa.peers[0]!.outboxDepth === 0 && sb.peers[0]!.outboxDepth === 0 ? true : undefined;
  }, 'outboxes to drain');
  const before = [(await c.status('a')).peers[0]!.recordsSent, (await c.status('b')).peers[0]!.recordsSent];
  // The file appears complete in one step (written beside the tree, renamed in): a plain
  // write is create + write, which the watcher may see as one change or as two (an empty
  // file, then its content), depending on when inotify is read; that is one or two versions.
  writeFileSync(join(c.dir, 'one-more.tmp'), 'x');
  renameSync(join(c.dir, 'one-more.tmp'), join(A, 'one-more.txt'));
  await c.converge();
  await until(async () => ((await c.status('a')).peers[0]!.outboxDepth === 0 ? true : undefined), 'a to drain');
  // give an echo the time it would need to show up: b's watcher has seen the write by now
  // (the file is there), so wait until b's tree is idle: its status reports no pending work
  await until(async () => ((await c.status('b')).trees[0]!.state.endsWith('live') ? true : undefined), 'b live');
  const after = [(await c.status('a')).peers[0]!.recordsSent, (await c.status('b')).peers[0]!.recordsSent];
  assert.equal(after[0]! - before[0]!, 1, 'a sent its change, once');
  assert.equal(after[1]! - before[1]!, 0, 'b echoed nothing back');

  for (const n of ['a', 'b']) assert.equal(await c.stop(n), 0, c.procs.get(n)!.stderr());
});

test('a renamed directory of 200 files reaches the peer as one move: nothing fetched', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  const A = c.tree('a');
  mkdirSync(join(A, 'photos/2024'), { recursive: true });
  for (let i = 0; i < 200; i++) writeFileSync(join(A, `photos/2024/img-${i}.jpg`), `picture ${i}\n`.repeat(1 + (i % 7)));
  await c.startAll();
  await c.waitLive();
  await c.converge();
  const stats = async (n: string) => (await c.status(n)).trees[0]!.stats!;
  const b0 = await stats('b');
  assert.ok(b0.fetches >= 1, 'the initial copy was fetched');

  renameSync(join(A, 'photos'), join(A, 'albums'));
  const snap = await c.converge();
  assert.ok(snap['albums/2024/img-199.jpg']);
  assert.equal(snap['photos'], undefined);
  const b1 = await stats('b');
  assert.equal(b1.dirsMoved - b0.dirsMoved, 1, 'b renamed the directory in one step');
  assert.equal(b1.fetches - b0.fetches, 0, 'b fetched nothing');
  assert.equal(b1.filesReceived - b0.filesReceived, 0);
  assert.equal(b1.filesRenamed - b0.filesRenamed, 200);
  // and b's watcher took the rename for what it was: nothing echoed back to a
  await until(async () => ((await c.status('b')).trees[0]!.state.endsWith('live') && (await c.status('a')).peers[0]!.outboxDepth === 0 ? true : undefined), 'quiet');
  assert.equal((await stats('a')).remoteApplied, 0, 'a applied nothing from b');
  for (const n of ['a', 'b']) assert.equal(await c.stop(n), 0, c.procs.get(n)!.stderr());
});
