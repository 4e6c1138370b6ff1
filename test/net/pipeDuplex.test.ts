// The protocol connection over two real pipes (PipeDuplex: what ssh:// and `serve --stdio`
// run on), each way through a `cat` child, so every byte crosses a kernel pipe as it does
// through ssh. The connection streams data pieces and gives pack buffers back for reuse only
// because the pipes copy before their write callback and read into fresh buffers: these
// tests try to break each of those.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { PassThrough, Readable } from 'node:stream';
import { Connection } from '../../src/net/connection.js';
import { PipeDuplex, transportCopies } from '../../src/net/pipeDuplex.js';
import { markPackBuffer, takePackBuffer } from '../../src/engine/packBuffers.js';

/** A client and a server connection joined by two `cat` pipes. */
function catPair(t: { after(f: () => void): void }): { client: Connection; server: Connection } {
  const up = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const down = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kids: ChildProcess[] = [up, down];
  t.after(() => kids.forEach((k) => k.kill()));
  const client = new Connection(new PipeDuplex(down.stdout!, up.stdin!), { role: 'client', label: 'client' });
  const server = new Connection(new PipeDuplex(up.stdout!, down.stdin!), { role: 'server', label: 'server' });
  client.open();
  return { client, server };
}

/** Within `ms`, or the test fails (a stalled flow control would otherwise hang it). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('real pipes copy before their write callback and read into fresh buffers; in-memory streams do not', () => {
  const a = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    assert.deepEqual(transportCopies(new PipeDuplex(a.stdout!, a.stdin!)), { reads: true, writes: true });
    assert.deepEqual(transportCopies(new PipeDuplex(new PassThrough(), new PassThrough())), { reads: false, writes: false });
  } finally {
    a.kill();
  }
});

test('an upload whose consumer takes each whole pipe read over (transfers it) still gets its credit and arrives whole', async (t) => {
  const { client, server } = catPair(t);
  let taken = 0;
  const port = new MessageChannel();
  t.after(() => port.port1.close());
  server.open(async ({ upload }) => {
    const h = createHash('sha256');
    // flowing, as LocalTree.unpack reads: each chunk is handled inside the push that
    // delivers it, and a chunk that is a whole buffer goes to the extract thread, which
    // detaches it there and then
    upload!.on('data', (c: Buffer) => {
      h.update(c);
      if (c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.byteLength >= 65536) {
        port.port1.postMessage(c.buffer, [c.buffer as ArrayBuffer]);
        taken++;
      }
    });
    await new Promise((resolve, reject) => upload!.on('end', resolve).on('error', reject));
    return { result: h.digest('hex') };
  });
  const data = randomBytes(24 << 20); // several windows of credit
  const call = client.call('up', {}, undefined, { upload: Readable.from([data]) });
  const res = await within(call.done, 20_000, 'upload');
  assert.equal(res.result, createHash('sha256').update(data).digest('hex'));
  assert.ok(taken > 0, 'some pipe reads were whole buffers and taken over (else this tests nothing)');
  client.close();
});

test('pack buffers reused as soon as the pipe has them: a slow reader still gets every byte as it was sent', async (t) => {
  const { client, server } = catPair(t);
  const SIZE = 1 << 20;
  const BATCHES = 24;
  let reused = 0;
  const sent = createHash('sha256');
  // a pack that fills buffers given back by the connection (LocalTree.pack's loop)
  async function* pack(): AsyncGenerator<Buffer> {
    for (let i = 0; i < BATCHES; i++) {
      const back = takePackBuffer(SIZE);
      if (back) reused++;
      const b = Buffer.from(back ?? new ArrayBuffer(SIZE));
      b.fill(i + 1);
      b.writeUInt32BE(i, 0);
      sent.update(b);
      markPackBuffer(b.buffer as ArrayBuffer, SIZE);
      yield b;
    }
  }
  server.open(async ({ upload }) => {
    const h = createHash('sha256');
    let n = 0;
    for await (const chunk of upload!) {
      h.update(chunk as Buffer);
      // slow: the pipes fill, so writes complete long after they were asked for
      if (++n % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    return { result: h.digest('hex') };
  });
  const call = client.call('up', {}, undefined, { upload: Readable.from(pack(), { objectMode: false }) });
  const res = await within(call.done, 20_000, 'upload');
  assert.equal(res.result, sent.digest('hex'), 'a buffer was refilled before the pipe had taken its bytes');
  assert.ok(reused > 0, 'buffers came back for reuse (else this tests nothing)');
  client.close();
});
