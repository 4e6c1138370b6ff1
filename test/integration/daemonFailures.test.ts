// Issue 9, item 5: a record that cannot be applied on a receiver (a directory made
// immutable, or read-only for a non-root user) becomes an out-of-sync item with its error:
// it does not hold up the other records or the link, `omirr status` shows it, and once the
// cause is gone it is applied by the retry (no restart, no new change on the sender).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import { Cluster, until } from '../helpers/daemonFixtures.js';

const root = process.getuid?.() === 0;

/** Makes `dir` refuse new entries: chattr +i as root (root ignores modes), mode 0555 otherwise. */
function lock(dir: string, on: boolean): void {
  if (root) {
    const r = spawnSync('chattr', [on ? '+i' : '-i', dir]);
    if (r.status !== 0) throw new Error(`chattr: ${r.stderr}`);
  } else chmodSync(dir, on ? 0o555 : 0o755);
}

function canLock(): boolean {
  if (!root) return true;
  const r = spawnSync('chattr', ['--help']);
  return r.error === undefined;
}

/** Live daemons `names`, converged with a directory `locked` in every tree (b's is locked by the test; unlocked at the end). */
async function lockedCluster(t: TestContext, names: string[]): Promise<{ c: Cluster; A: string; B: string }> {
  const c = await Cluster.create(names);
  t.after(async () => {
    try {
      lock(join(c.tree('b'), 'locked'), false);
    } catch {
      /* already unlocked */
    }
    await c.close();
  });
  mkdirSync(join(c.tree('a'), 'locked'));
  await c.startAll();
  await c.waitLive();
  await c.converge();
  return { c, A: c.tree('a'), B: c.tree('b') };
}

test('a record that cannot be applied is out of sync (status), blocks nothing, and is applied once it can be', { skip: !canLock() && 'no chattr' }, async (t) => {
  const { c, A, B } = await lockedCluster(t, ['a', 'b']);
  lock(join(B, 'locked'), true);
  writeFileSync(join(A, 'locked', 'x.txt'), 'cannot land yet\n');
  writeFileSync(join(A, 'other.txt'), 'lands at once\n');
  // the other file arrives; the link is not held up
  await until(async () => (existsSync(join(B, 'other.txt')) ? true : undefined), 'other.txt on b');
  const st = await until(async () => {
    const s = await c.status('b');
    return s.trees[0]!.outOfSync === 1 ? s : undefined;
  }, 'b to show one out-of-sync item');
  const item = st.trees[0]!.outOfSyncItems![0]!;
  assert.equal(item.path, 'locked/x.txt');
  assert.equal(item.peer, 'a');
  assert.match(item.reason, /^(EPERM|EACCES)$/);
  assert.ok(st.peers.every((p) => p.state === 'live'), 'the link stays live');
  // a later change still flows
  writeFileSync(join(A, 'later.txt'), 'after the failure\n');
  await until(async () => (existsSync(join(B, 'later.txt')) ? true : undefined), 'later.txt on b');

  // the cause goes away: a rescan retries at once (the backoff timer would too)
  lock(join(B, 'locked'), false);
  await controlRequest(controlSocketPath(c.nodes.get('b')!.state), 'rescan', { tree: 'data' });
  await until(async () => (existsSync(join(B, 'locked', 'x.txt')) ? true : undefined), 'locked/x.txt on b after the retry', 20_000);
  assert.equal(readFileSync(join(B, 'locked', 'x.txt'), 'utf8'), 'cannot land yet\n');
  await until(async () => ((await c.status('b')).trees[0]!.outOfSync === 0 ? true : undefined), 'no out-of-sync item left');
  await c.converge();
});

// The retry does not need the sender: with the peer that sent the failed record gone, the
// content comes from another peer that has it (hash-verified). Before, the retry fetched
// only over the sender's last connection, and the item stayed out of sync until the sender
// came back.
test('a failed item is applied from another peer when its sender is gone', { skip: !canLock() && 'no chattr' }, async (t) => {
  const { c, A, B } = await lockedCluster(t, ['a', 'b', 'c']);
  const toB = async (node: string) => (await c.status(node)).peers.find((p) => p.name === 'b')!;
  const relayedBefore = (await toB('c')).recordsSent;
  lock(join(B, 'locked'), true);
  // larger than an inline content: it must be fetched
  const big = 'x'.repeat(256 * 1024) + '\n';
  writeFileSync(join(A, 'locked', 'x.txt'), big);
  await until(async () => (existsSync(join(c.tree('c'), 'locked', 'x.txt')) ? true : undefined), 'x.txt on c');
  // b has had the record from both a and c (c relays it): each batch acknowledged (failed)
  await until(async () => {
    const [fromA, fromC] = [await toB('a'), await toB('c')];
    return fromA.outboxDepth === 0 && fromC.outboxDepth === 0 && fromC.recordsSent > relayedBefore ? true : undefined;
  }, 'a and c to have delivered x.txt to b');
  const st = await until(async () => {
    const s = await c.status('b');
    return s.trees[0]!.outOfSync === 1 ? s : undefined;
  }, 'b to show one out-of-sync item');
  const sender = st.trees[0]!.outOfSyncItems![0]!.peer;
  assert.ok(sender === 'a' || sender === 'c', sender);
  await c.stop(sender);
  lock(join(B, 'locked'), false);
  await controlRequest(controlSocketPath(c.nodes.get('b')!.state), 'rescan', { tree: 'data' });
  await until(async () => (existsSync(join(B, 'locked', 'x.txt')) ? true : undefined), `locked/x.txt on b from the peer that is not ${sender}`, 30_000);
  assert.equal(readFileSync(join(B, 'locked', 'x.txt'), 'utf8'), big);
  await until(async () => ((await c.status('b')).trees[0]!.outOfSync === 0 ? true : undefined), 'no out-of-sync item left');
});
