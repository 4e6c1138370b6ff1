// The early scan (src/engine/localScan.ts): a command lists its roots before its modules load
// and the tree's first full scan takes that listing. Never a stale one: a change made through
// the tree first drops it, it is taken once, and it equals what the tree's own scan gives.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LocalTree } from '../../src/engine/localTree.js';
import { lastWalkWasFromRoot, prescan, prescanWhenTaken, scanOneThread, startScans, takePrescan, walksWhenTaken } from '../../src/engine/localScan.js';
import { scan } from '../../src/workers/fsTasks.js';
import { closePools } from '../../src/workers/pool.js';
import { makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';

const dirs: string[] = [];
function fresh(tag: string): string {
  const d = tempDir(tag);
  dirs.push(d);
  return d;
}
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const mkdirp = (p: string): string => (mkdirSync(p, { recursive: true }), p);
const listRoot = (root: string): ReturnType<typeof scan> => scan({ root, recursive: false });
const paths = (es: Array<{ path: string }>): string[] => es.map((e) => e.path);

/** prescanWhenTaken's walk in a process of user nobody: argv localScan.js's URL, the root; prints what it saw. */
const WALK_AS_NOBODY = `
process.setgid(65534);
process.setuid(65534);
const m = await import(process.argv[1]);
await m.prescanWhenTaken(process.argv[2]);
const r = await m.takePrescan(process.argv[2]);
process.stdout.write(JSON.stringify({ fromRoot: m.lastWalkWasFromRoot(), skipped: r.skipped }));
`;

// enterDir in a process of its own (argv: module, root, the working directory, how): while
// inside root, the directory it came from is removed, or made unsearchable by its owner, an
// unprivileged user (root searches any directory); going back then fails for real.
const LEAVE_FAILS = `
const [mod, root, cwd, how] = process.argv.slice(1);
if (how === 'unsearchable') { process.setgid(65534); process.setuid(65534); }
const { enterDir } = await import(mod);
const { chmodSync, rmdirSync } = await import('node:fs');
const leave = enterDir(root);
if (!leave) { process.stdout.write('not entered'); process.exit(3); }
if (how === 'removed') rmdirSync(cwd); else chmodSync(cwd, 0);
leave();
process.stdout.write('went on from the wrong directory');
`;

describe('early scans', () => {
  test("the tree's first full scan takes the early listing, which equals its own walk; the second walks again", async () => {
    const root = fresh('early');
    makeSampleTree(root);
    const own = await new LocalTree(root, { writable: false }).scan();
    prescan(root, listRoot);
    // changed behind omirr's back after the early scan: the first scan shows the early
    // listing (that is the head start), the next one the tree as it is now
    writeFileSync(join(root, 'later.txt'), 'x');
    const t = new LocalTree(root, { writable: false });
    const first = await t.scan();
    assert.deepEqual(first, own);
    const second = await t.scan();
    assert.ok(paths(second).includes('later.txt'), 'a second scan walks the tree again');
  });

  test('oneScanThread walks the same tree, in the same order, as the scan spread over the threads', async () => {
    const root = fresh('one-thread');
    makeSampleTree(root);
    for (let d = 0; d < 12; d++) writeFileSync(join(root, `top${d}.txt`), String(d));
    const spread = await new LocalTree(root, { writable: false }).scan();
    const one = await new LocalTree(root, { writable: false, oneScanThread: true }).scan();
    assert.ok(spread.length > 12);
    assert.deepEqual(one, spread);
  });

  test('a change made through the tree before its first scan drops the early listing', async () => {
    const root = fresh('early');
    makeSampleTree(root);
    await startScans([root], false);
    const t = new LocalTree(root, { writable: true });
    const res = await t.apply([{ op: 'mkdir', path: 'made-after', mode: 0o755 }]);
    assert.equal(res[0]?.ok, true);
    assert.equal(takePrescan(root), undefined, 'dropped by the write');
    assert.ok(paths(await t.scan()).includes('made-after'));
  });

  test('an early scan left to walk when taken (a sync with a remote end) walks then, on this thread, and equals the tree\'s own scan', async () => {
    const root = fresh('when-taken');
    makeSampleTree(root);
    await prescanWhenTaken(root);
    assert.equal(walksWhenTaken(root), true);
    // below the root, nothing is walked before the tree takes the scan: a file made now is
    // listed, one removed now is not (what a thread that walked at once could not show)
    writeFileSync(join(root, 'a', 'made-before-taken.txt'), 'x');
    rmSync(join(root, 'many', 'f3'));
    const t = new LocalTree(root, { writable: false });
    const first = await t.scan();
    assert.equal(walksWhenTaken(root), false, 'taken once');
    assert.ok(paths(first).includes('a/made-before-taken.txt'));
    assert.ok(!paths(first).includes('many/f3'));
    // the same listing as the tree's own scan, but for the mtimes of the two directories
    // changed after the root (their parent) was listed early
    const own = await new LocalTree(root, { writable: false }).scan();
    const changed = new Set(['a', 'many']);
    assert.deepEqual(paths(first), paths(own));
    assert.deepEqual(first.filter((e) => !changed.has(e.path)), own.filter((e) => !changed.has(e.path)));
  });

  test('the walk when taken, from inside the root: the same listing and skips as a walk from the root, a symlink out listed and not followed, an unreadable directory named whole, the working directory back', async () => {
    const base = fresh('from-root');
    const root = mkdirp(join(base, 'root'));
    makeSampleTree(root);
    const outside = mkdirp(join(base, 'outside'));
    writeFileSync(join(outside, 'secret'), 's');
    symlinkSync(outside, join(root, 'a', 'out'));
    symlinkSync('../../outside', join(root, 'a', 'out-rel'));
    const locked = mkdirp(join(root, 'many', 'locked'));
    writeFileSync(join(locked, 'hidden'), 'h');
    chmodSync(locked, 0o000);
    try {
      const whole = scan({ root });
      const cwd = process.cwd();
      await prescanWhenTaken(root);
      const taken = await takePrescan(root)!;
      assert.equal(lastWalkWasFromRoot(), true, 'the walk named its paths from inside the root');
      assert.equal(process.cwd(), cwd, 'the working directory is back');
      assert.deepEqual(taken.entries, whole.entries);
      assert.deepEqual(taken.skipped, whole.skipped);
      const out = taken.entries.find((e) => e.path === 'a/out');
      assert.equal(out?.kind, 'symlink');
      assert.equal(out?.target, outside);
      assert.ok(!paths(taken.entries).some((p) => p.includes('secret')), 'nothing read through a symlink');
      // root reads every directory: the same walk then in a process of an unprivileged user
      const asRoot = process.getuid?.() === 0;
      let skipped = taken.skipped;
      if (asRoot) {
        chmodSync(base, 0o755);
        const child = execFileSync(process.execPath, ['--input-type=module', '-e', WALK_AS_NOBODY, new URL('../../src/engine/localScan.js', import.meta.url).href, root], { cwd: base, encoding: 'utf8' });
        const seen = JSON.parse(child) as { fromRoot: boolean; skipped: typeof skipped };
        assert.equal(seen.fromRoot, true);
        skipped = seen.skipped;
      }
      const skip = skipped.find((k) => k.path === 'many/locked');
      assert.ok(skip, 'the unreadable directory is reported');
      assert.ok(skip.reason.includes(`'${join(root, 'many', 'locked')}'`), `named by its whole path: ${skip.reason}`);
    } finally {
      chmodSync(locked, 0o755);
    }
  });

  test('a walk from inside a root whose way back fails ends the process: exit 70, naming the working directory and why, nothing run after', () => {
    const base = fresh('leave-fails');
    chmodSync(base, 0o755);
    const root = mkdirp(join(base, 'root'));
    const cases: Array<[string, string]> = [['removed', 'ENOENT']];
    if (process.getuid?.() === 0) cases.push(['unsearchable', 'EACCES']);
    for (const [how, code] of cases) {
      const cwd = mkdirp(join(base, `cwd-${how}`));
      if (how === 'unsearchable') chownSync(cwd, 65534, 65534);
      const mod = new URL('../../src/engine/processDir.js', import.meta.url).href;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', LEAVE_FAILS, mod, root, cwd, how], { cwd, encoding: 'utf8' });
      assert.equal(r.status, 70, `${how}: ${r.stdout} ${r.stderr}`);
      assert.equal(r.stdout, '', `${how}: nothing ran after the failed return`);
      const prefix = `omirr: cannot return to the working directory ${cwd}: `;
      assert.ok(r.stderr.startsWith(prefix) && r.stderr.includes(code), `${how}: ${r.stderr}`);
    }
  });

  test('the walk when taken names its paths whole while a file system request of this thread is in flight (a relative path would resolve from the root)', async () => {
    const base = fresh('in-flight');
    const root = mkdirp(join(base, 'root'));
    makeSampleTree(root);
    const fifo = join(base, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // opening a fifo to read waits in libuv's thread until a writer comes: in flight throughout the walk
    const reading = open(fifo, 'r');
    await prescanWhenTaken(root);
    const taken = await takePrescan(root)!;
    assert.equal(lastWalkWasFromRoot(), false);
    assert.deepEqual(taken.entries, scan({ root }).entries);
    const writer = await open(fifo, 'w');
    await (await reading).close();
    await writer.close();
  });

  test('oneScanThread walks on this thread up to its bound, the rest of a bigger tree on one or every io thread: the same listing, in order', async () => {
    const root = fresh('one-thread-budget');
    makeSampleTree(root);
    for (let d = 0; d < 6; d++) for (let e = 0; e < 4; e++) writeFileSync(join(mkdirp(join(root, `big${d}`, `s${e}`)), 'f'), String(e));
    const spread = await new LocalTree(root, { writable: false }).scan();
    const whole = scan({ root });
    assert.ok(spread.length > 40);
    for (const budget of [0, 1, 7, 20, 45, whole.entries.length + 1]) {
      for (const rest of ['one', 'all'] as const) {
        const r = await scanOneThread(root, budget, rest);
        assert.deepEqual(r.entries, spread, `budget ${budget}, rest on ${rest}`);
        assert.deepEqual(r.skipped, whole.skipped, `budget ${budget}, rest on ${rest}: skips`);
      }
    }
  });

  test('a walk stopped at its budget, then its rest walked below, lists the tree as one walk, for every budget', () => {
    const root = fresh('budget');
    makeSampleTree(root);
    for (let d = 0; d < 5; d++) for (let e = 0; e < 3; e++) writeFileSync(join(mkdirp(join(root, `deep${d}`, `x${e}`, 'y')), `f${e}`), String(d));
    const whole = scan({ root });
    const top = scan({ root, recursive: false });
    const dirs = top.entries.filter((e) => e.kind === 'dir').map((e) => e.path);
    for (let budget = 0; budget <= whole.entries.length + 1; budget++) {
      const first = scan({ root, below: dirs, budget });
      const rest = first.rest ? scan({ root, below: first.rest }).entries : [];
      assert.deepEqual(paths([...top.entries, ...first.entries, ...rest]), paths(whole.entries), `budget ${budget}`);
      if (budget > whole.entries.length) assert.equal(first.rest, undefined);
    }
  });

  test('a tree bigger than the main thread walks: the rest in a thread, the same listing', async () => {
    const root = fresh('when-taken-big');
    makeSampleTree(root);
    for (let d = 0; d < 6; d++) for (let e = 0; e < 4; e++) writeFileSync(join(mkdirp(join(root, `big${d}`, `s${e}`)), 'f'), String(e));
    const own = await new LocalTree(root, { writable: false }).scan();
    await prescanWhenTaken(root, 10);
    const taken = await new LocalTree(root, { writable: false }).scan();
    assert.ok(taken.length > 40);
    assert.deepEqual(taken, own);
  });

  test('an early scan left to walk when taken and never taken never walks; a stale root is not confused with it', async () => {
    const root = fresh('never-taken');
    makeSampleTree(root);
    await prescanWhenTaken(root);
    // the tree is gone before anyone takes the scan: nothing walked it, nothing failed
    rmSync(root, { recursive: true, force: true });
    assert.equal(walksWhenTaken(root), true);
    await assert.rejects(new LocalTree(root, { writable: false }).scan(), /no such directory/);
  });

  test('a missing root lists as empty early; the tree still refuses a missing source', async () => {
    const root = join(fresh('early'), 'nope');
    prescan(root, listRoot);
    await assert.rejects(new LocalTree(root, { writable: false }).scan(), /no such directory/);
  });
});

describe('packed scans', () => {
  test('a big packed scan (columns moved from the io threads, not cloned) gives every entry exactly as the inline walk', async () => {
    const root = fresh('packed-big');
    // more than the task's MOVE_COLUMNS_FROM (16,384) in a share: one top directory (one
    // share) of 18,000 files, and a small one (cloned)
    for (let d = 0; d < 3; d++) {
      const dir = mkdirp(join(root, 'big', `s${d}`));
      for (let f = 0; f < 6000; f++) writeFileSync(join(dir, `f${f}-é.dat`), f % 7 === 0 ? 'x' : '');
    }
    writeFileSync(join(mkdirp(join(root, 'small')), 'one'), '1');
    const packed = [...(await new LocalTree(root, { writable: false }).scanPacked())];
    const inline = scan({ root }).entries;
    assert.equal(packed.length, 2 + 3 + 18_000 + 1);
    const byPath = new Map(inline.map((e) => [e.path, e]));
    for (const e of packed) assert.deepStrictEqual(e, byPath.get(e.path), e.path);
    assert.deepStrictEqual(new Set(paths(packed)), new Set(paths(inline)));
  });

  test("the daemon's packed scan walks up to scanHereEntries entries on this thread and the rest on the io threads: the same listing, in order, for every budget", async () => {
    const root = fresh('packed-here');
    for (let d = 0; d < 6; d++) {
      const dir = mkdirp(join(root, `d${d}`, 'inner'));
      for (let f = 0; f < 5; f++) writeFileSync(join(dir, `f${f}`), `${d}.${f}`);
      writeFileSync(join(root, `d${d}`, 'top'), 'x');
    }
    writeFileSync(join(root, 'rootfile'), 'r');
    const inline = scan({ root }).entries;
    for (const budget of [1, 3, 8, 20, 50, 10_000]) {
      const packed = [...(await new LocalTree(root, { writable: false, scanHereEntries: budget }).scanPacked())];
      assert.deepStrictEqual(paths(packed), paths(inline), `budget ${budget}`);
      const byPath = new Map(inline.map((e) => [e.path, e]));
      for (const e of packed) assert.deepStrictEqual(e, byPath.get(e.path), `${budget}: ${e.path}`);
    }
  });
});
