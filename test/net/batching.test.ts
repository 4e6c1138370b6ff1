// Requests and answers whose items span several frames, in both directions over one
// connection (plain TCP on 127.0.0.1; the Connection is transport-agnostic). Regression: the
// continuation frames of a many-item request used to repeat `op`, which the peer rejects as
// "request id N reused" and closes the connection (a 20,000-file sync to omirr://).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { Connection, JsonPieces, JsonText, type IncomingRequest } from '../../src/net/connection.js';
import { FrameDecoder, MAX_FRAME, ProtocolError } from '../../src/net/frames.js';

const N = 30_000;

function items(tag: string): Array<{ path: string; size: number }> {
  return Array.from({ length: N }, (_, i) => ({ path: `${tag}/dir-${i % 200}/file-with-a-longer-name-${i}`, size: i }));
}

/** Echo handler: answers with as many items as it got, transformed, plus the op it saw. */
async function echo(req: IncomingRequest): Promise<{ result: unknown; items: unknown[] }> {
  const got = req.items as Array<{ path: string; size: number }>;
  return { result: { op: req.op, args: req.args, n: got.length }, items: got.map((it) => [it.path, it.size * 2]) };
}

async function pair(): Promise<{ client: Connection; server: Connection; raw: Socket; close(): Promise<void> }> {
  let serverConn!: Connection;
  let raw!: Socket;
  const srv = createServer((s) => {
    raw = s;
    serverConn = new Connection(s, { role: 'server' });
    serverConn.open(echo);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const client = new Connection(sock, { role: 'client' });
  client.open(echo);
  while (!serverConn) await new Promise((r) => setImmediate(r));
  return {
    client,
    server: serverConn,
    raw,
    async close() {
      client.destroy();
      serverConn.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

function check(res: { result: unknown; items: unknown[] }, tag: string): void {
  assert.deepEqual(res.result, { op: 'hashFiles', args: { h: 7 }, n: N });
  assert.equal(res.items.length, N);
  const want = items(tag);
  for (let i = 0; i < N; i += 997) assert.deepEqual(res.items[i], [want[i]!.path, want[i]!.size * 2]);
  assert.deepEqual(res.items[N - 1], [want[N - 1]!.path, want[N - 1]!.size * 2]);
}

test(`a request and its answer of ${N} items each, both ways, several at once`, async () => {
  const p = await pair();
  // Count the JSON frames the client receives, to prove the answer really was split.
  const decoder = new FrameDecoder();
  decoder.maxFrame = MAX_FRAME;
  let resFrames = 0;
  let continuationWithOp = 0;
  p.client['socket'].on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) {
      if (f.kind !== 0) continue;
      if (f.msg.t === 'res') resFrames++;
      // a continuation frame (not the first of its request) must not carry op/args
      if (f.msg.t === 'res' && f.msg.result === undefined && f.msg.op !== undefined) continuationWithOp++;
    }
  });
  try {
    const [a, b, c] = await Promise.all([
      p.client.request('hashFiles', { h: 7 }, items('c1')),
      p.server.request('hashFiles', { h: 7 }, items('s1')),
      p.client.request('hashFiles', { h: 7 }, items('c2')),
    ]);
    check(a, 'c1');
    check(b, 's1');
    check(c, 'c2');
    assert.ok(resFrames >= 4, `answers were split over several frames (${resFrames} res frames)`);
    assert.equal(continuationWithOp, 0);
    assert.equal(p.client.isClosed, false);
    assert.equal(p.server.isClosed, false);
  } finally {
    await p.close();
  }
});

test('continuation frames of a request carry only t and id (what the peer reads as reuse otherwise)', async () => {
  const p = await pair();
  const decoder = new FrameDecoder();
  decoder.maxFrame = MAX_FRAME;
  const reqFrames: Record<string, unknown>[] = [];
  p.raw.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) if (f.kind === 0 && f.msg.t === 'req') reqFrames.push(f.msg);
  });
  try {
    await p.client.request('hashFiles', { h: 7 }, items('c1'));
    assert.ok(reqFrames.length >= 2, `request was split (${reqFrames.length} frames)`);
    assert.equal(reqFrames[0]!.op, 'hashFiles');
    for (const f of reqFrames.slice(1)) {
      assert.equal(f.op, undefined);
      assert.equal(f.args, undefined);
      assert.equal(f.id, reqFrames[0]!.id);
    }
    for (const f of reqFrames.slice(0, -1)) assert.equal(f.more, true);
    assert.equal(reqFrames.at(-1)!.more, undefined);
  } finally {
    await p.close();
  }
});

test('items pre-encoded to bytes (JsonPieces) and as text (JsonText): the peer receives the same bytes, in the same frames, as for the values', async () => {
  // non-ASCII names: a tail's length in characters differs from its bytes; data of varying
  // length so that frame boundaries fall beside every kind of item, runs of pieces included
  const values = Array.from({ length: 900 }, (_, i) => ({ seq: i, at: 1_700_000_000_000 + i, path: `dir/fïlé-${i}-ü€`, size: i, data: 'QUJD'.repeat(200 + ((i * 37) % 400)) }));
  const kinds = [0, 1, 2, 2, 2, 1, 0, 2, 2];
  const encoded = values.map((v, i) => {
    const kind = kinds[i % kinds.length];
    if (kind === 0) return v;
    if (kind === 1) return new JsonText(JSON.stringify(v));
    const tail = JSON.stringify(v).slice(`{"seq":${v.seq}`.length);
    return new JsonPieces(`{"seq":${v.seq}`, Buffer.from(tail, 'utf8'), tail.length);
  });
  const received = async (items: unknown[]): Promise<{ bytes: Buffer; frames: number; got: unknown[] }> => {
    const p = await pair();
    const chunks: Buffer[] = [];
    p.raw.on('data', (d: Buffer) => chunks.push(d));
    try {
      const res = await p.client.request('hashFiles', { h: 7 }, items);
      const bytes = Buffer.concat(chunks);
      const decoder = new FrameDecoder();
      decoder.maxFrame = MAX_FRAME;
      const frames = decoder.push(bytes);
      const got = frames.flatMap((f) => (f.kind === 0 ? (f.msg.items as unknown[]) : []));
      assert.equal(res.items.length, items.length);
      return { bytes, frames: frames.length, got };
    } finally {
      await p.close();
    }
  };
  const plain = await received(values);
  const pre = await received(encoded);
  assert.ok(plain.frames >= 3, `split into frames (${plain.frames})`);
  assert.deepEqual(pre.got, values);
  assert.equal(pre.frames, plain.frames);
  assert.ok(pre.bytes.equals(plain.bytes), 'byte for byte the same');

  // a pre-encoded item too large for one frame is refused, as a text one is
  const big = 'A'.repeat(MAX_FRAME);
  const p = await pair();
  try {
    await assert.rejects(p.client.request('hashFiles', {}, [new JsonPieces('{"a":1', Buffer.from(`,"b":"${big}"}`), big.length + 7)]), ProtocolError);
  } finally {
    await p.close();
  }
});
