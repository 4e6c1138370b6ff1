// Small files travel inside their change records (capability `inline`): real daemons on
// 127.0.0.1. A small file reaches the peer, and the next one down a chain, without a
// fetch; a large one is fetched. A hostile peer's inline contents (wrong bytes for the
// hash, wrong size) never land under a real name, and cost it at most its connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';
import { connectPeer } from '../../src/net/client.js';
import { loadKey } from '../../src/net/keys.js';
import { RemoteError } from '../../src/net/connection.js';
import { PEER_CHANGES_OP } from '../../src/daemon/peerProtocol.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

test('small files reach the peers inline (no fetch), relayed down a chain; a large one is fetched', async (t) => {
  const c = await Cluster.create(['a', 'b', 'c'], { links: [['a', 'b'], ['b', 'c']] });
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const stats = async (n: string) => (await c.status(n)).trees[0]!.stats!;
  const [b0, c0] = [await stats('b'), await stats('c')];

  const small = randomBytes(4096);
  writeFileSync(join(c.dir, 'small.tmp'), small);
  renameSync(join(c.dir, 'small.tmp'), join(c.tree('a'), 'small.bin'));
  let snap = await c.converge();
  assert.ok(snap['small.bin']?.startsWith(`file:${sha(small)}:`));
  assert.equal(sha(readFileSync(join(c.tree('c'), 'small.bin'))), sha(small));
  const [b1, c1] = [await stats('b'), await stats('c')];
  assert.equal(b1.fetches - b0.fetches, 0, 'b fetched nothing');
  assert.equal(b1.filesInline - b0.filesInline, 1, 'b took the content from the record');
  assert.equal(c1.fetches - c0.fetches, 0, 'c fetched nothing: b relayed the bytes it was sent');
  assert.equal(c1.filesInline - c0.filesInline, 1);

  const large = randomBytes(200 * 1024); // above the 64 KiB inline limit
  // written beside the tree and renamed in: one version (a plain write of 200 KiB can be seen half-way)
  writeFileSync(join(c.dir, 'large.tmp'), large);
  renameSync(join(c.dir, 'large.tmp'), join(c.tree('a'), 'large.bin'));
  snap = await c.converge();
  assert.ok(snap['large.bin']?.startsWith(`file:${sha(large)}:`));
  const b2 = await stats('b');
  assert.equal(b2.fetches - b1.fetches, 1, 'the large file was fetched');
  assert.equal(b2.filesInline, b1.filesInline);
  await waitNoPartialFiles([c.tree('a'), c.tree('b'), c.tree('c')]);
});

test('a hostile peer: inline bytes that do not match the hash are never placed; a wrong size closes its connection only', async (t) => {
  // x is b's configured peer but runs no daemon: the test speaks for it, with x's key
  const c = await Cluster.create(['a', 'b', 'x'], { links: [['a', 'b'], ['b', 'x']] });
  t.after(() => c.close());
  await c.start('a');
  await c.start('b');
  await until(async () => ((await c.status('b')).peers.find((p) => p.name === 'a')?.state === 'live' ? true : undefined), 'a-b live');
  const b = c.nodes.get('b')!;
  const x = c.nodes.get('x')!;
  const fetched: string[] = [];
  const { conn } = await connectPeer('127.0.0.1', b.port, {
    nodeKey: loadKey(x.key),
    node: 'x',
    pin: b.fingerprint,
    // b asks for the content it could not verify: refused, so its batch fails
    handler: async (req) => {
      fetched.push(...req.items.map((i) => (i as { path: string }).path));
      throw new RemoteError('not-found', 'no content for you');
    },
  });
  t.after(() => conn.close('test over'));
  const claimed = Buffer.from('the content the hash promises\n');
  const sent = Buffer.from('something else, same length!!\n');
  assert.equal(claimed.length, sent.length);
  const record = (path: string, data: Buffer, size = data.length) => ({
    seq: 1,
    at: Date.now(),
    change: { tree: 'data', rec: { entry: { path, kind: 'file', size, mtimeMs: Date.now(), mode: 0o644, hash: sha(claimed) }, version: { x: Date.now() } } },
    data: data.toString('base64'),
  });

  // 1. wrong bytes for the hash: not written; b fetches instead (refused here), and the batch fails
  await assert.rejects(conn.request(PEER_CHANGES_OP, { first: 1, last: 1 }, [record('forged.txt', sent)]));
  assert.deepEqual(fetched, ['forged.txt'], 'b fell back to fetching the content');
  assert.equal(existsSync(join(c.tree('b'), 'forged.txt')), false, 'nothing under the real name');

  // 2. inline bytes of another size than the record says: a protocol violation, this connection closes
  await assert.rejects(conn.request(PEER_CHANGES_OP, { first: 2, last: 2 }, [record('short.txt', sent.subarray(0, 5), sent.length)]));
  await conn.closed;
  assert.equal(existsSync(join(c.tree('b'), 'short.txt')), false);

  // 3. a fetch of a tree b does not share with x: an error answer, nothing else (this used to
  //    surface as an unhandled stream error in the answering process)
  const again = await connectPeer('127.0.0.1', b.port, { nodeKey: loadKey(x.key), node: 'x', pin: b.fingerprint });
  t.after(() => again.conn.close('test over'));
  const call = again.conn.call('peer.fetch', { tree: 'not-shared' }, [{ path: 'a.txt' }], { download: true });
  call.download?.on('error', () => undefined);
  await assert.rejects(call.done, /no tree/);

  // b is still up, and still mirrors with a
  writeFileSync(join(c.tree('a'), 'after.txt'), 'still mirroring\n');
  const snap = await c.converge(['a', 'b']);
  assert.ok(snap['after.txt']?.startsWith(`file:${sha('still mirroring\n')}:`));
  assert.equal(snap['forged.txt'], undefined);
});
