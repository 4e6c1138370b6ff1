// `prepare` with `receive` (src/net/treeService.ts, Tree.prepareReceive): a push of at least
// that many files follows, so a server whose trees unpack large pushes in an extract thread
// (`omirr serve`, `serve --stdio`: LocalTree's smallUnpackFiles) boots it while the client
// plans, not when the unpack comes. Attacked here: the thread is up before the unpack starts
// on a first copy, and only then (a no-op or a few new files boot none); the copy arrives
// whole; the count is what the listings prove (source files beyond the destination's); a
// read-only tree boots nothing; a malformed count ends that peer's connection only.
// The extract pool is per process: these tests run in order, in this file's own process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { LocalTree, SMALL_UNPACK_FILES } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { extractPool } from '../../src/workers/pool.js';
import type { Expected } from '../../src/core/tree.js';
import type { Readable } from 'node:stream';
import { assertPrepareRefuses, pushToServed, serveOneTree, snapshot } from '../helpers/netFixtures.js';

const FILES = SMALL_UNPACK_FILES + 100;

test('a local first copy boots no extract thread: it copies, it unpacks no stream', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-receive-'));
  try {
    const src = join(base, 'src');
    for (let d = 0; d < 10; d++) await mkdir(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < FILES; i++) await writeFile(join(src, `d${i % 10}`, `f${i}`), `file ${i}\n`);
    // a destination that would unpack a large push in an extract thread (as a mirror package's)
    await mkdir(join(base, 'dst'));
    const dst = new LocalTree(join(base, 'dst'), { writable: true, smallUnpackFiles: SMALL_UNPACK_FILES });
    const r = await syncTrees(new LocalTree(src, { writable: false }), dst);
    assert.equal(r.filesSent, FILES);
    assert.deepEqual(r.failed, []);
    assert.deepEqual(snapshot(join(base, 'dst')), snapshot(src));
    assert.equal(extractPool().threads.length, 0, 'no extract thread for a local copy');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('LocalTree.prepareReceive boots an extract thread only for more files than an io thread unpacks, and only when writable', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-receive-'));
  try {
    assert.equal(extractPool().threads.length, 0, 'no extract thread before');
    new LocalTree(base, { writable: true, smallUnpackFiles: SMALL_UNPACK_FILES }).prepareReceive(SMALL_UNPACK_FILES);
    new LocalTree(base, { writable: false, smallUnpackFiles: SMALL_UNPACK_FILES }).prepareReceive(FILES);
    // a tree that unpacks everything in extract threads has them warmed by its opener already
    new LocalTree(base, { writable: true }).prepareReceive(FILES);
    assert.equal(extractPool().threads.length, 0, 'a small count, a read-only tree, no smallUnpackFiles: nothing booted');
    new LocalTree(base, { writable: true, smallUnpackFiles: SMALL_UNPACK_FILES }).prepareReceive(SMALL_UNPACK_FILES + 1);
    assert.equal(extractPool().threads.length, 1, 'one extract thread for a large push');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('a first copy pushed to a server: its extract thread is booted before the unpack; reruns boot none; the files arrive whole', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-receive-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (let d = 0; d < 10; d++) await mkdir(join(src, `d${d}`), { recursive: true });
  await mkdir(dst);
  for (let i = 0; i < FILES; i++) await writeFile(join(src, `d${i % 10}`, `f${i}`), `file ${i} `.repeat(1 + (i % 50)));
  // the server runs in this process: its trees are LocalTrees, watched here
  const events: string[] = [];
  const origPrepare = LocalTree.prototype.prepareReceive;
  const origUnpack = LocalTree.prototype.unpack;
  LocalTree.prototype.prepareReceive = function (this: LocalTree, files: number): void {
    origPrepare.call(this, files);
    events.push(`prepareReceive ${files} threads ${extractPool().threads.length}`);
  };
  LocalTree.prototype.unpack = function (this: LocalTree, tar: Readable, expect: Expected[]) {
    events.push(`unpack ${expect.length}`);
    return origUnpack.call(this, tar, expect);
  };
  const served = await serveOneTree(dst);
  const { server } = served;
  const sync = (): ReturnType<typeof pushToServed> => {
    events.length = 0;
    return pushToServed(src, served);
  };
  try {
    const first = await sync();
    assert.equal(first.filesSent, FILES);
    assert.equal(first.failed.length, 0);
    assert.deepEqual(snapshot(dst), snapshot(src), 'every file arrived whole');
    assert.deepEqual(events, [`prepareReceive ${FILES} threads 1`, `unpack ${FILES}`], 'the extract thread was booted before the unpack came');

    const noop = await sync();
    assert.equal(noop.filesSent, 0);
    assert.deepEqual(events, [], 'a no-op tells nothing and unpacks nothing');

    for (let i = 0; i < 5; i++) await writeFile(join(src, 'd0', `new${i}`), `new ${i}`);
    await writeFile(join(src, 'd1', 'f1'), 'changed');
    const few = await sync();
    assert.equal(few.filesSent, 6);
    // 5 new files proven by the counts (the changed one is not: its path is on both sides)
    // (the first copy's thread may still be up: whether 5 boots one is the first test's)
    assert.equal(events.length, 2);
    assert.match(events[0]!, /^prepareReceive 5 threads \d+$/);
    assert.equal(events[1], 'unpack 6');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal after the change');
  } finally {
    LocalTree.prototype.prepareReceive = origPrepare;
    LocalTree.prototype.unpack = origUnpack;
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('prepare with a malformed receive: that connection ends, the server serves on', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-receive-'));
  const dst = join(base, 'dst');
  await mkdir(dst);
  const served = await serveOneTree(dst);
  const { server, url, client } = served;
  try {
    await assertPrepareRefuses(served, 'receive', [-1, 1.5, 'many', 2 ** 40, true]);
    // a well-formed one on a read-only open is answered (and boots nothing: the first test)
    const { conn } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    const { result } = await conn.request('open', { tree: 't', sub: '', write: false, create: false });
    await conn.request('prepare', { h: (result as { handle: number }).handle, receive: 5 });
    conn.close();
    const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    await remote.close();
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});
