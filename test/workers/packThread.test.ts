// A push's pack batches on the plain pack thread (src/workers/packer.ts, packThread.ts)
// instead of a piscina io thread warmed with the tar tasks. Attacked here: a push re-run over
// a real omirr:// connection packs there and its files arrive whole and verified; the
// thread's batch is byte for byte the io pool's; a batch that fails in the thread fails
// loudly and the thread packs the next; the thread dying mid-batch fails the push loudly and
// leaves nothing partial; a batch that comes while the thread is busy runs in
// the io pool, not queued behind it or dropped.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packThread, runPackBatch, startPackThread } from '../../src/workers/packer.js';
import { closePools, ioPool } from '../../src/workers/pool.js';
import type { PackTask } from '../../src/workers/tarTasks.js';
import { pushToServed, rmTemp, serveOneTree, snapshot, tempDir } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) rmTemp(d);
});

function tree(tag: string, files = 12): string {
  const base = tempDir(tag);
  dirs.push(base);
  const src = join(base, 'src');
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < files / 3; i++) writeFileSync(join(src, `d${d}`, `f${i}`), `file ${d}/${i} `.repeat(40 + i * 300));
  }
  return base;
}

const task = (root: string, paths: string[]): PackTask => ({ root, items: paths.map((path) => ({ path })), cont: null, cap: 1 << 20, verify: true });

test('a push re-run over omirr:// packs on the pack thread; the changed files arrive whole and verified', async () => {
  const base = tree('packpush');
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  mkdirSync(dst);
  const served = await serveOneTree(dst);
  const { server } = served;
  const sync = (): ReturnType<typeof pushToServed> => pushToServed(src, served);
  try {
    assert.equal((await sync()).filesSent, 12);
    // the re-run from threads that start afresh, as a new `omirr sync` process
    await closePools();
    assert.equal(packThread(), undefined, 'closePools ends the pack thread');
    writeFileSync(join(src, 'd1', 'f2'), 'changed, and longer than before '.repeat(500));
    writeFileSync(join(src, 'd2', 'f0'), 'y');
    const r = await sync();
    assert.equal(r.filesSent, 2);
    assert.deepEqual(r.failed, []);
    assert.ok((packThread()?.packed ?? 0) >= 1, 'the batch was packed on the pack thread');
    assert.deepEqual(snapshot(dst), snapshot(src), 'the changed files arrived whole');
  } finally {
    await server.close();
  }
});

test('the pack thread dying in the middle of a push: the batch and the push fail loudly, nothing partial is left in the destination, a rerun completes', { timeout: 60_000 }, async () => {
  const base = tree('packdies');
  const src = join(base, 'src');
  // a file of several batches: the stream is in the middle of it when the thread dies
  writeFileSync(join(src, 'd0', 'big'), randomBytes(3 << 20));
  const dst = join(base, 'dst');
  mkdirSync(dst);
  const served = await serveOneTree(dst);
  try {
    await closePools(); // threads that start afresh, as in a new `omirr sync` process
    startPackThread();
    packThread()!.exitMidBatch();
    await assert.rejects(pushToServed(src, served), /the pack thread exited/);
    assert.equal(packThread(), undefined, 'the dead thread takes no more batches');
    const want = snapshot(src);
    for (const [p, v] of Object.entries(snapshot(dst))) assert.equal(v, want[p], `${p}: whole, as in the source (no partial file, no temporary)`);
    const r = await pushToServed(src, served);
    assert.deepEqual(r.failed, []);
    assert.deepEqual(snapshot(dst), want);
  } finally {
    await served.server.close();
  }
});

test("the pack thread's batch is the io pool's, byte for byte; a failed batch is an error, and the thread packs the next", async () => {
  const root = join(tree('packsame'), 'src');
  const paths = ['d0/f0', 'd0/f1', 'd1/f3', 'd2/f2'];
  startPackThread();
  const before = packThread()!.packed;
  const here = await runPackBatch(task(root, paths), []);
  assert.equal(packThread()!.packed, before + 1);
  const pooled = (await ioPool().run(task(root, paths), { name: 'packBatch' })) as typeof here;
  assert.equal(here.consumed, 4);
  assert.deepEqual(Buffer.from(here.buf, 0, here.length), Buffer.from(pooled.buf, 0, pooled.length));
  // a vanished file is named, as in the pool
  const gone = await runPackBatch(task(root, ['d0/f0', 'd0/nope']), []);
  assert.deepEqual(gone.errors.map((e) => e.path), ['d0/nope']);
  // a continuation of a file that is not there throws in the thread: the batch fails loudly
  await assert.rejects(runPackBatch({ ...task(root, []), cont: { path: 'd9/missing', pos: 0, end: 10, dataStart: 0 } as PackTask['cont'] }, []), /missing|ENOENT/);
  const next = await runPackBatch(task(root, ['d1/f1']), []);
  assert.equal(next.consumed, 1);
  assert.ok(packThread(), 'the thread is still up');
});

test('a batch that comes while the pack thread is busy runs in the io pool: both arrive', async () => {
  const root = join(tree('packbusy', 30), 'src');
  startPackThread();
  const t = packThread()!;
  const before = t.packed;
  const all = ['d0', 'd1', 'd2'].flatMap((d) => Array.from({ length: 10 }, (_, i) => `${d}/f${i}`));
  const [a, b] = await Promise.all([runPackBatch(task(root, all.slice(0, 15)), []), runPackBatch(task(root, all.slice(15)), [])]);
  assert.equal(a.consumed + b.consumed, 30);
  assert.equal(t.packed, before + 1, 'one on the thread, the other in the pool');
});

test('node flags a thread refuses (heap sizes, --expose-gc) do not stop the pack thread: it packs', (t) => {
  const root = join(tree('packflags'), 'src');
  const packer = new URL('../../src/workers/packer.js', import.meta.url).href;
  const pool = new URL('../../src/workers/pool.js', import.meta.url).href;
  const code = `const { startPackThread, runPackBatch, packThread } = await import(${JSON.stringify(packer)});
startPackThread();
const r = await runPackBatch(${JSON.stringify(task(root, ['d0/f0', 'd1/f1']))}, []);
process.stdout.write(JSON.stringify({ consumed: r.consumed, packed: packThread().packed }));
await (await import(${JSON.stringify(pool)})).closePools();`;
  const script = join(root, '..', 'run.mjs');
  writeFileSync(script, code);
  const r = spawnSync(process.execPath, ['--max-semi-space-size=16', '--expose-gc', script], { encoding: 'utf8' });
  t.diagnostic(r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { consumed: 2, packed: 1 });
});
