// The delta signature on the wire (src/net/deltaWire.ts) and the negotiation of its strong
// block hash: lanes32 only with a peer that offered `delta-lanes32` (an older peer would
// read a lanes32 signature as CRC-32s, match nothing and send the whole file as literals),
// and a peer that names any other hash loses its connection (ProtocolError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signature } from '../../src/core/delta.js';
import { deltaFetcherOver } from '../../src/daemon/deltaFetch.js';
import { DELTA_LANES32_CAP, sessionStrongAlgs, signatureToWire, wireSignature, wireStrongAlg } from '../../src/net/deltaWire.js';
import { ProtocolError } from '../../src/net/frames.js';
import { PassThrough } from 'node:stream';
import { createTreeService } from '../../src/net/treeService.js';
import type { IncomingStream } from '../../src/net/connection.js';
import { silentLogger } from '../../src/log.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';

test('a lanes32 signature crosses the wire as lanes32; a CRC-32 one carries no strongAlg (as older peers send and read it)', () => {
  const data = randomBytes(100_000);
  const lanes = signature(data, 4096, 'lanes32');
  const w = signatureToWire(lanes);
  assert.equal(w.strongAlg, 'lanes32');
  const back = wireSignature(JSON.parse(JSON.stringify(w)));
  assert.equal(back.strongAlg, 'lanes32');
  assert.deepEqual(Buffer.from(back.strong), Buffer.from(lanes.strong));
  assert.deepEqual([...back.weak], [...lanes.weak]);

  const crc = signatureToWire(signature(data, 4096));
  assert.equal('strongAlg' in crc, false);
  assert.equal(wireSignature(crc).strongAlg, undefined);
  assert.notDeepEqual(Buffer.from(lanes.strong), Buffer.from(signature(data, 4096).strong), 'the two hashes differ: a peer must know which it got');
});

test('a strong hash nobody offered is a protocol violation', () => {
  const w = signatureToWire(signature(randomBytes(10_000), 2048));
  for (const bad of ['md5', 'LANES32', 1, null, {}]) {
    assert.throws(() => wireSignature({ ...w, strongAlg: bad }), ProtocolError, JSON.stringify(bad));
    assert.throws(() => wireStrongAlg(bad), ProtocolError);
  }
  assert.equal(wireStrongAlg(undefined), 'crc32');
  assert.equal(wireStrongAlg('lanes32'), 'lanes32');
});

test('lanes32 only with a peer that offered delta-lanes32: sync sessions and the daemon\'s delta fetches', () => {
  assert.deepEqual(sessionStrongAlgs(['tree', 'delta']), ['crc32']);
  assert.deepEqual(sessionStrongAlgs(['tree', 'delta', DELTA_LANES32_CAP]), ['lanes32', 'crc32']);
  assert.equal(deltaFetcherOver(() => undefined, () => ['tree', 'delta'])()!.strong, 'crc32');
  assert.equal(deltaFetcherOver(() => undefined, () => ['tree', 'delta', DELTA_LANES32_CAP])()!.strong, 'lanes32');
});

test('serve: an unpackDelta upload past its bound is a protocol violation, also one that came whole while the delta wire loaded', async () => {
  const root = tempDir('delta-bound');
  const svc = createTreeService({ trees: [{ name: 't', path: root, writable: true }], peer: 'p', log: silentLogger });
  try {
    const opened = await svc.handler({ op: 'open', args: { tree: 't', write: true }, items: [] });
    const h = (opened.result as { handle: number }).handle;
    // the whole upload is in before the handler runs (within the stream's window): ~1 MiB for a 10-byte file
    const upload = Object.assign(new PassThrough(), { received: 1 << 20, maxBytes: Number.POSITIVE_INFINITY, id: 7 });
    upload.end();
    const item = { path: 'f', kind: 'file', size: 10, mtimeMs: 0, mode: 0o644 };
    await assert.rejects(svc.handler({ op: 'unpackDelta', args: { h }, items: [item], upload: upload as unknown as IncomingStream }), (e: Error) => e instanceof ProtocolError && /more than \d+ bytes/.test(e.message));
  } finally {
    await svc.closeAll();
    removeDir(root);
  }
});
