// Changed large files go as deltas through a real `omirr serve` on 127.0.0.1 (issue 12): a
// 64 MiB file with 1 MiB rewritten in the middle, pushed to and pulled from omirr://,
// costs under 4 MiB on the wire (the client's own count of protocol bytes, in --json) and
// the result has the source's bytes (compared byte by byte, not hashed:
// fidelityFixtures' firstDifference). Then the adversary's cases: the receiver's old
// version changes between its signature and the rebuild, so the rebuilt file cannot
// verify (it must go whole, never be renamed into place wrong).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstDifference } from '../helpers/fidelityFixtures.js';
import { makeKey, omirrBin, rmTemp, startServe, tempDir, writeConfig, type ServeProcess } from '../helpers/netFixtures.js';

let base: string;
let serve: ServeProcess;
let client: ReturnType<typeof makeKey>;

const MiB = 1 << 20;
const SIZE = 64 * MiB;

before(async () => {
  base = tempDir('delta');
  makeKey(base, 'alpha');
  client = makeKey(base, 'beta');
  for (const d of ['src', 'remote']) mkdirSync(join(base, d));
  const config = writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = remote remote beta rw']);
  serve = await startServe(config);
});

after(async () => {
  await serve?.stop();
  rmTemp(base);
});

interface SyncJson {
  ok: boolean;
  filesSent: number;
  failed: Array<{ path: string; error: string }>;
  wire?: { sent: number; received: number };
  delta?: { files: number; literalBytes: number; copiedBytes: number; fallbacks: number; hash?: string };
}

function runSync(src: string, dst: string, pin = serve.fingerprint): Promise<{ code: number | null; stderr: string; json: SyncJson }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [omirrBin, 'sync', src, dst, '--json', '--key', client.file, '--pin', pin], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stderr, json: JSON.parse(stdout || '{}') as SyncJson }));
  });
}

const url = (sub: string): string => `omirr://127.0.0.1:${serve.port}/remote/${sub}`;

/** Rewrite `len` bytes at `at` with fresh random bytes, keeping the size; a new mtime. */
function rewrite(file: string, at: number, len: number): void {
  const b = readFileSync(file);
  randomBytes(len).copy(b, at);
  writeFileSync(file, b);
}

function noTemporaries(dir: string): void {
  const left = readdirSync(dir, { recursive: true }).map(String).filter((n) => n.includes('.omirr-part.'));
  assert.deepEqual(left, [], 'temporary files left behind');
}

