// The protocol end to end in one process, over real TLS on 127.0.0.1, against a fake Tree:
// batching of big answers, byte streams both ways with flow control, errors, authentication.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Entry } from '../../src/core/entry.js';
import type { Expected, OpResult, PackRequest, Tree, TreeOp, UnpackResult } from '../../src/core/tree.js';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { fingerprint, nodeKeyFromPem } from '../../src/net/keys.js';
import { serveTrees, type OmirrServer } from '../../src/net/server.js';

const BIG = 20 * 1024 * 1024;

class FakeTree implements Tree {
  readonly label = 'fake';
  received: { hash: string; bytes: number; expect: number } | undefined;
  packedBytes = 0;
  constructor(readonly writable: boolean) {}
  async scan(): Promise<Entry[]> {
    return Array.from({ length: 100_000 }, (_, i) => ({ path: `d/file-${i}`, kind: 'file' as const, size: i, mtimeMs: 1_700_000_000_000 + i, mode: 0o644 }));
  }
  async hashFiles(paths: string[]): Promise<Map<string, string>> {
    return new Map(paths.map((p) => [p, createHash('sha256').update(p).digest('hex')]));
  }
  pack(files: PackRequest[]): Readable {
    if (files[0]?.path === 'fail') {
      let n = 0;
      return new Readable({
        read() {
          if (n++ < 3) this.push(Buffer.alloc(100_000, 1));
          else this.destroy(new Error('disk on fire'));
        },
      });
    }
    let sent = 0;
    const self = this;
    return new Readable({
      read() {
        if (sent >= BIG) return void this.push(null);
        const chunk = Buffer.alloc(64 * 1024, sent % 251);
        sent += chunk.length;
        self.packedBytes = sent;
        this.push(chunk);
      },
    });
  }
  async unpack(tar: Readable, expect: Expected[]): Promise<UnpackResult> {
    const h = createHash('sha256');
    let bytes = 0;
    for await (const c of tar) {
      h.update(c as Buffer);
      bytes += (c as Buffer).length;
    }
    this.received = { hash: h.digest('hex'), bytes, expect: expect.length };
    return { written: expect.map((e) => e.path), failed: [], bytes };
  }
  async resumeOffsets(expect: Expected[]): Promise<Map<string, number>> {
    return new Map(expect.map((e) => [e.path, 7]));
  }
  async apply(ops: TreeOp[]): Promise<OpResult[]> {
    return ops.map((o) => ({ path: o.path, ok: o.op !== 'remove', ...(o.op === 'remove' ? { error: 'nope' } : {}) }));
  }
  async close(): Promise<void> {}
}

async function withServer(fn: (s: OmirrServer, fake: FakeTree, clientPem: string) => Promise<void>, secret?: Buffer): Promise<void> {
  const serverKey = nodeKeyFromPem(undefined, 'srv');
  const clientPem = nodeKeyFromPem().keyPem;
  const client = nodeKeyFromPem(clientPem);
  const fake = new FakeTree(true);
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: serverKey,
    node: 'srv',
    trees: [
      { name: 'rw', path: '/', writable: true },
      { name: 'ro', path: '/', writable: false },
      { name: 'private', path: '/', writable: true, peers: ['someone-else'] },
    ],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
    secret,
    openLocal: () => fake,
  });
  try {
    await fn(server, fake, clientPem);
  } finally {
    await server.close();
  }
}

