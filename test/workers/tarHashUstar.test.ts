// A verifying tar stream's common entry with its hash in the ustar header's linkname
// (capability `tar-hash-ustar`): one 512-byte block instead of a pax header, its data block
// and the ustar block. The sender's choice (only when asked), what the receiver reads and
// refuses, and the choice over a real connection, with a peer that has it and one that lacks it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { Expected, Tree } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { RemoteTree, TAR_HASH_USTAR_CAP } from '../../src/net/remoteTree.js';
import { closePools } from '../../src/workers/pool.js';
import { BLOCK, encodeFileHeader, END_OF_ARCHIVE, padding, SHA256_KEY } from '../../src/workers/tarFormat.js';
import { collect, expectedFile, noise, packSource, readTar } from '../helpers/tarFixtures.js';
import { describeTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';
import { serveOneTree } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const MTIME = 1_700_000_000_123;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Plain names (the one-block header), an empty file, a name that needs pax, a resumed file. */
const CONTENT: Record<string, Buffer> = {
  a: noise(1000, 1),
  'd/b': noise(512, 2),
  empty: Buffer.alloc(0),
  [`${'x'.repeat(120)}/long`]: noise(3000, 3),
  resumed: noise(5000, 4),
};
const OFFSETS: Record<string, number> = { resumed: 1000 };
const PLAIN = ['a', 'd/b', 'empty'];

function source(tag: string): ReturnType<typeof packSource> {
  const base = tempDir(tag);
  dirs.push(base);
  return packSource(base, CONTENT, OFFSETS, 1 << 20);
}

/** Each entry's linkname and pax records, as tar-stream (an independent reader) sees them. */
async function headers(buf: Buffer): Promise<Map<string, { linkname: string | null; pax: Record<string, string> }>> {
  const out = new Map<string, { linkname: string | null; pax: Record<string, string> }>();
  const ex = tar.extract();
  ex.on('entry', (h, stream, next) => {
    out.set(h.name, { linkname: h.linkname ?? null, pax: (h as { pax?: Record<string, string> }).pax ?? {} });
    stream.resume();
    stream.on('end', next);
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

/** Plain entries carry the hash in the linkname, the others in pax (as tar-stream reads them). */
async function assertHashPlaces(buf: Buffer): Promise<void> {
  const hs = await headers(buf);
  for (const [path, data] of Object.entries(CONTENT)) {
    const h = hs.get(path)!;
    if (PLAIN.includes(path)) {
      assert.equal(h.linkname, `${SHA256_KEY}=${sha(data)}`, `${path}: the hash in the linkname`);
      assert.equal(h.pax[SHA256_KEY], undefined, `${path}: no pax hash`);
    } else assert.equal(h.pax[SHA256_KEY], sha(data), `${path}: pax as before`);
  }
}

describe('tar streams with the hash in the ustar header (tar-hash-ustar)', () => {
  test('the sender: plain entries carry the hash in one block when asked; long names and resumed files keep pax; not asked: pax for all', async () => {
    const { tree, reqs } = source('ustar-pack');
    const asked = await collect(tree.pack(reqs, { verify: true, hashInHeader: true }));
    await assertHashPlaces(asked);
    const entries = await readTar(asked);
    for (const [p, data] of Object.entries(CONTENT)) assert.ok(entries.get(p)!.data.equals(data.subarray(OFFSETS[p] ?? 0)), p);
    const notAskedBuf = await collect(tree.pack(reqs, { verify: true }));
    assert.equal(notAskedBuf.length - asked.length, PLAIN.length * 2 * BLOCK, 'a plain entry is one header block instead of three');
    const notAsked = await headers(notAskedBuf);
    for (const [p, data] of Object.entries(CONTENT)) {
      assert.equal(notAsked.get(p)!.pax[SHA256_KEY], sha(data), p);
      assert.ok(!notAsked.get(p)!.linkname, p);
    }
    // hashInHeader without verify: no hash anywhere
    for (const h of (await headers(await collect(tree.pack(reqs, { hashInHeader: true })))).values()) assert.deepEqual([h.linkname || undefined, h.pax[SHA256_KEY]], [undefined, undefined]);
  });

  test('the receiver checks the hash it reads from the linkname: whole files written, a byte changed in transit fails', async () => {
    const { tree } = source('ustar-unpack');
    const dst = tempDir('ustar-unpack-dst');
    dirs.push(dst);
    const plain = PLAIN.map((path) => ({ path }));
    const expect = (): Expected[] => PLAIN.map((p) => expectedFile(p, CONTENT[p]!, MTIME));
    mkdirSync(join(dst, 'd'));
    const r = await new LocalTree(dst, { writable: true }).unpack(tree.pack(plain, { verify: true, hashInHeader: true }), expect());
    assert.deepEqual(r.failed, []);
    for (const p of PLAIN) assert.equal(sha(readFileSync(join(dst, p))), sha(CONTENT[p]!), p);

    // the receiver has no hash of its own here: only the linkname's can catch the flip
    const buf = await collect(tree.pack([{ path: 'a' }], { verify: true, hashInHeader: true }));
    buf[BLOCK + 10] ^= 1;
    const dst2 = tempDir('ustar-flip');
    dirs.push(dst2);
    const bad = await new LocalTree(dst2, { writable: true }).unpack(Readable.from([buf]), [expectedFile('a', CONTENT.a!, MTIME)]);
    assert.deepEqual(bad.written, []);
    assert.match(bad.failed[0]!.error, /hash mismatch/);
    assert.deepEqual(describeTree(dst2), {});
  });

  /** A one-file stream whose ustar block's linkname (bytes 157..256) is `link`; the checksum is made to match. */
  function withLinkname(data: Buffer, link: string, pax?: Record<string, string>): Buffer {
    const header = encodeFileHeader('f', data.length, 0o644, MTIME, pax);
    const b = header.subarray(header.length - BLOCK);
    b.write(link, 157, 100, 'latin1');
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += b[i]!;
    b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    return Buffer.concat([header, data, Buffer.alloc(padding(data.length)), END_OF_ARCHIVE]);
  }

  const data = Buffer.from('x');
  for (const [label, stream] of [
    ['a linkname that is not a hash record', withLinkname(data, 'some/other/file')],
    ['uppercase hex digits', withLinkname(data, `${SHA256_KEY}=${sha(data).toUpperCase()}`)],
    ['a short hash', withLinkname(data, `${SHA256_KEY}=abcd`)],
    ['an unknown key', withLinkname(data, `omirr.sha512=${sha(data)}`)],
    ['a hash both in pax and in the linkname', withLinkname(data, `${SHA256_KEY}=${sha(data)}`, { [SHA256_KEY]: sha(data) })],
  ] as const) {
    test(`a stream with ${label} is refused, nothing written`, async () => {
      const root = tempDir('ustar-hostile');
      dirs.push(root);
      await assert.rejects(new LocalTree(root, { writable: true }).unpack(Readable.from([stream]), [expectedFile('f', data, MTIME)]));
      assert.deepEqual(describeTree(root), {});
      assert.deepEqual(tempFiles(root), []);
    });
  }

  test('the same stream with a well-formed linkname hash is taken (the refusals above are the field, not the helper)', async () => {
    const root = tempDir('ustar-good');
    dirs.push(root);
    const r = await new LocalTree(root, { writable: true }).unpack(Readable.from([withLinkname(data, `${SHA256_KEY}=${sha(data)}`)]), [expectedFile('f', data, MTIME)]);
    assert.deepEqual(r.written, ['f']);
  });

  test('over a connection: a push and a pull use one-block headers with a peer that has tar-hash-ustar, pax with one that lacks it', async () => {
    const { root } = source('ustar-net');
    const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, noise(100 + i, i)]));
    const src = join(root, '..', 'push-src');
    mkdirSync(src);
    for (const [p, d] of Object.entries(files)) writeFileSync(join(src, p), d);
    mkdirSync(join(root, '..', 'push-dst'));
    const served = await serveOneTree(join(root, '..', 'push-dst'));
    const trees: Tree[] = [];
    try {
      const { client, server, url } = served;
      // a push through syncTrees: 200 files of one block each, not three
      const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
      trees.push(remote);
      assert.equal((remote as RemoteTree).tarHashInHeader, true);
      await syncTrees(new LocalTree(src, { writable: false }), remote, { delete: true });
      const sent = (remote as RemoteTree).wireBytes().sent;
      for (const [p, d] of Object.entries(files)) assert.equal(sha(readFileSync(join(root, '..', 'push-dst', p))), sha(d), p);
      const payload = Object.values(files).reduce((n, d) => n + d.length + padding(d.length), 0);
      assert.ok(sent < payload + 200 * 2 * BLOCK, `sent ${sent}: one header block a file (payload ${payload})`);

      // a pull of the served tree's files: asked for one-block headers, it sends them
      const reqs = Object.keys(files).slice(0, 3).map((path) => ({ path }));
      const pulled = await headers(await collect(remote.pack(reqs, { verify: true, hashInHeader: true })));
      for (const { path } of reqs) assert.equal(pulled.get(path)!.linkname, `${SHA256_KEY}=${sha(files[path]!)}`);

      // an older peer: the session without the capability gets (and sends) pax headers
      const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
      assert.ok(session.caps.includes(TAR_HASH_USTAR_CAP));
      const old = await RemoteTree.open(conn, { tree: 't', write: true }, url, () => conn.closeAndWait(), session.caps.filter((c) => c !== TAR_HASH_USTAR_CAP));
      trees.push(old);
      assert.equal(old.tarHashInHeader, false);
      const oldPulled = await headers(await collect(old.pack(reqs, { verify: true, hashInHeader: true })));
      for (const { path } of reqs) {
        assert.ok(!oldPulled.get(path)!.linkname, path);
        assert.equal(oldPulled.get(path)!.pax[SHA256_KEY], sha(files[path]!), path);
      }
      // one changed file of the same size through each: the older peer's stream is two blocks longer
      const pushOne = async (t: RemoteTree, path: string): Promise<number> => {
        writeFileSync(join(src, path), noise(700, 99));
        const before = t.wireBytes().sent;
        await syncTrees(new LocalTree(src, { writable: false }), t, { delete: true });
        assert.ok(readFileSync(join(root, '..', 'push-dst', path)).equals(noise(700, 99)), path);
        return t.wireBytes().sent - before;
      };
      const withCap = await pushOne(remote as RemoteTree, 'f1');
      const without = await pushOne(old, 'f2');
      assert.ok(without - withCap >= 2 * BLOCK - 64 && without - withCap <= 2 * BLOCK + 64, `older peer ${without} bytes, with the capability ${withCap}`);

      // a `pack` whose hashInHeader is not a boolean ends that connection; the server serves on
      for (const v of ['yes', 1, {}]) {
        const { conn: bad } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
        const { result } = await bad.request('open', { tree: 't', sub: '', write: false, create: false });
        const h = (result as { handle: number }).handle;
        const call = bad.call('pack', { h, verify: true, hashInHeader: v }, [{ path: 'f0' }], { download: true });
        call.download!.on('error', () => undefined).resume();
        await assert.rejects(call.done, Error, `hashInHeader ${JSON.stringify(v)} refused`);
        await bad.closed;
      }
      const again = await headers(await collect(remote.pack(reqs, { verify: true, hashInHeader: true })));
      assert.equal(again.get('f0')!.linkname, `${SHA256_KEY}=${sha(readFileSync(join(src, 'f0')))}`);
    } finally {
      for (const t of trees) await t.close();
      await served.server.close();
    }
  });
});
