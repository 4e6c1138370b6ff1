// A real `omirr serve` on 127.0.0.1: authenticated syncs through it, refusals that carry
// nothing but the refusal, malformed frames and crafted tar streams that close only the
// offending connection and write nothing outside the tree (docs/security.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';
import type { Expected } from '../../src/core/tree.js';
import { connectTree } from '../../src/net/client.js';
import {
  HELLO,
  jsonFrame,
  makeKey,
  omirrBin,
  RawClient,
  rmTemp,
  snapshot,
  startServe,
  tempDir,
  writeConfig,
  type ServeProcess,
} from '../helpers/netFixtures.js';
import { closePools } from '../../src/workers/pool.js';

let base: string;
let serve: ServeProcess;
let client: ReturnType<typeof makeKey>;
let stranger: ReturnType<typeof makeKey>;
let srcDir: string;
let dstDir: string;
let outside: string;

before(async () => {
  base = tempDir('serve');
  const server = makeKey(base, 'alpha');
  client = makeKey(base, 'beta');
  stranger = makeKey(base, 'mallory');
  srcDir = join(base, 'src');
  dstDir = join(base, 'dst');
  outside = join(base, 'outside');
  mkdirSync(join(srcDir, 'sub/deeper'), { recursive: true });
  mkdirSync(dstDir);
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep.txt'), 'must not change\n');
  for (let i = 0; i < 50; i++) writeFileSync(join(srcDir, 'sub', `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
  writeFileSync(join(srcDir, 'sub/deeper/big.bin'), Buffer.alloc(3_000_000, 7));
  symlinkSync('f1.txt', join(srcDir, 'sub/link'));
  const config = writeConfig(base, [
    'node = alpha',
    'key = alpha.key',
    `peer = beta - ${client.fingerprint}`,
    'tree = src src beta',
    'tree = dst dst beta rw',
  ]);
  serve = await startServe(config);
  assert.equal(serve.fingerprint, server.fingerprint);
});

after(async () => {
  await serve?.stop();
  await closePools();
  rmTemp(base);
});

/** `omirr sync` as a user runs it, with --key and --pin. */
function runSync(src: string, dst: string, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [omirrBin, 'sync', src, dst, '--key', client.file, '--pin', serve.fingerprint, ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

function url(tree: string): string {
  return `omirr://127.0.0.1:${serve.port}/${tree}`;
}

test('omirr sync through a served tree: pull and push, contents identical', async () => {
  const pulled = join(base, 'pulled');
  const r1 = await runSync(url('src'), pulled);
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual(snapshot(pulled), snapshot(srcDir));
  const r2 = await runSync(srcDir, url('dst/copy'));
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(snapshot(join(dstDir, 'copy')), snapshot(srcDir));
  // a read-only tree refuses the push, and nothing is written
  const before = snapshot(srcDir);
  const r3 = await runSync(pulled, url('src/x'));
  assert.notEqual(r3.code, 0);
  assert.match(r3.stderr, /read-only/);
  assert.deepEqual(snapshot(srcDir), before);
});

test('pack over omirr:// carries omirr.sha256 of every whole file when asked to verify (as omirr sync does)', async () => {
  const t = await connectTree(url('src'), { key: client.file, pin: serve.fingerprint });
  const hashesOf = async (verify: boolean, offset: number): Promise<Record<string, string | undefined>> => {
    const out: Record<string, string | undefined> = {};
    const ex = tarExtract();
    ex.on('entry', (h, stream, next) => {
      out[h.name] = (h as { pax?: Record<string, string> }).pax?.['omirr.sha256'];
      stream.resume();
      stream.on('end', next);
    });
    const done = new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    t.pack([{ path: 'sub/f3.txt' }, { path: 'sub/deeper/big.bin', offset }], { verify }).pipe(ex);
    await done;
    return out;
  };
  const sha = (p: string): string => createHash('sha256').update(readFileSync(join(srcDir, p))).digest('hex');
  // a resumed file's hash is of the whole file, not of the part sent
  assert.deepEqual(await hashesOf(true, 1_000_000), { 'sub/f3.txt': sha('sub/f3.txt'), 'sub/deeper/big.bin': sha('sub/deeper/big.bin') });
  assert.deepEqual(await hashesOf(false, 0), { 'sub/f3.txt': undefined, 'sub/deeper/big.bin': undefined });
  await t.close();
});

test('an unknown key gets a refusal and nothing else, even with requests pipelined', async () => {
  const raw = await RawClient.connect(serve.port, stranger.key);
  raw.send(Buffer.concat([jsonFrame(HELLO), jsonFrame({ t: 'req', id: 1, op: 'open', args: { tree: 'src' } }), jsonFrame({ t: 'req', id: 2, op: 'scan', args: { h: 1 } })]));
  await raw.waitClosed();
  assert.equal(raw.frames.length, 1, JSON.stringify(raw.frames));
  const f = raw.frames[0]!;
  assert.equal(f.kind, 0);
  assert.equal(f.kind === 0 && f.msg.t, 'refused');
  assert.ok(raw.bytes < 200, `only the refusal (${raw.bytes} bytes)`);
  // without any hello at all: a request is not a hello
  const raw2 = await RawClient.connect(serve.port, client.key);
  raw2.send(jsonFrame({ t: 'req', id: 1, op: 'open', args: { tree: 'src' } }));
  await raw2.waitClosed();
  assert.deepEqual(raw2.frames.map((x) => x.kind === 0 && x.msg.t), ['refused']);
});

test('malformed frames close that connection only; the next client still syncs', async () => {
  const lengthOnly = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const cases: Array<[string, Buffer[], boolean]> = [
    ['zero length', [lengthOnly(0)], false],
    ['oversized frame before auth', [lengthOnly(100 * 1024 * 1024), Buffer.alloc(1000)], false],
    ['garbage JSON', [Buffer.concat([lengthOnly(6), Buffer.from([0]), Buffer.from('{nope')])], false],
    ['data frame before hello', [Buffer.concat([lengthOnly(9), Buffer.from([1, 0, 0, 0, 1]), Buffer.from('abcd')])], false],
    ['wrong version', [jsonFrame({ ...HELLO, versions: [99] })], false],
    ['unknown type after auth', [jsonFrame(HELLO), jsonFrame({ t: 'zap' })], true],
    ['oversized frame after auth', [jsonFrame(HELLO), lengthOnly(0x7fffffff), Buffer.alloc(100)], true],
    ['garbage after auth', [jsonFrame(HELLO), Buffer.from([0, 0, 0, 3, 7, 7, 7])], true],
    ['unknown request', [jsonFrame(HELLO), jsonFrame({ t: 'req', id: 1, op: 'rm -rf', args: {} })], true],
    ['bad path in a request', [jsonFrame(HELLO), jsonFrame({ t: 'req', id: 1, op: 'open', args: { tree: 'dst', sub: '../outside', write: true } })], true],
    ['data on an unknown stream', [jsonFrame(HELLO), Buffer.concat([lengthOnly(9), Buffer.from([1, 0, 0, 0, 9]), Buffer.from('abcd')])], true],
  ];
  for (const [name, chunks, welcomed] of cases) {
    const raw = await RawClient.connect(serve.port, client.key);
    for (const c of chunks) raw.send(c);
    await raw.waitClosed().catch((err: Error) => assert.fail(`${name}: ${err.message}`));
    const types = raw.frames.map((f) => (f.kind === 0 ? f.msg.t : 'data'));
    if (welcomed) assert.equal(types[0], 'welcome', name);
    assert.ok(!types.includes('data'), `${name}: no data`);
    assert.ok(!raw.frames.some((f) => f.kind === 0 && f.msg.t === 'res' && (f.msg as { ok?: unknown }).ok === true), `${name}: no answer`);
  }
  assert.equal(existsSync(join(base, 'outside', 'dst')), false);
  const again = join(base, 'again');
  const r = await runSync(url('src'), again);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(snapshot(again), snapshot(srcDir));
});

function craftedTar(entries: Array<{ header: Partial<Header> & { name: string }; body?: Buffer }>): Readable {
  const p = tarPack();
  for (const e of entries) {
    if (e.body) p.entry(e.header, e.body);
    else p.entry(e.header);
  }
  p.finalize();
  return p as unknown as Readable;
}

const file = (path: string, size: number): Expected => ({ path, kind: 'file', size, mtimeMs: 1_700_000_000_000, mode: 0o644 });

test('crafted tar streams write nothing outside the tree and close the connection', async () => {
  mkdirSync(join(dstDir, 'trap'), { recursive: true });
  symlinkSync(outside, join(dstDir, 'trap', 'link'));
  const before = snapshot(base);
  const body = Buffer.from('evil\n');
  // hostile: the stream itself is refused (connection closed); otherwise the destination's own
  // state refuses that file (a planted symlink), which an honest sender can meet too.
  const cases: Array<[string, Readable, Expected[], boolean?]> = [
    ['dot-dot', craftedTar([{ header: { name: '../outside/evil.txt', size: 5 }, body }]), [file('ok.txt', 5)]],
    ['dot-dot expected too', craftedTar([{ header: { name: 'a/../../outside/evil.txt', size: 5 }, body }]), [file('a/x', 5)]],
    ['absolute', craftedTar([{ header: { name: `${outside}/evil.txt`, size: 5 }, body }]), [file('ok.txt', 5)]],
    ['NUL in a pax path', craftedTar([{ header: { name: 'ok.txt', size: 5, pax: { path: 'ok.txt\0/../../evil' } }, body }]), [file('ok.txt', 5)]],
    ['through a planted symlink', craftedTar([{ header: { name: 'trap/link/evil.txt', size: 5 }, body }]), [file('trap/link/evil.txt', 5)], false],
    [
      'symlink entry then a file through it',
      craftedTar([
        { header: { name: 'l2', type: 'symlink', linkname: outside } },
        { header: { name: 'l2/evil.txt', size: 5 }, body },
      ]),
      [file('l2/evil.txt', 5)],
    ],
    ['hard link out', craftedTar([{ header: { name: 'ok.txt', type: 'link', linkname: '../outside/keep.txt' } }]), [file('ok.txt', 5)]],
    ['larger than announced', craftedTar([{ header: { name: 'ok.txt', size: 5_000_000 }, body: Buffer.alloc(5_000_000, 1) }]), [file('ok.txt', 5)]],
    ['entry not expected', craftedTar([{ header: { name: 'other.txt', size: 5 }, body }]), [file('ok.txt', 5)]],
    ['malformed omirr.sha256', craftedTar([{ header: { name: 'ok.txt', size: 5, pax: { 'omirr.sha256': 'f'.repeat(63) } }, body }]), [file('ok.txt', 5)]],
    // a lie about the content, not about the stream: that file fails, the connection stays
    [
      'omirr.sha256 not matching the data',
      craftedTar([{ header: { name: 'sha-lie.txt', size: 5, pax: { 'omirr.sha256': createHash('sha256').update('good\n').digest('hex') } }, body }]),
      [file('sha-lie.txt', 5)],
      false,
    ],
  ];
  for (const [name, tar, expect, hostile = true] of cases) {
    const t = await connectTree(url('dst'), { key: client.file, pin: serve.fingerprint, writable: true });
    const outcome = await t.unpack(tar, expect).then(
      (r) => ({ ok: true, r }),
      (err: Error) => ({ ok: false, err: err.message }),
    );
    if (hostile) {
      assert.equal(outcome.ok, false, `${name}: ${JSON.stringify(outcome)}`);
      // the connection is gone: a further request fails
      await assert.rejects(t.scan(), `${name}: connection closed`);
    } else {
      assert.ok(outcome.ok && 'r' in outcome, name);
      assert.deepEqual(outcome.r.written, [], name);
      assert.deepEqual(outcome.r.failed.map((f) => f.path), expect.map((e) => e.path), name);
      // the connection is still good
      assert.ok(Array.isArray(await t.scan()), `${name}: connection kept`);
    }
    await t.close();
    assert.deepEqual(snapshot(outside), { 'keep.txt': before['outside/keep.txt']! }, `${name}: outside unchanged`);
  }
  const afterSnap = snapshot(base);
  for (const k of Object.keys(afterSnap)) {
    if (!k.startsWith('dst/')) assert.equal(afterSnap[k], before[k], `only dst may change: ${k}`);
  }
  assert.ok(!Object.keys(afterSnap).some((k) => /evil/.test(k)), 'no evil file anywhere');
  assert.ok(!Object.keys(afterSnap).some((k) => /sha-lie|(^|\/)\.omirr-/.test(k)), 'no unverified file, no temporary');
  // and the server still serves
  const t = await connectTree(url('src'), { key: client.file, pin: serve.fingerprint });
  assert.ok((await t.scan()).length > 50);
  await t.close();
  assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'must not change\n');
});

test("sync's early omirr:// connection opens the tree read-only before the real open, and creates nothing when the command then fails", async () => {
  const first = await runSync(srcDir, url('dst/early'));
  assert.equal(first.code, 0, first.stderr);
  const logFrom = serve.stderr().length;
  const again = await runSync(srcDir, url('dst/early'));
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(snapshot(join(dstDir, 'early')), snapshot(srcDir));
  const opens = [...serve.stderr().slice(logFrom).matchAll(/tree opened .*sub=early write=(\w+)/g)].map((m) => m[1]);
  assert.deepEqual(opens, ['false', 'true'], 'the early read-only open (the server scans meanwhile), then the push');
  // a usage error found after the early start: the destination is not created
  const bad = await runSync(srcDir, url('dst/never'), ['--streams', 'zero']);
  assert.notEqual(bad.code, 0);
  assert.equal(existsSync(join(dstDir, 'never')), false);
});

test('a sync that pins another key fails once: the early connection is not tried again, the server logs one refusal', async () => {
  const logFrom = serve.stderr().length;
  const p = spawn(process.execPath, [omirrBin, 'sync', srcDir, url('dst/pinned'), '--key', client.file, '--pin', stranger.fingerprint], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => p.on('close', r));
  assert.equal(code, 3, stderr);
  assert.match(stderr, /not the pinned/);
  assert.equal(existsSync(join(dstDir, 'pinned')), false);
  // the server saw the refusal; wait for its log line, then check there is only one
  const deadline = Date.now() + 5000;
  while (!serve.stderr().slice(logFrom).includes('client refused our key') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(serve.stderr().slice(logFrom).match(/client refused our key/g)?.length, 1, serve.stderr().slice(logFrom));
});

test('serve --stdio drops a peer that breaks the protocol with a warning and exit 1, not a crash; a clean session exits 0', async () => {
  const session = (frames: Buffer[]): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [omirrBin, 'serve', '--stdio', srcDir, '--log-level', 'warn'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.stdout.resume();
      p.stdin.end(Buffer.concat(frames));
      p.on('close', (code) => resolve({ code, stderr }));
    });
  const bad = await session([jsonFrame(HELLO), jsonFrame({ t: 'zap' })]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /protocol violation/);
  assert.doesNotMatch(bad.stderr, /AbortError|at .*\.js:\d+/, 'no stack trace');
  const clean = await session([jsonFrame(HELLO)]);
  assert.equal(clean.code, 0, clean.stderr);
});
