// A peer's batch that comes while the receiving tree's index still loads (a restart: the
// peers dial in at once) waits for the load instead of being refused. A refusal ended the
// sender's connection and sent its link into its whole backoff, and nothing woke it again
// (the receiver had already connected to it): daemonReconnect timed out on it at load 20.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireChange } from '../../src/core/wireChange.js';
import type { ContentFetcher } from '../../src/daemon/peerProtocol.js';
import { TreeReplica } from '../../src/daemon/treeReplica.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

const dir = tempDir('batch-before-load');
after(async () => {
  await closePools();
  removeDir(dir);
});

/** A directory and a symlink as node a's replica sends them (nothing to fetch). */
async function changesFromA(name: string): Promise<WireChange[]> {
  const root = join(dir, `${name}-a`);
  mkdirSync(join(root, 'sub'), { recursive: true });
  symlinkSync('sub', join(root, 'link'));
  const sent: WireChange[] = [];
  const a = new TreeReplica({ name: 'data', root, node: 'a', stateDir: join(dir, `${name}-state-a`), send: async (changes) => void sent.push(...changes) });
  await a.load();
  await a.scan();
  await a.idle();
  await a.close();
  assert.deepEqual(sent.map((c) => c.rec.entry.path).sort(), ['link', 'sub']);
  return sent;
}

const noFetch = (() => {
  throw new Error('nothing here is fetched');
}) as unknown as ContentFetcher;

test("a batch that comes before the index is loaded waits for it, then is applied", async () => {
  const changes = await changesFromA('waits');
  const root = join(dir, 'waits-b');
  mkdirSync(root);
  const b = new TreeReplica({ name: 'data', root, node: 'b', stateDir: join(dir, 'waits-state-b'), send: async () => undefined });
  let settled: string | undefined;
  const applied = b.applyRemote('a', changes, noFetch).then(
    () => (settled = 'applied'),
    (err: Error) => (settled = `refused: ${err.message}`),
  );
  // a turn for a refusal to show (before the fix: "tree data is not loaded yet")
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, undefined, 'neither refused nor applied before the load');
  await b.load();
  await applied;
  assert.equal(settled, 'applied');
  assert.ok(lstatSync(join(root, 'sub')).isDirectory());
  assert.equal(readlinkSync(join(root, 'link')), 'sub');
  await b.close();
});

test('a batch waiting for the load is refused at once when the tree stops (the stop is not held up)', async () => {
  const changes = await changesFromA('stops');
  const root = join(dir, 'stops-b');
  mkdirSync(root);
  const b = new TreeReplica({ name: 'data', root, node: 'b', stateDir: join(dir, 'stops-state-b'), send: async () => undefined });
  const applied = b.applyRemote('a', changes, noFetch);
  const t0 = Date.now();
  await b.close();
  await assert.rejects(applied, /stopping/);
  assert.ok(Date.now() - t0 < 10_000, 'not held for the load wait');
});

test('a batch waiting for a load that fails is refused at once, not after the wait', async () => {
  const changes = await changesFromA('fails');
  // an index with files and no root (a missing mount): the load fails, as it must
  const root = join(dir, 'fails-b');
  const stateDir = join(dir, 'fails-state-b');
  mkdirSync(root);
  writeFileSync(join(root, 'kept'), 'kept\n');
  const first = new TreeReplica({ name: 'data', root, node: 'b', stateDir, send: async () => undefined });
  await first.load();
  await first.scan();
  await first.close();
  renameSync(root, `${root}.away`);
  const b = new TreeReplica({ name: 'data', root, node: 'b', stateDir, send: async () => undefined });
  const applied = b.applyRemote('a', changes, noFetch);
  const t0 = Date.now();
  await assert.rejects(b.load(), /directory is missing/);
  await assert.rejects(applied, /not loaded yet/);
  assert.ok(Date.now() - t0 < 10_000, 'refused when the load failed, not at the end of the wait');
  await b.close();
});
