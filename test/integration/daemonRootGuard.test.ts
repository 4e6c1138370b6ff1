// A tree whose file system goes missing (an unmount under the running daemon; a start with
// the mount not there) must not be taken as the user deleting every file: that would send a
// delete of everything to every peer (src/replica/rootGuard.ts). Real daemons, the tree of
// `a` a tmpfs mounted on its path (mount, umount: the test runs as root, as CI does; a
// tmpfs keeps nothing once unmounted, so "mounted again" is a new tmpfs given the same
// files back with cp -a, on a new device number): with the mount gone, `a`'s tree stops
// (failed, the reason in `omirr status`) having made no local change, `b` keeps every file,
// and `b`'s new file waits in its outbox rather than being written into the bare mount
// point; mounted again and `omirr rescan`, both converge.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import { Cluster, snapshot, until } from '../helpers/daemonFixtures.js';

let c: Cluster;
let backup: string;

/** A fresh tmpfs on a's tree, holding what `backup` holds (times and modes kept). */
function mountTree(): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', c.tree('a')], { stdio: 'pipe' });
  execFileSync('cp', ['-a', `${backup}/.`, c.tree('a')], { stdio: 'pipe' });
}

/** Keeps a copy of the tree's files, then unmounts it (what is left is the bare mount point). */
function unmountTree(): void {
  execFileSync('rm', ['-rf', backup]);
  execFileSync('cp', ['-a', c.tree('a'), backup], { stdio: 'pipe' });
  execFileSync('umount', [c.tree('a')], { stdio: 'pipe' });
}

async function treeOf(name: string) {
  return (await c.status(name)).trees.find((t) => t.name === 'data')!;
}

const rescanA = () => controlRequest(controlSocketPath(c.nodes.get('a')!.state), 'rescan', { tree: 'data' }, { timeoutMs: 3000 });

before(async () => {
  c = await Cluster.create(['a', 'b']);
  backup = join(c.dir, 'a-backup');
  mkdirSync(backup);
  for (let i = 0; i < 20; i++) writeFileSync(join(backup, `f${i}.txt`), `file ${i}\n`);
  mountTree();
});

after(async () => {
  await c?.close().catch(() => undefined);
});

test('a tree whose mount goes away (running, then at start) stops instead of deleting everything on its peers', async () => {
  await c.startAll();
  await c.waitLive();
  const want = await c.converge();
  assert.equal(Object.keys(want).length, 20);
  const changesBefore = (await treeOf('a')).stats!.localChanges;

  // 1. the mount goes away under the running daemon
  unmountTree();
  assert.deepEqual(readdirSync(c.tree('a')), [], 'the bare mount point');
  const failed = await until(async () => {
    const t = await treeOf('a');
    return t.state.includes('failed') ? t : undefined;
  }, "a's tree to stop", 20_000);
  // the watcher sees its root go first (IN_UNMOUNT), or a scan finds another file system
  assert.match(String(failed.lastError), /file system|deleted or moved/);
  assert.equal(failed.stats?.localChanges ?? changesBefore, changesBefore, 'no local change (no delete) was made');
  writeFileSync(join(c.tree('b'), 'new-on-b.txt'), 'from b\n');
  // b's change reaches a's link and is refused there: it waits in b's outbox
  await until(async () => ((await c.status('b')).peers.find((p) => p.name === 'a')?.outboxDepth ?? 0) > 0 ? true : undefined, "b's change to wait for a", 20_000);
  assert.equal(existsSync(join(c.tree('a'), 'new-on-b.txt')), false, 'nothing written into the bare mount point');
  for (const k of Object.keys(want)) assert.equal(snapshot(c.tree('b'))[k], want[k], `b kept ${k}`);

  // mounted again: `omirr rescan` brings the tree back; b's file arrives, nothing is lost
  mountTree();
  await rescanA();
  const both = await c.converge();
  assert.equal(Object.keys(both).length, 21);

  // 2. the daemon starts with the mount not there
  assert.equal(await c.stop('a'), 0);
  unmountTree();
  await c.start('a');
  const atStart = await until(async () => {
    const t = await treeOf('a');
    return t.state.includes('failed') && t.lastError ? t : undefined;
  }, "a's tree to refuse its start", 20_000);
  assert.match(String(atStart.lastError), /file system/);
  assert.equal(Object.keys(snapshot(c.tree('b'))).length, 21, 'b keeps every file');
  mountTree();
  await rescanA();
  await c.waitLive();
  assert.equal(Object.keys(await c.converge()).length, 21);
});

// the tree's mount is not left behind if the test fails midway (close removes the directory)
after(() => {
  try {
    execFileSync('umount', ['-l', c.tree('a')], { stdio: 'pipe' });
  } catch {
    /* not mounted */
  }
});
