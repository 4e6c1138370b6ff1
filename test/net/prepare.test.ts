// The `prepare` request (capability `prepare`, src/net/treeService.ts): a hint that a
// transfer follows, sent when the listings are found to differ (engine/syncTrees.ts). The
// guarantees attacked here: it changes nothing the transfer writes, it is sent only to a
// peer that offered it, and a hostile one (another handle) ends that peer's connection only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { serveOneTree, snapshot } from '../helpers/netFixtures.js';

test('prepare: sent once when the listings differ, the changed files arrive whole; a bad handle ends that connection only', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  await mkdir(join(src, 'd'), { recursive: true });
  await mkdir(dst);
  for (let i = 0; i < 20; i++) await writeFile(join(src, 'd', `f${i}`), `file ${i}`.repeat(100));
  const { server, url, client } = await serveOneTree(dst);
  const sync = async (): Promise<{ prepares: number; r: Awaited<ReturnType<typeof syncTrees>> }> => {
    const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    let prepares = 0;
    const orig = remote.prepareTransfer!.bind(remote);
    remote.prepareTransfer = () => {
      prepares++;
      orig();
      orig(); // twice: sent once
    };
    try {
      const local = new LocalTree(src, { writable: false });
      const entries = await local.scan();
      const r = await syncTrees(local, remote, { delete: true, srcScan: { entries: Promise.resolve(entries), skipped: [] } });
      return { prepares, r };
    } finally {
      await remote.close();
    }
  };
  try {
    const first = await sync();
    assert.equal(first.r.filesSent, 20);
    const noop = await sync();
    assert.equal(noop.prepares, 0, 'a no-op prepares nothing');
    await writeFile(join(src, 'd', 'f3'), 'changed, and longer than before'.repeat(50));
    await writeFile(join(src, 'd', 'f17'), 'x');
    const change = await sync();
    assert.equal(change.prepares, 1);
    assert.equal(change.r.filesSent, 2);
    assert.equal(change.r.failed.length, 0);
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal after the change');
    // a peer that names a handle it never opened: its connection ends, the server serves on
    const { conn } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    await assert.rejects(conn.request('prepare', { h: 12345 }));
    await conn.closed;
    const after = await sync();
    assert.equal(after.r.filesSent, 0);
    assert.equal(await readFile(join(dst, 'd', 'f17'), 'utf8'), 'x');
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});
