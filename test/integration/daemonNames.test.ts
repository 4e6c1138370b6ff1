// Names and symlink targets that are not UTF-8 between two real daemons (issue 9, item 10):
// found by the first scan, seen by the watcher (inotify names read as bytes), carried in
// change records (JSON \udcXX escapes), the tar stream (raw pax paths) and the index, and
// put in place byte-exactly on the peer; changes, renames and deletes of them replicate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';
import { byteSnapshot, havePython, makeBadNameTree, makeLongPath, rmDeep } from '../helpers/fidelityFixtures.js';

/** `root` + '/' + raw bytes. */
const at = (root: string, ...parts: Array<string | number[]>): Buffer =>
  Buffer.concat([Buffer.from(`${root}/`), ...parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))]);

/** Waits until every tree of `c` holds byte-identical names, contents and link targets. */
async function convergeBytes(c: Cluster, what: string): Promise<Map<string, string>> {
  let last: Array<Map<string, string>> = [];
  try {
    return await until(async () => {
      last = ['a', 'b'].map((n) => byteSnapshot(c.tree(n)));
      const first = JSON.stringify([...last[0]!]);
      return last.every((s) => JSON.stringify([...s]) === first) ? last[0] : undefined;
    }, what, 30_000);
  } catch (err) {
    const [x, y] = last.map((m) => new Set([...m].map(([k, v]) => `${Buffer.from(k, 'hex').toString('latin1')} ${v}`)));
    throw new Error(`${(err as Error).message}\nonly on a: ${[...x!].filter((e) => !y!.has(e)).join(', ')}\nonly on b: ${[...y!].filter((e) => !x!.has(e)).join(', ')}`);
  }
}

test('two daemons: names and link targets that are not UTF-8 replicate byte-exactly (first scan, live writes both ways, rename, delete, a delete while down)', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  const A = c.tree('a');
  const B = c.tree('b');
  // there before the start: the first scan sends them
  const raw = makeBadNameTree(A);
  await c.startAll();
  await c.waitLive();
  let snap = await convergeBytes(c, 'the first scan to reach b');
  for (const rel of raw) assert.ok(snap.has(rel.toString('hex')), `b has ${rel.toString('latin1')}`);

  // written on b while live (the watcher's names): a new latin-1 file, a new bad directory
  // with a file, a link with a bad target; and a change to a file with a bad name
  writeFileSync(at(B, 'n', [0xf6], 'de-b.txt'), 'from b\n');
  mkdirSync(at(B, 'new-', [0xff]));
  writeFileSync(at(B, 'new-', [0xff], '/x', [0xe4], '.bin'), Buffer.alloc(200_000, 3));
  symlinkSync(Buffer.from([0x2e, 0x2e, 0x2f, 0xfe]), at(B, 'new-', [0xff], '/up'));
  writeFileSync(at(B, 'bad-', [0xff, 0xfe], '.txt'), 'changed on b\n');
  snap = await convergeBytes(c, 'b\'s live writes to reach a');
  assert.ok(snap.has(at('', 'n', [0xf6], 'de-b.txt').subarray(1).toString('hex')));

  // a rename and deletes on a: a file with a bad name, a bad directory with its contents
  renameSync(at(A, [0x66, 0xff], '.txt'), at(A, 'renamed-', [0xe9], '.txt'));
  unlinkSync(at(A, 'n', [0xf6], 'de-b.txt'));
  rmSync(at(A, 'dir-', [0xe9]), { recursive: true });
  snap = await convergeBytes(c, 'a\'s rename and deletes to reach b');
  assert.equal(snap.has(at('', 'n', [0xf6], 'de-b.txt').subarray(1).toString('hex')), false, 'the delete replicated');
  assert.equal(snap.has(at('', 'dir-', [0xe9]).subarray(1).toString('hex')), false, 'the directory delete replicated');
  assert.ok(snap.has(at('', 'renamed-', [0xe9], '.txt').subarray(1).toString('hex')));

  // a delete made while a is down: the persisted index (the names as \udcXX escapes in its
  // JSON) compared with the disk at the next start finds it, and b follows
  assert.equal(await c.stop('a'), 0, c.procs.get('a')!.stderr());
  unlinkSync(at(A, 'renamed-', [0xe9], '.txt'));
  await c.start('a');
  await c.waitLive();
  snap = await convergeBytes(c, 'the delete made while a was down to reach b');
  assert.equal(snap.has(at('', 'renamed-', [0xe9], '.txt').subarray(1).toString('hex')), false);

  // nothing reported unmirrorable, nothing out of sync
  for (const n of ['a', 'b']) {
    const st = await c.status(n);
    assert.deepEqual(st.trees.map((tr) => (tr as { outOfSync?: number }).outOfSync ?? 0), [0], JSON.stringify(st.trees));
  }
  for (const n of ['a', 'b']) assert.equal(await c.stop(n), 0, c.procs.get(n)!.stderr());
});

test('a path longer than 4096 bytes is an out-of-sync item in the daemon\'s status (reason unmirrorable) and a log warning; the rest replicates', { skip: havePython() ? false : 'python3 is needed to build a path longer than PATH_MAX' }, async (t) => {
  const c = await Cluster.create(['a', 'b']);
  const A = c.tree('a');
  writeFileSync(join(A, 'ok.txt'), 'fine\n');
  const long = makeLongPath(A, 4200);
  // fs.rmSync cannot reach past PATH_MAX: the deep tree goes first, once the daemons are down
  t.after(async () => {
    for (const n of ['a', 'b']) await c.kill9(n);
    rmDeep(join(A, long.split('/')[0]!));
    await c.close();
  });
  await c.startAll();
  await c.waitLive();
  await until(async () => (existsSync(join(c.tree('b'), 'ok.txt')) ? true : undefined), 'ok.txt to reach b', 30_000);
  assert.equal(readFileSync(join(c.tree('b'), 'ok.txt'), 'utf8'), 'fine\n');
  const st = await c.status('a');
  const tree = st.trees[0] as { outOfSync?: number; outOfSyncItems?: Array<{ path: string; reason: string; error: string }> };
  const items = (tree.outOfSyncItems ?? []).filter((i) => i.reason === 'unmirrorable');
  assert.equal(items.length, 1, JSON.stringify(tree));
  assert.ok(long.startsWith(items[0]!.path), `${items[0]!.path} is the long path's reachable prefix`);
  assert.match(items[0]!.error, /path too long/);
  assert.ok((tree.outOfSync ?? 0) >= 1, 'counted in out of sync');
  assert.match(c.procs.get('a')!.stderr(), /path too long/, 'the log says it');
});
