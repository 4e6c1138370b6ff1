import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createActor, setup } from 'xstate';
import { treeWatcherLogic, type WatcherEvent } from '../../src/actors/watcher.js';
import { tempTree, WatchCollector } from '../helpers/watcherFixtures.js';

test('single changes: create, modify, chmod, delete, rename, mkdir, symlink; own temp files ignored', async (t) => {
  const root = tempTree(t);
  mkdirSync(join(root, 'pre'));
  const w = new WatchCollector(root);
  t.after(() => w.close());
  await w.start();
  assert.equal(w.watcher.status().state, 'watching');
  assert.equal(w.watcher.status().watched, 2);

  writeFileSync(join(root, 'a.txt'), 'hello');
  await w.waitFor(() => w.present.has('a.txt'), 'create a.txt');
  assert.equal(w.changesFor('a.txt')[0]!.kind, 'file');

  const before = w.changesFor('a.txt').length;
  appendFileSync(join(root, 'a.txt'), ' world');
  await w.waitFor(() => w.changesFor('a.txt').length > before, 'modify a.txt');

  const before2 = w.changesFor('a.txt').length;
  chmodSync(join(root, 'a.txt'), 0o600);
  await w.waitFor(() => w.changesFor('a.txt').length > before2, 'chmod a.txt');

  unlinkSync(join(root, 'a.txt'));
  await w.waitFor(() => w.gone.has('a.txt') && !w.present.has('a.txt'), 'delete a.txt');

  writeFileSync(join(root, 'pre', 'b'), 'b');
  await w.waitFor(() => w.present.has('pre/b'), 'create pre/b');
  renameSync(join(root, 'pre', 'b'), join(root, 'c'));
  await w.waitFor(() => w.present.has('c') && w.gone.has('pre/b'), 'rename pre/b -> c');
  assert.deepEqual(w.moves(), [{ from: 'pre/b', to: 'c' }], 'paired by inode into one move');

  mkdirSync(join(root, 'd'));
  writeFileSync(join(root, 'd', 'x'), 'x');
  await w.waitFor(() => w.present.has('d') && w.present.has('d/x'), 'mkdir d, d/x');
  assert.equal(w.changesFor('d')[0]!.kind, 'dir');

  symlinkSync('d/x', join(root, 'l'));
  await w.waitFor(() => w.present.has('l'), 'symlink l');
  assert.equal(w.changesFor('l')[0]!.kind, 'symlink');

  writeFileSync(join(root, '.omirr-part.tmp'), 'temp');
  writeFileSync(join(root, 'marker'), 'm');
  await w.waitFor(() => w.present.has('marker'), 'marker');
  assert.ok(!w.seen.has('.omirr-part.tmp'), 'omirr temp files are never reported');

  // a directory deleted with its contents; its watches are dropped
  rmSync(join(root, 'd'), { recursive: true });
  await w.waitFor(() => w.gone.has('d') && w.watcher.status().watched === 2, 'rm -r d');
  assert.equal(w.rescans.length, 0, 'no doubt, no rescan');
});

test('a directory tree created at once: files made before its watch was armed are found by listing', async (t) => {
  const root = tempTree(t);
  const w = new WatchCollector(root, {}, false);
  t.after(() => w.close());
  await w.start();
  mkdirSync(join(root, 'n/m/k'), { recursive: true });
  writeFileSync(join(root, 'n/m/k/f'), 'f');
  writeFileSync(join(root, 'n/g'), 'g');
  await w.waitFor(() => ['n', 'n/m', 'n/m/k', 'n/m/k/f', 'n/g'].every((p) => w.present.has(p)), 'n/m/k/f and n/g');
  await w.waitFor(() => w.watcher.status().watched === 4, 'every new directory watched');
  writeFileSync(join(root, 'n/m/k/later'), 'l');
  await w.waitFor(() => w.present.has('n/m/k/later'), 'a file in the new deep directory');
});

