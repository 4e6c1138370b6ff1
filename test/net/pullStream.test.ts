// A pull's tar stream goes from the connection straight into the local destination's unpack:
// executePlan counts its bytes on the stream itself (explicitly paused until the unpack
// attaches, which resumes it), not through a PassThrough, which for 20,000 small files was
// ~13,500 more writes, pushes and events on the receiving main thread. Attacked here: the
// files still arrive whole (more than the receive window, so the stream is paused and
// resumed by flow control), the progress still counts every byte, nothing is left behind;
// and a paused stream given to LocalTree.unpack is read (without the resume it would hang).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import type { Progress } from '../../src/engine/executePlan.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { serveTrees } from '../../src/net/server.js';
import { closePools } from '../../src/workers/pool.js';
import { END_OF_ARCHIVE, HASHED_HEADER_LENGTH, padding, SHA256_KEY, writeHashedFileHeader } from '../../src/workers/tarFormat.js';
import { noise } from '../helpers/tarFixtures.js';
import { makeKey, rmTemp, snapshot, tempDir } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) rmTemp(d);
});

test('a pull hands the connection\'s stream to the local unpack itself: whole files, every byte counted', { timeout: 30_000 }, async () => {
  const base = tempDir('pullstream');
  dirs.push(base);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  // 6 MiB in 48 files: more than the receive window (4 MiB) and the stream buffers, so the
  // stream is paused by flow control and resumed
  let bytes = 0;
  for (let d = 0; d < 4; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const data = noise(128 * 1024 + d * 1000 + i, d * 100 + i);
      writeFileSync(join(src, `d${d}`, `f${i}`), data);
      bytes += data.length;
    }
  }
  const client = makeKey(base, 'client');
  const srvKey = makeKey(base, 'srv');
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: srvKey.key,
    trees: [{ name: 't', path: src, writable: false }],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
  });
  // what the local destination's unpack was given (the in-process server unpacks nothing: a pull)
  const given: Readable[] = [];
  const unpack = LocalTree.prototype.unpack;
  LocalTree.prototype.unpack = function (this: LocalTree, tar: Readable, expect) {
    given.push(tar);
    return unpack.call(this, tar, expect);
  };
  try {
    let last: Progress | undefined;
    const r = await mirrorTree(`omirr://127.0.0.1:${server.address.port}/t`, dst, {
      key: client.file,
      pin: server.fingerprint,
      onProgress: (p) => {
        if (p.phase === 'transferring') last = p;
      },
    });
    assert.deepEqual(r.failed, []);
    assert.equal(r.filesSent, 48);
    assert.deepEqual(snapshot(dst), snapshot(src), 'every file arrived whole');
    assert.equal(given.length, 1);
    assert.ok(!(given[0] instanceof PassThrough), 'the stream from the connection, not a PassThrough in between');
    assert.ok(last, 'progress was reported');
    assert.equal(last.filesDone, 48);
    assert.ok(last.bytesDone >= bytes, `every byte counted (${last.bytesDone} of at least ${bytes})`);
    for (let d = 0; d < 4; d++) assert.deepEqual(readdirSync(join(dst, `d${d}`)).filter((n) => n.startsWith('.omirr')), [], 'no temp file left');
  } finally {
    LocalTree.prototype.unpack = unpack;
    await server.close();
  }
});

test('LocalTree.unpack reads a stream its caller paused (executePlan counts on it first)', { timeout: 30_000 }, async () => {
  const base = tempDir('pausedunpack');
  dirs.push(base);
  const dst = join(base, 'dst');
  const data = noise(300 * 1024, 7);
  const mtimeMs = Date.UTC(2024, 0, 1);
  const hash = createHash('sha256').update(data).digest('hex');
  const header = Buffer.alloc(HASHED_HEADER_LENGTH);
  header.write(hash, writeHashedFileHeader(header, 0, 'a/file', data.length, 0o644, mtimeMs, SHA256_KEY), 64, 'latin1');
  const tar = new PassThrough();
  tar.pause();
  let counted = 0;
  tar.on('data', (c: Buffer) => void (counted += c.length)); // stays paused: it was paused explicitly
  tar.end(Buffer.concat([header, data, Buffer.alloc(padding(data.length)), END_OF_ARCHIVE]));
  assert.equal(tar.isPaused(), true);
  const tree = new LocalTree(dst, { writable: true, create: true });
  mkdirSync(join(dst, 'a'), { recursive: true });
  const r = await tree.unpack(tar, [{ path: 'a/file', kind: 'file', size: data.length, mtimeMs, mode: 0o644 }]);
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.written, ['a/file']);
  assert.equal(createHash('sha256').update(readFileSync(join(dst, 'a/file'))).digest('hex'), hash, 'the file is whole');
  assert.ok(counted > data.length, 'the caller\'s own listener saw the bytes too');
});
