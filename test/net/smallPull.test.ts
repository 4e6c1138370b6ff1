// A pull lists the far tree once: its listing is compared with the local one as it arrives
// (mirrorTree started a second whole scan of it, decoded in full and dropped).
// A local destination of a remote source (a pull over omirr:// or ssh://) writes a small
// transfer on the plain pack thread started when the listings were found to differ
// (LocalTreeOptions.smallUnpackFiles, set by mirrorTree; syncTrees starts the thread,
// workers/packer.ts), or an io thread when that is busy, not in an extract thread booted after
// the plan (50-100 ms of CPU on the transfer's critical path); its directory changes run on
// the pack thread too, so the pull's client loads no piscina. Attacked here: the files still
// arrive whole and verified, and on both paths a stream whose hash does not match, a
// truncated one, an unexpected name and one that climbs out of the root are refused,
// nothing written outside the root.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Expected } from '../../src/core/tree.js';
import { mirrorTree } from '../../src/api/mirrorTree.js';
import { LocalTree, SMALL_UNPACK_FILES } from '../../src/engine/localTree.js';
import { serveTrees } from '../../src/net/server.js';
import { closePools, extractPool, ioPool } from '../../src/workers/pool.js';
import { packThread, startPackThread } from '../../src/workers/packer.js';
import { END_OF_ARCHIVE, HASHED_HEADER_LENGTH, padding, SHA256_KEY, writeHashedFileHeader } from '../../src/workers/tarFormat.js';
import { makeKey, rmTemp, snapshot, tempDir } from '../helpers/netFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) rmTemp(d);
});

test('a small pull over omirr:// lists the far tree once and is written by the pack thread, whole and verified: no extract thread', async () => {
  const base = tempDir('smallpull');
  dirs.push(base);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (let d = 0; d < 4; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let i = 0; i < 10; i++) writeFileSync(join(src, `d${d}`, `f${i}`), `file ${d}/${i} `.repeat(50 + i * 40));
  }
  const client = makeKey(base, 'client');
  const srvKey = makeKey(base, 'srv');
  // the far tree's scans, counted: a pull lists it once (mirrorTree started a second whole scan)
  let scans = 0;
  const server = await serveTrees({
    listen: { host: '127.0.0.1', port: 0 },
    key: srvKey.key,
    trees: [{ name: 't', path: src, writable: false }],
    peers: [{ name: 'me', fingerprint: client.fingerprint }],
    openLocal: (root, opts) => {
      const tree = new LocalTree(root, opts);
      const scan = tree.scan.bind(tree);
      tree.scan = (o) => {
        scans++;
        return scan(o);
      };
      return tree;
    },
  });
  const url = `omirr://127.0.0.1:${server.address.port}/t`;
  const pull = (): ReturnType<typeof mirrorTree> => mirrorTree(url, dst, { key: client.file, pin: server.fingerprint, delete: true });
  try {
    const first = await pull();
    assert.equal(first.filesSent, 40);
    assert.deepEqual(snapshot(dst), snapshot(src));
    // the rerun: a few files changed, from pools that start afresh (as a new `omirr sync` process)
    await closePools();
    writeFileSync(join(src, 'd1', 'f3'), 'changed, and longer than before '.repeat(30));
    writeFileSync(join(src, 'd2', 'f7'), 'x');
    writeFileSync(join(src, 'd3', 'new'), 'a new file');
    scans = 0;
    const rerun = await pull();
    assert.equal(scans, 1, 'the far tree is listed once');
    assert.equal(rerun.filesSent, 3);
    assert.deepEqual(rerun.failed, []);
    assert.deepEqual(snapshot(dst), snapshot(src), 'the changed files arrived whole');
    assert.equal(packThread()?.unpacked, 1, 'the small unpack ran on the pack thread');
    assert.ok((packThread()?.applied ?? 0) >= 1, "the parents' mtimes were put back on the pack thread");
    for (const d of ['d1', 'd2', 'd3']) assert.equal(Math.floor(statSync(join(dst, d)).mtimeMs), Math.floor(statSync(join(src, d)).mtimeMs), `${d}'s mtime as the source's`);
    // (the in-process server packs in the io pool: an extract thread could only be the client's)
    assert.equal(extractPool().threads.length, 0, 'no extract thread was started for the small unpack');
    assert.ok(ioPool().threads.length >= 1);
    assert.equal(readdirSync(join(dst, 'd1')).filter((n) => n.startsWith('.omirr')).length, 0, 'no temp file left');
  } finally {
    await server.close();
  }
});