test('requests, batched answers and streams both ways with flow control', async () => {
  await withServer(async (server, fake, clientPem) => {
    const nodeKey = nodeKeyFromPem(clientPem);
    const t = await connectTree(`omirr://127.0.0.1:${server.address.port}/rw`, { nodeKey, pin: server.fingerprint, writable: true });
    assert.equal(t.writable, true);
    const entries = await t.scan();
    assert.equal(entries.length, 100_000, 'an answer bigger than a frame arrives whole');
    assert.equal(entries[99_999]!.path, 'd/file-99999');
    const paths = entries.slice(0, 30_000).map((e) => e.path);
    const hashes = await t.hashFiles(paths);
    assert.equal(hashes.size, 30_000, 'a request bigger than a frame arrives whole');
    assert.equal(hashes.get('d/file-5'), createHash('sha256').update('d/file-5').digest('hex'));

    // download: the server may not run ahead of a consumer that does not read
    const rs = t.pack([{ path: 'x' }]);
    await new Promise((r) => rs.once('readable', r));
    const deadline = Date.now() + 300;
    while (Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.ok(fake.packedBytes < 8 * 1024 * 1024, `server produced only a few windows ahead (${fake.packedBytes})`);
    const h = createHash('sha256');
    let n = 0;
    for await (const c of rs) {
      h.update(c as Buffer);
      n += (c as Buffer).length;
    }
    assert.equal(n, BIG);

    // upload
    const expect: Expected[] = [{ path: 'a', kind: 'file', size: BIG, mtimeMs: 1, mode: 0o644 }];
    let sent = 0;
    const up = new Readable({
      read() {
        if (sent >= BIG) return void this.push(null);
        const c = Buffer.alloc(100_000, 3);
        sent += c.length;
        this.push(c.subarray(0, Math.min(c.length, BIG - sent + c.length)));
      },
    });
    const r = await t.unpack(up, expect);
    assert.deepEqual(r.written, ['a']);
    assert.equal(fake.received?.expect, 1);
    assert.ok(fake.received!.bytes >= BIG);

    assert.deepEqual([...(await t.resumeOffsets(expect))], [['a', 7]]);
    assert.deepEqual(await t.apply([{ op: 'mkdir', path: 'd', mode: 0o755 }, { op: 'remove', path: 'x' }]), [
      { path: 'd', ok: true },
      { path: 'x', ok: false, error: 'nope' },
    ]);

    // a failing pack destroys the client's stream with the server's error; the link survives
    const bad = t.pack([{ path: 'fail' }]);
    await assert.rejects(async () => {
      for await (const _ of bad) void _;
    }, /disk on fire/);
    assert.equal((await t.scan()).length, 100_000, 'still usable after a failed stream');
    await t.close();
  });
});

test('read-only and hidden trees; unknown keys refused; pins checked before talking', async () => {
  await withServer(async (server, _fake, clientPem) => {
    const nodeKey = nodeKeyFromPem(clientPem);
    const url = `omirr://127.0.0.1:${server.address.port}`;
    await assert.rejects(connectTree(`${url}/ro`, { nodeKey, pin: server.fingerprint, writable: true }), /read-only/);
    const ro = await connectTree(`${url}/ro`, { nodeKey, pin: server.fingerprint });
    await assert.rejects(ro.apply([{ op: 'remove', path: 'x' }]), /read-only/);
    await assert.rejects(ro.unpack(Readable.from([Buffer.alloc(10)]), []), /read-only/);
    await ro.close();
    await assert.rejects(connectTree(`${url}/private`, { nodeKey, pin: server.fingerprint }), /no tree "private"/);
    await assert.rejects(connectTree(`${url}/absent`, { nodeKey, pin: server.fingerprint }), /no tree "absent"/);
    await assert.rejects(connectTree(`${url}/rw`, { pin: server.fingerprint }), /refused by server: not authenticated/);
    await assert.rejects(connectTree(`${url}/rw`, { nodeKey, pin: 'SHA256:' + 'x'.repeat(43) }), /is not the pinned/);
    await assert.rejects(connectTree(`${url}/rw`, { nodeKey }), /no way to authenticate the server/);
  });
});

test('shared secret: mutual proof bound to the TLS session', async () => {
  const secret = Buffer.from('correct horse battery staple');
  await withServer(async (server) => {
    const url = `omirr://127.0.0.1:${server.address.port}/rw`;
    // no key, no pin: the secret authenticates both sides
    const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { secret, node: 'laptop' });
    assert.equal(session.peer, 'srv');
    assert.equal(session.version, 1);
    assert.deepEqual(session.caps, ['tree', 'push', 'ping', 'inline', 'delta', 'delta-lanes32', 'listing-bin', 'prepare', 'root-attrs', 'apply-after', 'tar-hash-ustar', 'listing-same', 'hash-blake3', 'hash-blake3-ranges', 'tar-blake3']);
    await conn.closeAndWait();
    await assert.rejects(connectTree(url, { secret: 'the wrong secret, long enough' }), /refused by server/);
  }, secret);
  // a server without the secret cannot fake a welcome: the client refuses it
  await withServer(async (server, _f, clientPem) => {
    await assert.rejects(
      connectTree(`omirr://127.0.0.1:${server.address.port}/rw`, { nodeKey: nodeKeyFromPem(clientPem), secret }),
      /did not prove it knows the shared secret/,
    );
  });
});

test('a client without a key file presents no certificate (the secret authenticates it); one with a key presents that key', async () => {
  // a bare TLS server that asks for a client certificate, as omirr's listener does, and
  // records what came: the connection then ends (it speaks no omirr)
  const { createServer } = await import('node:tls');
  const serverKey = nodeKeyFromPem(undefined, 'srv');
  const seen: Array<string | undefined> = [];
  const tls = createServer({ key: serverKey.keyPem, cert: serverKey.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => {
    const cert = socket.getPeerX509Certificate();
    seen.push(cert ? fingerprint(cert.publicKey) : undefined);
    socket.destroy();
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  const port = (tls.address() as { port: number }).port;
  try {
    const secret = Buffer.from('correct horse battery staple');
    await assert.rejects(connectPeer('127.0.0.1', port, { secret, timeoutMs: 5000 }));
    const mine = nodeKeyFromPem(undefined, 'me');
    await assert.rejects(connectPeer('127.0.0.1', port, { secret, nodeKey: mine, timeoutMs: 5000 }));
    assert.deepEqual(seen, [undefined, mine.fingerprint]);
  } finally {
    await new Promise((r) => tls.close(r));
  }
});

test('an upload past its bound closes that connection only, even when nobody reads the stream', async () => {
  // The tree never reads the upload (as when a consumer gave up and dropped its listeners):
  // when the peer then oversends, the connection is torn down with an error on a stream that
  // has no listener. That must not become an uncaught exception (it took `omirr serve` down).
  const serverKey = nodeKeyFromPem(undefined, 'srv');
  const clientPem = nodeKeyFromPem().keyPem;
  const client = nodeKeyFromPem(clientPem);
  const lazy = new FakeTree(true);
  lazy.unpack = () => new Promise<UnpackResult>(() => undefined);
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: serverKey,
    node: 'srv',
    trees: [{ name: 'rw', path: '/', writable: true }],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
    openLocal: () => lazy,
  });
  try {
    const url = `omirr://127.0.0.1:${server.address.port}/rw`;
    const t = await connectTree(url, { nodeKey: client, pin: serverKey.fingerprint, writable: true });
    const huge = Readable.from((function* () {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(256 * 1024, i);
    })());
    const expect: Expected[] = [{ path: 'small', kind: 'file', size: 5, mtimeMs: 0, mode: 0o644 }];
    await t.unpack(huge, expect).catch(() => undefined);
    await t.close().catch(() => undefined);
    // the server is still there and serves the next client
    const t2 = await connectTree(url, { nodeKey: client, pin: serverKey.fingerprint });
    assert.equal((await t2.scan()).length, 100_000);
    await t2.close();
  } finally {
    await server.close();
  }
});