test('a moved directory: paired as a move, its contents reported and watched at the new path', async (t) => {
  const root = tempTree(t);
  mkdirSync(join(root, 'src/sub'), { recursive: true });
  writeFileSync(join(root, 'src/sub/f'), 'f');
  const w = new WatchCollector(root, {}, false);
  t.after(() => w.close());
  await w.start();
  writeFileSync(join(root, 'src/touch'), 't'); // let the watcher learn src's inode
  await w.waitFor(() => w.present.has('src/touch'), 'touch');
  w.present.clear();
  renameSync(join(root, 'src'), join(root, 'dst'));
  await w.waitFor(() => w.present.has('dst/sub/f') && w.present.has('dst/touch'), 'contents under the new path');
  writeFileSync(join(root, 'dst/sub/new'), 'n');
  await w.waitFor(() => w.present.has('dst/sub/new'), 'a file created under the moved directory');
  assert.ok(!w.seen.has('src/sub/new'), 'never reported under the old path');
});

test('burst: 20,000 files in 200 directories created (by another process) while watching: every one reported', async (t) => {
  const root = tempTree(t);
  const w = new WatchCollector(root);
  t.after(() => w.close());
  await w.start();
  const script = `
    const fs = require('fs'), path = require('path');
    const root = process.argv[1];
    // round robin: directories appear during the burst and files keep arriving in all of them,
    // so both paths are exercised: files found by listing a new directory, and events
    for (let f = 0; f < 100; f++)
      for (let d = 0; d < 200; d++) {
        const dir = path.join(root, 'd' + d, 'sub');
        if (f === 0) fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'f' + f), 'x'.repeat(1 + (f % 64)));
      }`;
  const expected: string[] = [];
  for (let d = 0; d < 200; d++) for (let f = 0; f < 100; f++) expected.push(`d${d}/sub/f${f}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', script, root], { stdio: 'inherit' });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  t.after(() => child.kill());
  assert.equal(await exited, 0);
  const made = performance.now() - t0;
  await w.waitFor(() => expected.every((p) => w.present.has(p)), 'all 20,000 files reported', 60_000, 100);
  const all = performance.now() - t0;
  const byRescan = w.rescans.length;
  t.diagnostic(`created in ${made.toFixed(0)} ms, all reported after ${all.toFixed(0)} ms; events ${w.watcher.status().events}, rescans ${byRescan}`);
  assert.equal(w.watcher.status().watched, 1 + 400, 'every new directory watched');
});

test('burst into watched directories faster than the loop can read: an overflow in doubt leads to a rescan of the tree', async (t) => {
  const root = tempTree(t);
  const dirs = Array.from({ length: 200 }, (_, i) => `d${i}`);
  for (const d of dirs) mkdirSync(join(root, d));
  const w = new WatchCollector(root);
  t.after(() => w.close());
  await w.start();
  assert.equal(w.watcher.status().watched, 201);
  // synchronous: the watcher cannot read until all 20,000 files exist, > max_queued_events (16384) events queue up
  const expected: string[] = [];
  for (const d of dirs)
    for (let f = 0; f < 100; f++) {
      writeFileSync(join(root, d, `f${f}`), 'y');
      expected.push(`${d}/f${f}`);
    }
  await w.waitFor(() => expected.every((p) => w.present.has(p)), 'all 20,000 files reported or rescanned', 60_000, 100);
  t.diagnostic(`events ${w.watcher.status().events}, rescans ${JSON.stringify(w.rescans)}`);
  assert.ok(w.rescans.some((r) => r.path === '' && /overflow/.test(r.reason)), 'a rescan of the whole tree was asked for');
});

test('forced overflow doubt (tiny threshold): rescan of the whole tree after the burst is quiet', async (t) => {
  const root = tempTree(t);
  const w = new WatchCollector(root, { overflowSuspectEvents: 20, quietMs: 50 });
  t.after(() => w.close());
  await w.start();
  for (let i = 0; i < 100; i++) writeFileSync(join(root, `f${i}`), 'z');
  await w.waitFor(() => w.rescans.length > 0, 'a rescan request');
  assert.equal(w.rescans.length, 1, 'one rescan for one burst');
  assert.equal(w.rescans[0]!.path, '');
  assert.match(w.watcher.status().reason!, /overflow/);
});

test('watch limit: unwatched subtrees are rescanned, status degraded, re-armed when watches free up', async (t) => {
  const root = tempTree(t);
  for (const d of ['a', 'b', 'c', 'd']) mkdirSync(join(root, d));
  writeFileSync(join(root, 'c', 'early'), 'e');
  const w = new WatchCollector(root, { maxWatches: 3, retryMs: 60_000 });
  t.after(() => w.close());
  const statuses: string[] = [];
  await w.start();
  const st = w.watcher.status();
  assert.equal(st.state, 'degraded');
  assert.equal(st.watched, 3);
  assert.deepEqual(st.unwatched, ['c', 'd']);
  assert.match(st.reason!, /watch limit/);
  assert.deepEqual(w.rescans.map((r) => r.path).sort(), ['c', 'd'], 'a rescan for each unwatched subtree');
  assert.ok(w.present.has('c/early'), 'found by the rescan');

  // a directory created at runtime beyond the limit
  mkdirSync(join(root, 'a', 'new'));
  writeFileSync(join(root, 'a', 'new', 'f'), 'f');
  await w.waitFor(() => w.rescans.some((r) => r.path === 'a/new'), 'rescan of a/new');
  await w.waitFor(() => w.present.has('a/new/f'), 'a/new/f found by the rescan');
  for (const ev of w.events) if (ev.type === 'watch.status') statuses.push(ev.status.state);
  assert.ok(statuses.includes('degraded'));

  // free watches, retry: the unwatched subtrees get watches again and one more rescan
  rmSync(join(root, 'a'), { recursive: true });
  rmSync(join(root, 'b'), { recursive: true });
  await w.waitFor(() => w.watcher.status().watched === 1, 'watches of a and b dropped');
  w.watcher.retryNow();
  await w.waitFor(() => w.watcher.status().state === 'watching', 'every directory watched again');
  assert.deepEqual(w.watcher.status().unwatched, []);
  assert.ok(w.rescans.some((r) => r.path === 'c' && /armed again/.test(r.reason)));
  writeFileSync(join(root, 'd', 'live'), 'l');
  await w.waitFor(() => w.changesFor('d/live').length > 0, 'an event from a re-armed directory');
});

test('the tree root deleted: watch.failed', async (t) => {
  const base = tempTree(t);
  const root = join(base, 'tree');
  mkdirSync(root);
  const w = new WatchCollector(root);
  t.after(() => w.close());
  await w.start();
  rmSync(root, { recursive: true });
  await w.waitFor(() => w.events.some((e) => e.type === 'watch.failed'), 'watch.failed');
  assert.equal(w.watcher.status().state, 'failed');
});

test('a missing root fails at start', async (t) => {
  const base = tempTree(t);
  const w = new WatchCollector(join(base, 'nope'));
  await w.start();
  assert.ok(w.events.some((e) => e.type === 'watch.failed'));
});

test('as an xstate callback actor: events reach the parent; stopping closes every watch', async (t) => {
  const root = tempTree(t);
  const got: WatcherEvent[] = [];
  const parent = setup({
    actors: { watcher: treeWatcherLogic },
  }).createMachine({
    invoke: { src: 'watcher', input: { root, persistent: true } },
    on: {
      '*': { actions: ({ event }) => void got.push(event as WatcherEvent) },
    },
  });
  const actor = createActor(parent).start();
  t.after(() => actor.stop());
  const until = (cond: () => boolean, what: string) =>
    new Promise<void>((res, rej) => {
      const deadline = Date.now() + 10_000;
      const iv = setInterval(() => {
        if (cond()) {
          clearInterval(iv);
          res();
        } else if (Date.now() > deadline) {
          clearInterval(iv);
          rej(new Error(`timed out: ${what}`));
        }
      }, 10);
    });
  await until(() => got.some((e) => e.type === 'watch.ready'), 'ready');
  writeFileSync(join(root, 'x'), 'x');
  await until(() => got.some((e) => e.type === 'watch.changes' && e.changes.some((c) => c.path === 'x')), 'x reported');
  actor.stop();
  // persistent watches left open would keep this test process alive: the runner would time out
});