test('64 MiB file, 1 MiB rewritten in the middle: push sends < 4 MiB on the wire, result verified', async () => {
  const srcDir = join(base, 'src', 'push');
  mkdirSync(srcDir);
  writeFileSync(join(srcDir, 'big.bin'), randomBytes(SIZE));
  const first = await runSync(srcDir, url('push'));
  assert.equal(first.code, 0, first.stderr);
  assert.ok(first.json.wire!.sent > SIZE, 'the first copy goes whole');

  rewrite(join(srcDir, 'big.bin'), SIZE / 2 - 12345, MiB);
  const r = await runSync(srcDir, url('push'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(firstDifference(join(base, 'remote', 'push', 'big.bin'), join(srcDir, 'big.bin')), -1);
  assert.ok(Math.abs(statSync(join(base, 'remote', 'push', 'big.bin')).mtimeMs - statSync(join(srcDir, 'big.bin')).mtimeMs) < 1, 'mtime set');
  assert.equal(r.json.delta?.files, 1, JSON.stringify(r.json));
  assert.equal(r.json.delta?.fallbacks, 0);
  assert.equal(r.json.delta?.hash, 'blake3-ranges', 'both ends have BLAKE3: the rebuild is verified with the BLAKE3 of its ranges');
  const wire = r.json.wire!.sent + r.json.wire!.received;
  assert.ok(wire < 4 * MiB, `wire bytes ${wire}`);
  assert.ok(r.json.delta!.literalBytes >= MiB && r.json.delta!.literalBytes < 2 * MiB, `literal ${r.json.delta!.literalBytes}`);
  noTemporaries(join(base, 'remote', 'push'));
});

test('pull: the local side signs and rebuilds; insertion shifts every later offset', async () => {
  const remoteDir = join(base, 'remote', 'pull');
  const local = join(base, 'pulled');
  mkdirSync(remoteDir);
  writeFileSync(join(remoteDir, 'big.bin'), randomBytes(SIZE));
  const first = await runSync(url('pull'), local);
  assert.equal(first.code, 0, first.stderr);

  // 1 MiB inserted near the front: every block after it moves by a non-multiple of the block size
  const old = readFileSync(join(remoteDir, 'big.bin'));
  const at = 3 * MiB + 777;
  writeFileSync(join(remoteDir, 'big.bin'), Buffer.concat([old.subarray(0, at), randomBytes(MiB), old.subarray(at)]));
  const r = await runSync(url('pull'), local);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(firstDifference(join(local, 'big.bin'), join(remoteDir, 'big.bin')), -1);
  assert.equal(r.json.delta?.files, 1, JSON.stringify(r.json));
  // the server hashed each range of its file while it matched it, and those hashes verified the rebuild
  assert.equal(r.json.delta?.fallbacks, 0);
  assert.equal(r.json.delta?.hash, 'blake3-ranges');
  const wire = r.json.wire!.sent + r.json.wire!.received;
  assert.ok(wire < 4 * MiB, `wire bytes ${wire}`);
  noTemporaries(local);
});

test('the receiver\'s old version differs in places the sender did not change: the result is still the source', async () => {
  const srcDir = join(base, 'src', 'both');
  mkdirSync(srcDir);
  writeFileSync(join(srcDir, 'a.bin'), randomBytes(8 * MiB));
  assert.equal((await runSync(srcDir, url('both'))).code, 0);
  rewrite(join(srcDir, 'a.bin'), 4 * MiB, 64 * 1024);
  const remoteFile = join(base, 'remote', 'both', 'a.bin');
  rewrite(remoteFile, 1 * MiB, 4096);
  const r = await runSync(srcDir, url('both'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.delta?.files, 1);
  assert.equal(firstDifference(remoteFile, join(srcDir, 'a.bin')), -1);
  noTemporaries(join(base, 'remote', 'both'));
});

test('no old version on the receiver: the file goes whole', async () => {
  const srcDir = join(base, 'src', 'fresh');
  mkdirSync(srcDir);
  // 8 MiB: large enough to go as a delta had it an old version there (DELTA_MIN is 256 KiB);
  // a copy of the 64 MiB file moved 56 MiB more through TLS to show the same
  writeFileSync(join(srcDir, 'big.bin'), randomBytes(8 * MiB));
  const r = await runSync(srcDir, url('fresh'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.delta, undefined);
  assert.equal(firstDifference(join(base, 'remote', 'fresh', 'big.bin'), join(srcDir, 'big.bin')), -1);
});

/**
 * Push and pull of a changed 8 MiB file against a second server of the same config started
 * with `env` (as an older build): both go as deltas verified with `hash`, nothing falls back
 * to the whole file, the results are the sources.
 */
async function deltasAgainst(env: Record<string, string>, sub: string, hash: string): Promise<void> {
  const s2 = await startServe(join(base, 'omirr.conf'), env);
  try {
    const u = (x: string): string => `omirr://127.0.0.1:${s2.port}/remote/${x}`;
    const ok = (r: Awaited<ReturnType<typeof runSync>>): void => {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.delta?.files, 1, JSON.stringify(r.json));
      assert.equal(r.json.delta?.fallbacks, 0, 'the signature matched: nothing went whole');
      assert.equal(r.json.delta?.hash, hash);
      assert.ok(r.json.delta!.literalBytes < 400_000, `literal ${r.json.delta!.literalBytes}`);
    };
    const srcDir = join(base, 'src', sub);
    mkdirSync(srcDir);
    writeFileSync(join(srcDir, 'a.bin'), randomBytes(8 * MiB));
    assert.equal((await runSync(srcDir, u(sub), s2.fingerprint)).code, 0);
    rewrite(join(srcDir, 'a.bin'), 3 * MiB + 7, 100_000);
    ok(await runSync(srcDir, u(sub), s2.fingerprint));
    assert.equal(firstDifference(join(base, 'remote', sub, 'a.bin'), join(srcDir, 'a.bin')), -1);
    // pull: the server packs against this end's signature
    const local = join(base, `pulled-${sub}`);
    assert.equal((await runSync(u(sub), local, s2.fingerprint)).code, 0);
    rewrite(join(base, 'remote', sub, 'a.bin'), 5 * MiB, 50_000);
    ok(await runSync(u(sub), local, s2.fingerprint));
    assert.equal(firstDifference(join(local, 'a.bin'), join(base, 'remote', sub, 'a.bin')), -1);
    noTemporaries(local);
  } finally {
    await s2.stop();
  }
}

test('a server of the build before delta-lanes32 and hash-blake3-ranges: push and pull go as deltas with CRC-32 signatures, verified with BLAKE3 hashed ahead', async () => {
  // as that build, it neither offers the two capabilities nor reads a lanes32 signature: a
  // client that sent one anyway would match nothing (all literal) or be refused
  await deltasAgainst({ OMIRR_OLD_DELTA: '1' }, 'old', 'blake3');
});

test('a server without BLAKE3 (hash-blake3 not offered): push and pull still go as deltas, verified with sha256', async () => {
  // the same config and key, another process: as an older build, it offers no hash-blake3
  await deltasAgainst({ OMIRR_NO_BLAKE3: '1' }, 'nob3', 'sha256');
});

test('first copies of large files: verified with BLAKE3 where both ends offer tar-blake3, with sha256 where the server cannot; push and pull give the source\'s bytes', async () => {
  for (const [sub, env] of [
    ['b3first', {}],
    ['nob3first', { OMIRR_NO_BLAKE3: '1' }],
  ] as const) {
    const s2 = await startServe(join(base, 'omirr.conf'), env);
    try {
      const u = `omirr://127.0.0.1:${s2.port}/remote/${sub}`;
      const srcDir = join(base, 'src', sub);
      mkdirSync(srcDir);
      writeFileSync(join(srcDir, 'big.bin'), randomBytes(6 * MiB + 3));
      writeFileSync(join(srcDir, 'small.txt'), `${sub}\n`);
      const push = await runSync(srcDir, u, s2.fingerprint);
      assert.equal(push.code, 0, push.stderr);
      assert.equal(push.json.filesSent, 2);
      for (const f of ['big.bin', 'small.txt']) assert.equal(firstDifference(join(base, 'remote', sub, f), join(srcDir, f)), -1, `${sub} push ${f}`);
      const local = join(base, `pulled-first-${sub}`);
      const pull = await runSync(u, local, s2.fingerprint);
      assert.equal(pull.code, 0, pull.stderr);
      for (const f of ['big.bin', 'small.txt']) assert.equal(firstDifference(join(local, f), join(srcDir, f)), -1, `${sub} pull ${f}`);
      noTemporaries(local);
      noTemporaries(join(base, 'remote', sub));
    } finally {
      await s2.stop();
    }
  }
});
