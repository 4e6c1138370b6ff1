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
  writeFileSync(join(A, 'one-more.txt'), 'x');
  await c.converge();
  await until(async () => ((await c.status('a')).peers[0]!.outboxDepth === 0 ? true : undefined), 'a to drain');
  // give an echo the time it would need to show up: b's watcher has seen the write by now
  // (the file is there), so wait until b's tree is idle: its status reports no pending work
  await until(async () => ((await c.status('b')).trees[0]!.state.endsWith('live') ? true : undefined), 'b live');
  const after = [(await c.status('a')).peers[0]!.recordsSent, (await c.status('b')).peers[0]!.recordsSent];
  // (one write may be seen as create + write: one or two versions)
  assert.ok(after[0]! - before[0]! >= 1, 'a sent its change');
  assert.equal(after[1]! - before[1]!, 0, 'b echoed nothing back');

  for (const n of ['a', 'b']) assert.equal(await c.stop(n), 0, c.procs.get(n)!.stderr());
});
