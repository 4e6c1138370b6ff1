// The daemon's fetches of changed large files as deltas (src/daemon/deltaFetch.ts): two real
// daemons on loopback; a large file changed in a small range on one node reaches the other
// with the right content while the instruction stream on the wire is a small part of the
// file; a file the receiver has no old version of still comes whole.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { encodeEnd, encodeFile, encodeOps } from '../../src/core/delta.js';
import type { DeltaRequest, Expected } from '../../src/core/tree.js';
import { deltaCandidates, deltaFetcherOver, stageDeltas, type DeltaFetcher } from '../../src/daemon/deltaFetch.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { silentLogger } from '../../src/log.js';
import { closePools } from '../../src/workers/pool.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { Cluster, until } from '../helpers/daemonFixtures.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const MiB = 1 << 20;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const shaOf = (file: string): string | undefined => {
  try {
    return sha(readFileSync(file));
  } catch {
    return undefined;
  }
};

interface LogLine {
  msg?: string;
  streamBytes?: number;
  signatureBytes?: number;
  literal?: number;
  copied?: number;
  files?: number;
  path?: string;
}

function logLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

test('a large file changed in a small range goes to the peer as a delta: the right bytes, far fewer on the wire', { timeout: 120_000 }, async () => {
  const c = await Cluster.create(['a', 'b']);
  try {
    const env = { OMIRR_LOG_FORMAT: 'json', OMIRR_LOG_LEVEL: 'info' };
    await c.start('a', env);
    const b = await c.start('b', env);
    await c.waitLive();
    const size = 24 * MiB;
    const v1 = randomBytes(size);
    // written beside the tree and renamed in, so the watcher sees one complete file
    const stageA = join(c.dir, 'a-new.bin');
    writeFileSync(stageA, v1);
    renameSync(stageA, join(c.tree('a'), 'big.bin'));
    await until(async () => (shaOf(join(c.tree('b'), 'big.bin')) === sha(v1) ? true : undefined), 'the first version on b', 60_000);
    assert.equal(logLines(b.stderr()).filter((l) => l.msg === 'fetched as deltas').length, 0, 'the first copy has no old version to go against');

    // the new version: 64 KiB rewritten at an odd offset in the middle
    const v2 = Buffer.from(v1);
    randomBytes(64 * 1024).copy(v2, size / 2 + 12345);
    writeFileSync(stageA, v2);
    renameSync(stageA, join(c.tree('a'), 'big.bin'));
    // and a second large file b has never seen: it comes whole
    const fresh = randomBytes(2 * MiB);
    writeFileSync(join(c.dir, 'fresh.bin'), fresh);
    renameSync(join(c.dir, 'fresh.bin'), join(c.tree('a'), 'fresh.bin'));

    await until(async () => (shaOf(join(c.tree('b'), 'big.bin')) === sha(v2) && shaOf(join(c.tree('b'), 'fresh.bin')) === sha(fresh) ? true : undefined), 'the new version on b', 60_000);
    const lines = logLines(b.stderr());
    const deltas = lines.filter((l) => l.msg === 'fetched as deltas');
    assert.equal(deltas.length, 1, `one delta fetch on b; log:\n${b.stderr().slice(-3000)}`);
    const d = deltas[0]!;
    assert.equal(d.files, 1, 'only the file b had an old version of');
    // the change (64 KiB, at most two blocks more) and the record headers: far below the file's 24 MiB
    assert.ok(d.streamBytes! < 512 * 1024, `instruction stream of ${d.streamBytes} bytes`);
    assert.ok(d.signatureBytes! < 256 * 1024, `signature of ${d.signatureBytes} bytes`);
    assert.ok(d.literal! >= 64 * 1024 && d.literal! < 512 * 1024, `literal ${d.literal}`);
    assert.equal(d.literal! + d.copied!, size, 'literal and copied bytes make the whole file');
    assert.equal(lines.filter((l) => l.msg?.startsWith('delta fetch failed')).length, 0, 'no delta fell back to a whole file');
    await c.converge();
  } finally {
    await c.close();
  }
});

/** A tree root with `old` at big.bin and an empty staging directory beside it. */
function basisAndStage(old: Buffer): { treeRoot: string; stageRoot: string } {
  const d = tempDir('deltafetch');
  dirs.push(d);
  const treeRoot = join(d, 'tree');
  const stageRoot = join(d, 'tree', '.omirr-part.stage-a');
  mkdirSync(join(treeRoot, 'sub'), { recursive: true });
  mkdirSync(stageRoot);
  writeFileSync(join(treeRoot, 'sub', 'big.bin'), old);
  return { treeRoot, stageRoot };
}

