// A request's upload source when the connection dies under it (ssh's far side killed during
// a push: the write into ssh's stdin fails with EPIPE). The caller learns why from the call's
// answer; the source must not re-emit the error where nobody listens, which crashed `omirr
// sync` with an uncaught 'error' event (the source there is piped from the pack stream, and
// a pipe re-emits a destination's error when it is the only listener).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { Connection } from '../../src/net/connection.js';

test('an upload piped from another stream: the connection dying fails the call, and nothing is thrown uncaught', async () => {
  // nobody reads what the client writes: its request's items wait for a drain, as they do
  // when ssh is slow or gone
  const toServer = new PassThrough({ highWaterMark: 1 });
  const toClient = new PassThrough();
  const client = new Connection(Duplex.from({ readable: toClient, writable: toServer }), { role: 'client', label: 'client' });
  client.open();
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const pack = new PassThrough();
    const tap = new PassThrough();
    pack.pipe(tap); // executePlan's pack stream into its tap: the pipe's own 'error' listener only
    const items = Array.from({ length: 20000 }, (_, i) => ({ path: `dir/file-${i}.dat`, size: i }));
    const call = client.call('unpack', { h: 1 }, items, { upload: tap });
    await new Promise((r) => setImmediate(r)); // the items are written, the connection waits to drain
    client.destroy(new Error('write EPIPE'));
    await assert.rejects(call.done, /EPIPE/);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(uncaught.map((e) => e.message), []);
    assert.ok(tap.destroyed, 'the source is stopped');
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});