const MTIME = 1_700_000_000_000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** One entry as the verifying packer writes it, sent with `hash`. */
function entry(name: string, data: Buffer, hash: string): Buffer {
  const h = Buffer.alloc(HASHED_HEADER_LENGTH);
  h.write(hash, writeHashedFileHeader(h, 0, name, data.length, 0o644, MTIME, SHA256_KEY), 64, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc(padding(data.length))]);
}
const expected = (path: string, size: number): Expected => ({ path, kind: 'file', size, mtimeMs: MTIME, mode: 0o644 });

for (const where of ['io thread', 'pack thread'] as const)
test(`the small unpack on the ${where} refuses a wrong hash, a truncated stream, an unexpected name and a path out of the root`, async () => {
  await closePools();
  if (where === 'pack thread') startPackThread();
  const base = tempDir('smallunpack');
  dirs.push(base);
  const root = join(base, 'root');
  mkdirSync(root);
  const tree = new LocalTree(root, { writable: true, smallUnpackFiles: SMALL_UNPACK_FILES });
  const good = Buffer.from('the right bytes '.repeat(100));
  // a good file beside a bad one: the good one lands, the bad one is refused, loudly
  const bad = Buffer.from(good);
  bad[7]! ^= 1;
  const r1 = await tree.unpack(Readable.from([Buffer.concat([entry('a', good, sha(good)), entry('b', bad, sha(good)), END_OF_ARCHIVE])]), [
    expected('a', good.length),
    expected('b', good.length),
  ]);
  assert.deepEqual(r1.written, ['a']);
  assert.equal(r1.failed.length, 1);
  assert.match(r1.failed[0]!.error, /hash mismatch/);
  assert.equal(existsSync(join(root, 'b')), false, 'the file with the wrong hash is not there');
  // truncated: the stream ends in the middle of the data
  const whole = entry('c', good, sha(good));
  const r2 = await tree.unpack(Readable.from([whole.subarray(0, HASHED_HEADER_LENGTH + 100)]), [expected('c', good.length)]);
  assert.deepEqual(r2.written, []);
  assert.equal(existsSync(join(root, 'c')), false, 'a truncated file is not there');
  // a name not asked for, and one out of the root: the stream is refused
  await assert.rejects(tree.unpack(Readable.from([Buffer.concat([entry('other', good, sha(good)), END_OF_ARCHIVE])]), [expected('d', good.length)]), /refused/);
  await assert.rejects(tree.unpack(Readable.from([Buffer.concat([entry('../escape', good, sha(good)), END_OF_ARCHIVE])]), [expected('../escape', good.length)]));
  assert.equal(existsSync(join(base, 'escape')), false, 'nothing written outside the root');
  assert.equal(existsSync(join(root, 'other')), false);
  assert.equal(extractPool().threads.length, 0, `all of it on the ${where}`);
  if (where === 'pack thread') {
    // (the path out of the root is refused before any thread sees it)
    assert.equal(packThread()?.unpacked, 3, 'every unpack ran on the pack thread');
    // a tree change that fails there is named in the results, as in the pool (never silent)
    const ops = await tree.apply([{ op: 'setattr', path: 'a', mode: 0o600 }, { op: 'setattr', path: 'gone', mode: 0o600 }]);
    assert.deepEqual(ops.map((o) => o.ok), [true, false]);
    assert.equal(packThread()?.applied, 1);
    assert.equal(statSync(join(root, 'a')).mode & 0o777, 0o600);
  }
});
