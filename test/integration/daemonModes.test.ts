// Tree modes with real daemons on 127.0.0.1 (docs/daemon.md "Tree modes"): a send-only
// master publishes to two receive-only mirrors; a mirror's local edits stay there (listed,
// not sent) until `omirr revert` restores the master's content; a send-receive writer's
// change pushed at the master is neither applied there nor relayed, and is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, omirrBin, until } from '../helpers/daemonFixtures.js';
import { scrape, startInspected } from '../helpers/inspectorDaemons.js';
import { formatStatus } from '../../src/daemon/status.js';

const read = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);

test('send-only master, receive-only mirrors: publish, local edits kept and reported, revert, a pushed change ignored by the master', async (t) => {
  const c = await Cluster.create(['master', 'm1', 'm2', 'w'], {
    links: [['master', 'm1'], ['master', 'm2'], ['m1', 'm2'], ['master', 'w']],
    treeFlags: { master: 'send-only', m1: 'receive-only', m2: 'ro' },
  });
  t.after(() => c.close());
  const runtimeDir = mkdtempSync(join(tmpdir(), 'omirr-modes-rt-'));
  t.after(() => rmSync(runtimeDir, { recursive: true, force: true }));
  const [M, A, B, W] = ['master', 'm1', 'm2', 'w'].map((n) => c.tree(n)) as [string, string, string, string];
  writeFileSync(join(M, 'a.txt'), 'v1\n');
  // master and m1 with the inspector, for their /metrics
  let [im, i1] = await Promise.all([startInspected(c, 'master', runtimeDir), startInspected(c, 'm1', runtimeDir), c.start('m2'), c.start('w')]);
  await c.waitLive();
  writeFileSync(join(M, 'b.txt'), 'b from the master\n');
  // the master's changes reach both mirrors (and the writer)
  await c.converge(['master', 'm1', 'm2', 'w']);
  assert.equal(read(join(A, 'a.txt')), 'v1\n');
  assert.equal(read(join(B, 'b.txt')), 'b from the master\n');
  assert.equal((await c.status('m2')).trees[0]!.mode, 'receive-only', "'ro' is receive-only");

  // local edits on the mirrors: an edit and an addition on m1, a delete on m2
  // m1 relays what it received from the master to m2: let that finish before counting
  const settled = await until(async () => {
    const s = await c.status('m1');
    return s.peers.every((p) => p.outboxDepth === 0) ? s : undefined;
  }, "m1's relays to drain");
  const sentBefore = settled.peers.reduce((n, p) => n + p.recordsSent, 0);
  writeFileSync(join(A, 'a.txt'), 'edited on the mirror\n');
  writeFileSync(join(A, 'extra.txt'), 'added on the mirror\n');
  mkdirSync(join(A, 'newdir'));
  writeFileSync(join(A, 'newdir/inside.txt'), 'added in a new directory\n');
  rmSync(join(B, 'b.txt'));
  const s1 = await until(async () => {
    const s = await c.status('m1');
    return s.trees[0]!.locallyChanged === 4 ? s : undefined;
  }, 'm1 to list its 4 local changes');
  const s2 = await until(async () => {
    const s = await c.status('m2');
    return s.trees[0]!.locallyChanged === 1 ? s : undefined;
  }, 'm2 to list its local delete');
  assert.deepEqual(
    s1.trees[0]!.locallyChangedItems!.map((i) => [i.path, i.change]).sort(),
    [['a.txt', 'changed'], ['extra.txt', 'added'], ['newdir', 'added'], ['newdir/inside.txt', 'added']],
  );
  assert.deepEqual(s2.trees[0]!.locallyChangedItems!.map((i) => [i.path, i.change]), [['b.txt', 'deleted']]);
  assert.equal((await scrape(i1.url)).get('omirr_locally_changed{tree="data"}'), 4);
  assert.match(formatStatus(s1), /tree data: locally changed: 4 \(receive-only, not sent; undo: omirr revert data/);
  // not sent: nothing went into m1's outboxes, and nobody else has the edits
  assert.equal(s1.peers.reduce((n, p) => n + p.recordsSent + p.outboxDepth, 0), sentBefore);
  assert.equal(read(join(M, 'a.txt')), 'v1\n');
  assert.equal(read(join(B, 'a.txt')), 'v1\n');
  assert.equal(read(join(M, 'extra.txt')), undefined);
  assert.equal(read(join(A, 'b.txt')), 'b from the master\n');

  // the list survives a restart of the mirror, and the restart sends nothing either
  assert.equal(await c.stop('m1'), 0);
  i1 = await startInspected(c, 'm1', runtimeDir);
  await c.waitLive(['m1']);
  const again = await until(async () => {
    const s = await c.status('m1');
    return s.trees[0]!.state.endsWith('live') ? s : undefined;
  }, 'm1 to be watching again');
  assert.equal(again.trees[0]!.locallyChanged, 4);
  assert.equal(again.peers.reduce((n, p) => n + p.recordsSent + p.outboxDepth, 0), 0);
  assert.equal(read(join(M, 'a.txt')), 'v1\n');
  void i1;

  // omirr revert (the CLI, through the control socket): the master's content comes back
  for (const [n, tree] of [['m1', A], ['m2', B]] as const) {
    const r = spawnSync(process.execPath, [omirrBin, 'revert', 'data', '-c', c.nodes.get(n)!.conf], { env: { ...process.env, OMIRR_STATE_DIR: c.nodes.get(n)!.state }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /tree data: /);
    void tree;
  }
  await until(async () => (read(join(A, 'a.txt')) === 'v1\n' && read(join(A, 'extra.txt')) === undefined && !existsSync(join(A, 'newdir')) && read(join(B, 'b.txt')) === 'b from the master\n' ? true : undefined), 'the mirrors to be reverted');
  await until(async () => ((await c.status('m1')).trees[0]!.locallyChanged === 0 && (await c.status('m2')).trees[0]!.locallyChanged === 0 ? true : undefined), 'nothing listed as locally changed');
  // revert on a tree that is not receive-only is refused, loudly
  const bad = spawnSync(process.execPath, [omirrBin, 'revert', 'data', '-c', c.nodes.get('master')!.conf], { env: { ...process.env, OMIRR_STATE_DIR: c.nodes.get('master')!.state }, encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /send-only/);

  // a mirror edits a file the master then changes: the master's version wins, the local
  // edit is kept beside it as a conflict copy (a local addition, not sent)
  writeFileSync(join(A, 'a.txt'), 'edited again on the mirror\n');
  await until(async () => ((await c.status('m1')).trees[0]!.locallyChanged === 1 ? true : undefined), 'm1 to list the edit');
  writeFileSync(join(M, 'a.txt'), 'v2\n');
  await until(async () => (read(join(A, 'a.txt')) === 'v2\n' && read(join(B, 'a.txt')) === 'v2\n' ? true : undefined), 'the master’s v2 on both mirrors');
  const copy = readdirSync(A).find((f) => f.includes('omirr-conflict'));
  assert.ok(copy, `a conflict copy on m1: ${readdirSync(A).join(' ')}`);
  assert.equal(read(join(A, copy)), 'edited again on the mirror\n');
  const s1b = await until(async () => {
    const s = await c.status('m1');
    return s.trees[0]!.locallyChangedItems!.some((i) => i.path === copy && i.change === 'added') ? s : undefined;
  }, 'the conflict copy listed as a local addition');
  assert.ok(!s1b.trees[0]!.locallyChangedItems!.some((i) => i.path === 'a.txt'));
  assert.equal(read(join(M, copy)), undefined, 'the copy is not sent');

  // a change pushed at the send-only master (by the send-receive writer): not applied, not relayed, reported
  writeFileSync(join(W, 'a.txt'), 'pushed by the writer\n');
  writeFileSync(join(W, 'new.txt'), 'new from the writer\n');
  const sm = await until(async () => {
    const s = await c.status('master');
    return s.trees[0]!.ignoredRemote === 2 ? s : undefined;
  }, 'the master to report 2 ignored remote changes');
  assert.deepEqual(sm.trees[0]!.ignoredRemoteItems!.map((i) => [i.path, i.peer, i.change]).sort(), [['a.txt', 'w', 'file'], ['new.txt', 'w', 'file']]);
  assert.match(formatStatus(sm), /tree data: remote changes ignored: 2/);
  assert.equal((await scrape(im.url)).get('omirr_ignored_remote_changes{tree="data"}'), 2);
  assert.equal(read(join(M, 'a.txt')), 'v2\n');
  assert.equal(read(join(M, 'new.txt')), undefined);
  assert.equal(read(join(A, 'new.txt')), undefined, 'not relayed to the mirrors');
  assert.match(c.procs.get('master')!.stderr(), /a peer changed a send-only tree/);
  // the master's next change of the path wins again and clears it from the list
  writeFileSync(join(M, 'a.txt'), 'v3\n');
  await until(async () => (read(join(W, 'a.txt')) === 'v3\n' && read(join(A, 'a.txt')) === 'v3\n' ? true : undefined), 'v3 everywhere');
  // (the writer keeps its losing edit as a conflict copy, a new file it sends: ignored in turn)
  const end = await until(async () => {
    const s = await c.status('master');
    return s.trees[0]!.ignoredRemoteItems!.some((i) => i.path === 'a.txt') ? undefined : s;
  }, 'a.txt no longer listed as ignored');
  assert.ok(end.trees[0]!.ignoredRemoteItems!.some((i) => i.path === 'new.txt'));
  assert.equal(read(join(M, 'a.txt')), 'v3\n');
});

test('a chain master -> mirror -> mirror: the middle mirror relays what it received, never its own changes', async (t) => {
  const c = await Cluster.create(['master', 'm1', 'm2'], {
    links: [['master', 'm1'], ['m1', 'm2']],
    treeFlags: { master: 'send-only', m1: 'receive-only', m2: 'receive-only' },
  });
  t.after(() => c.close());
  const [M, A, B] = ['master', 'm1', 'm2'].map((n) => c.tree(n)) as [string, string, string];
  await c.startAll();
  await c.waitLive();
  writeFileSync(join(M, 'pub.txt'), 'published\n');
  await until(async () => (read(join(B, 'pub.txt')) === 'published\n' ? true : undefined), 'the master’s file at the end of the chain');
  writeFileSync(join(A, 'mine.txt'), 'the middle mirror’s own\n');
  await until(async () => ((await c.status('m1')).trees[0]!.locallyChanged === 1 ? true : undefined), 'm1 to list its addition');
  // the next published file passes m1 after its local one: had m1 sent it, it would be at m2 first
  writeFileSync(join(M, 'next.txt'), 'next\n');
  await until(async () => (read(join(B, 'next.txt')) === 'next\n' ? true : undefined), 'the next file at the end of the chain');
  assert.equal(read(join(B, 'mine.txt')), undefined);
  assert.equal(read(join(M, 'mine.txt')), undefined);
  assert.equal((await c.status('m2')).trees[0]!.locallyChanged, 0);
});
