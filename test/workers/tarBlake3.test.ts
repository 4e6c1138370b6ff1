// Large files of a verifying tar stream go with their BLAKE3 (`omirr.blake3`) where both ends
// can check it (capability `tar-blake3`): the sender's choice per file (tarHashFor), the
// receiver's check of either hash, what it refuses, and the choice over a real connection.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Expected, PackRequest, Tree } from '../../src/core/tree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { tempPathFor } from '../../src/engine/paths.js';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { RemoteTree } from '../../src/net/remoteTree.js';
import { newHasher, TAR_BLAKE3_CAP, TAR_BLAKE3_MIN_BYTES } from '../../src/workers/contentHash.js';
import { closePools } from '../../src/workers/pool.js';
import { BLAKE3_KEY, encodeFileHeader, END_OF_ARCHIVE, padding, SHA256_KEY } from '../../src/workers/tarFormat.js';
import { collect, expectedFile, noise, packSource, readTar, type TarEntry } from '../helpers/tarFixtures.js';
import { describeTree, removeDir, tempDir, tempFiles } from '../helpers/engineFixtures.js';
import { makeKey, serveOneTree, startServe, writeConfig } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

/** Batches of 1 MiB: the large files span several (the `cont` path, and the look-ahead hash). */
const BATCH = 1 << 20;
const MTIME = 1_700_000_000_123;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const b3 = (b: Buffer): string => {
  const h = newHasher('blake3');
  h.update(b);
  return h.digest().toString('hex');
};


const CONTENT: Record<string, Buffer> = {
  small: noise(1000, 1),
  'just-under': noise(TAR_BLAKE3_MIN_BYTES - 4, 2),
  large: noise(TAR_BLAKE3_MIN_BYTES, 3),
  'resumed-large': noise(TAR_BLAKE3_MIN_BYTES + 300_000, 4),
  [`${'d'.repeat(120)}/${'long'.repeat(10)}`]: noise(TAR_BLAKE3_MIN_BYTES + 8, 5),
};
/** What the receiver already has of the resumed file. */
const OFFSETS: Record<string, number> = { 'resumed-large': 1_500_000 };
const isLarge = (p: string): boolean => CONTENT[p]!.length >= TAR_BLAKE3_MIN_BYTES;

function sourceTree(tag: string): { root: string; tree: LocalTree; reqs: PackRequest[] } {
  const base = tempDir(tag);
  dirs.push(base);
  return packSource(base, CONTENT, OFFSETS, BATCH);
}

const expected = (path: string, withHash = false): Expected => expectedFile(path, CONTENT[path]!, MTIME, withHash);

/** Each entry's hash key: omirr.blake3 (BLAKE3 of the whole file) for the large ones, omirr.sha256 for the rest. */
function assertHashes(entries: Map<string, TarEntry>, blake3: boolean): void {
  assert.deepEqual([...entries.keys()].sort(), Object.keys(CONTENT).sort());
  for (const [path, data] of Object.entries(CONTENT)) {
    const e = entries.get(path)!;
    assert.ok(e.data.equals(data.subarray(OFFSETS[path] ?? 0)), `${path}: data from its offset`);
    if (blake3 && isLarge(path)) {
      assert.equal(e.pax[BLAKE3_KEY], b3(data), `${path}: BLAKE3 of the whole file`);
      assert.equal(e.pax[SHA256_KEY], undefined, path);
    } else {
      assert.equal(e.pax[SHA256_KEY], sha(data), `${path}: sha256 of the whole file`);
      assert.equal(e.pax[BLAKE3_KEY], undefined, path);
    }
  }
}