const exp = (path: string, content: Buffer): Expected => ({ path, kind: 'file', size: content.length, mtimeMs: 1_700_000_000_000, mode: 0o644, hash: sha(content) });

test('stageDeltas: an honest sender\'s stream is rebuilt into the staging directory; the old version stays as it was', async () => {
  const old = randomBytes(2 * MiB);
  const next = Buffer.from(old);
  randomBytes(3000).copy(next, MiB + 7);
  const { treeRoot, stageRoot } = basisAndStage(old);
  const src = tempDir('deltafetch-src');
  dirs.push(src);
  mkdirSync(join(src, 'sub'));
  writeFileSync(join(src, 'sub', 'big.bin'), next);
  const sender = new LocalTree(src, { writable: false });
  let asked: DeltaRequest[] = [];
  const fetch: DeltaFetcher = (_tree, files) => ((asked = files), sender.delta.pack(files));
  const r = await stageDeltas([exp('sub/big.bin', next)], { tree: 't', treeRoot, stageRoot, log: silentLogger, fetch, track: () => undefined });
  assert.deepEqual([...r.written], ['sub/big.bin']);
  assert.equal(asked[0]!.hash, sha(next), 'the record hash goes along: the sender does not hash the file again');
  assert.equal(sha(readFileSync(join(stageRoot, 'sub', 'big.bin'))), sha(next));
  assert.equal(sha(readFileSync(join(treeRoot, 'sub', 'big.bin'))), sha(old), 'the old version is not touched');
  assert.ok(r.streamBytes < 64 * 1024, `stream ${r.streamBytes}`);
});

test('stageDeltas: a sender whose stream does not rebuild the record\'s content gets nothing staged (the file is fetched whole), no temporary left', async () => {
  const old = randomBytes(MiB);
  const next = randomBytes(MiB);
  const { treeRoot, stageRoot } = basisAndStage(old);
  // a hostile stream: copies the old version whole and claims the new version's hash
  const bs = 8192;
  const lying: DeltaFetcher = () => Readable.from([encodeFile(0, bs), encodeOps([{ copy: 0, count: MiB / bs }]).buf, encodeEnd(Buffer.from(sha(next), 'hex'))]);
  const r = await stageDeltas([exp('sub/big.bin', next)], { tree: 't', treeRoot, stageRoot, log: silentLogger, fetch: lying, track: () => undefined });
  assert.equal(r.written.size, 0);
  const left = readdirSync(stageRoot, { recursive: true }).filter((p) => !String(p).endsWith('sub'));
  assert.deepEqual(left, [], 'nothing left in the staging directory');
  // and a stream that breaks off
  const broken: DeltaFetcher = () => Readable.from((async function* () {
    yield encodeFile(0, bs);
    throw new Error('connection lost');
  })());
  const r2 = await stageDeltas([exp('sub/big.bin', next)], { tree: 't', treeRoot, stageRoot, log: silentLogger, fetch: broken, track: () => undefined });
  assert.equal(r2.written.size, 0);
});

test('stageDeltas: no old version reached through a symlink is used (nothing is asked of the sender)', async () => {
  const old = randomBytes(MiB);
  const { treeRoot, stageRoot } = basisAndStage(old);
  // sub2 -> sub: the old version is only reachable through a symlinked directory
  symlinkSync(join(treeRoot, 'sub'), join(treeRoot, 'sub2'));
  symlinkSync(join(treeRoot, 'sub', 'big.bin'), join(treeRoot, 'link.bin'));
  let asked = 0;
  const fetch: DeltaFetcher = () => {
    asked++;
    return Readable.from([]);
  };
  const r = await stageDeltas([exp('sub2/big.bin', old), exp('link.bin', old)], { tree: 't', treeRoot, stageRoot, log: silentLogger, fetch, track: () => undefined });
  assert.equal(r.written.size, 0);
  assert.equal(asked, 0);
});

test('deltas only where they pay and the link allows: large files, not resumed, with a hash; a peer without `delta` gets none', () => {
  const big = { path: 'big', kind: 'file', size: MiB, mtimeMs: 1, mode: 0o644, hash: 'a'.repeat(64) } as Expected;
  const small = { ...big, path: 'small', size: 1000 };
  const resumed = { ...big, path: 'resumed' };
  assert.deepEqual(deltaCandidates([big, small, resumed], new Map([['resumed', 4096]])).map((e) => e.path), ['big']);
  assert.equal(deltaFetcherOver(() => undefined, () => ['tree', 'push'])(), undefined);
  assert.equal(typeof deltaFetcherOver(() => undefined, () => ['tree', 'delta'])(), 'function');
});