describe('tar streams with BLAKE3 for large files', () => {
  test('the sender: BLAKE3 for files of TAR_BLAKE3_MIN_BYTES and more (spanning batches, resumed, long names), sha256 below', async () => {
    const { tree, reqs } = sourceTree('tarb3-pack');
    assertHashes(await readTar(await collect(tree.pack(reqs, { verify: true, blake3: true }))), true);
    // with size hints the large files are hashed ahead, with the algorithm their entry names
    const hinted = reqs.map((r) => ({ ...r, size: CONTENT[r.path]!.length }));
    assertHashes(await readTar(await collect(tree.pack(hinted, { verify: true, blake3: true }))), true);
    // not asked: sha256 for every file, as before
    assertHashes(await readTar(await collect(tree.pack(hinted, { verify: true }))), false);
    // blake3 without verify: no hash at all
    for (const e of (await readTar(await collect(tree.pack(reqs, { blake3: true })))).values()) assert.deepEqual(e.pax[BLAKE3_KEY] ?? e.pax[SHA256_KEY], undefined);
  });

  test('the receiver checks the BLAKE3 it was sent, resumed files included (their prefix in the hash)', async () => {
    const { root, tree, reqs } = sourceTree('tarb3-unpack');
    const dst = join(root, '..', 'dst');
    mkdirSync(join(dst, 'd'.repeat(120)), { recursive: true });
    for (const [p, off] of Object.entries(OFFSETS)) writeFileSync(join(dst, tempPathFor(expected(p))), CONTENT[p]!.subarray(0, off));
    const r = await new LocalTree(dst, { writable: true }).unpack(tree.pack(reqs, { verify: true, blake3: true }), Object.keys(CONTENT).map((p) => expected(p)));
    assert.deepEqual(r.failed, []);
    for (const [p, data] of Object.entries(CONTENT)) assert.equal(sha(readFileSync(join(dst, p))), sha(data), p);
    assert.deepEqual(tempFiles(dst), []);
  });

  test('a byte changed in transit, or a resumed prefix that is not the source\'s, fails the BLAKE3 check: no file, no temporary', async () => {
    const { tree } = sourceTree('tarb3-flip');
    const buf = await collect(tree.pack([{ path: 'large' }], { verify: true, blake3: true }));
    const data = CONTENT.large!;
    const at = buf.indexOf(data.subarray(data.length - 32)) + 31;
    assert.ok(at > 31);
    buf[at] ^= 1;
    const dst = tempDir('tarb3-flip-dst');
    dirs.push(dst);
    const r = await new LocalTree(dst, { writable: true }).unpack(Readable.from([buf]), [expected('large')]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, /hash mismatch: expected blake3/);
    assert.deepEqual(describeTree(dst), {});

    const p = 'resumed-large';
    const bad = Buffer.from(CONTENT[p]!.subarray(0, OFFSETS[p]));
    bad[7] ^= 0xff;
    writeFileSync(join(dst, tempPathFor(expected(p))), bad);
    const r2 = await new LocalTree(dst, { writable: true }).unpack(tree.pack([{ path: p, offset: OFFSETS[p]! }], { verify: true, blake3: true }), [expected(p)]);
    assert.deepEqual(r2.written, []);
    assert.match(r2.failed[0]!.error, /hash mismatch/);
    assert.deepEqual(describeTree(dst), {});
  });

  test('the receiver\'s own sha256 decides over a BLAKE3 sent with the file (a source changed since it was listed fails)', async () => {
    const { tree } = sourceTree('tarb3-own');
    const dst = tempDir('tarb3-own-dst');
    dirs.push(dst);
    const ok = await new LocalTree(dst, { writable: true }).unpack(tree.pack([{ path: 'large' }], { verify: true, blake3: true }), [expected('large', true)]);
    assert.deepEqual(ok.written, ['large']);
    const stale = { ...expected('large'), hash: sha(Buffer.from('an older version')) };
    const r = await new LocalTree(tempDir('tarb3-own-dst2'), { writable: true }).unpack(tree.pack([{ path: 'large' }], { verify: true, blake3: true }), [stale]);
    assert.deepEqual(r.written, []);
    assert.match(r.failed[0]!.error, /hash mismatch: expected sha256/);
  });

  for (const [label, pax] of [
    ['both hashes', { [SHA256_KEY]: sha(Buffer.from('x')), [BLAKE3_KEY]: b3(Buffer.from('x')) }],
    ['a malformed omirr.blake3', { [BLAKE3_KEY]: 'F'.repeat(64) }],
    ['a short omirr.blake3', { [BLAKE3_KEY]: 'ab' }],
  ] as const) {
    test(`a stream with ${label} is refused, nothing written`, async () => {
      const root = tempDir('tarb3-hostile');
      dirs.push(root);
      const data = Buffer.from('x');
      const stream = Buffer.concat([encodeFileHeader('f', 1, 0o644, MTIME, pax), data, Buffer.alloc(padding(1)), END_OF_ARCHIVE]);
      const f: Expected = { path: 'f', kind: 'file', size: 1, mtimeMs: MTIME, mode: 0o644 };
      await assert.rejects(new LocalTree(root, { writable: true }).unpack(Readable.from([stream]), [f]));
      assert.deepEqual(describeTree(root), {});
      assert.deepEqual(tempFiles(root), []);
    });
  }

  test('over a connection: BLAKE3 where the session has tar-blake3, sha256 with a peer that lacks it', async () => {
    const { root } = sourceTree('tarb3-net');
    const { server, url, client } = await serveOneTree(root);
    const reqs = Object.keys(CONTENT).map((path) => (OFFSETS[path] ? { path, offset: OFFSETS[path], size: CONTENT[path]!.length } : { path, size: CONTENT[path]!.length }));
    const trees: Tree[] = [];
    try {
      const both = await connectTree(url, { nodeKey: client, pin: server.fingerprint });
      trees.push(both);
      assert.deepEqual(both.tarHashes, ['blake3']);
      assertHashes(await readTar(await collect(both.pack(reqs, { verify: true, blake3: true }))), true);

      // an older peer: the session without the capability
      const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
      assert.ok(session.caps.includes(TAR_BLAKE3_CAP));
      const old = await RemoteTree.open(conn, { tree: 't' }, url, () => conn.closeAndWait(), session.caps.filter((c) => c !== TAR_BLAKE3_CAP));
      trees.push(old);
      assert.deepEqual(old.tarHashes, []);
      assertHashes(await readTar(await collect(old.pack(reqs, { verify: true, blake3: true }))), false);
    } finally {
      for (const t of trees) await t.close();
      await server.close();
    }
  });

  test('a hostile client pushing omirr.blake3 to an `omirr serve` that cannot check BLAKE3: that connection ends, nothing is written, the server serves on', async () => {
    const base = tempDir('tarb3-serve');
    dirs.push(base);
    makeKey(base, 'alpha');
    const client = makeKey(base, 'beta');
    mkdirSync(join(base, 'remote'));
    const config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = remote remote beta rw']);
    const serve = await startServe(config, { OMIRR_NO_BLAKE3: '1' });
    try {
      const url = `omirr://127.0.0.1:${serve.port}/remote`;
      const data = Buffer.from('pushed with a hash the receiver cannot check\n');
      const f: Expected = { path: 'f', kind: 'file', size: data.length, mtimeMs: MTIME, mode: 0o644 };
      const stream = Buffer.concat([encodeFileHeader('f', data.length, 0o644, MTIME, { [BLAKE3_KEY]: b3(data) }), data, Buffer.alloc(padding(data.length)), END_OF_ARCHIVE]);
      const hostile = await connectTree(url, { nodeKey: client.key, pin: serve.fingerprint, writable: true });
      assert.deepEqual(hostile.tarHashes, [], 'the server offered no tar-blake3');
      await assert.rejects(hostile.unpack(Readable.from([stream]), [f]), /omirr\.blake3 for f, and this end cannot check BLAKE3/);
      await hostile.close().catch(() => undefined);
      assert.deepEqual(describeTree(join(base, 'remote')), {});
      assert.deepEqual(tempFiles(join(base, 'remote')), []);
      // the server is still up: an honest client's push arrives, verified with sha256
      const honest = await connectTree(url, { nodeKey: client.key, pin: serve.fingerprint, writable: true });
      const src = join(base, 'src');
      mkdirSync(src);
      writeFileSync(join(src, 'f'), data);
      const r = await honest.unpack(new LocalTree(src, { writable: false }).pack([{ path: 'f' }], { verify: true, blake3: true }), [f]);
      await honest.close();
      assert.deepEqual(r.written, ['f']);
      assert.equal(sha(readFileSync(join(base, 'remote', 'f'))), sha(data));
    } finally {
      await serve.stop();
    }
  });
});
