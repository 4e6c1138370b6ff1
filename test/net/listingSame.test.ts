// Capability `listing-same`: an ssh:// re-run's scan request carries the sha256 of the local
// listing's like form (core/likeForm.ts), taken while ssh logs in, and a far side whose own
// listing has the same like form answers `same` instead of sending a listing the client
// would decode and find equal. The like form holds what the comparison reads, and only that.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync as chmod, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Entry } from '../../src/core/entry.js';
import { LikeFormEncoder, likeFormOf } from '../../src/core/likeForm.js';
import { likeDigest, takeDigestAhead } from '../../src/workers/likeDigest.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { sshTree } from '../../src/net/ssh.js';
import { describeTree, localRsh, makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { openArgs } from '../../src/net/remoteTree.js';
import { makeKey, serveOneTree, startServe, writeConfig } from '../helpers/netFixtures.js';
import { openLocalTree, serveTrees } from '../../src/net/server.js';
import { closePools } from '../../src/workers/pool.js';
import { prescanDigest, prescanListing } from '../../src/engine/localScan.js';
import { scan as walkHere } from '../../src/workers/scanTask.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
const digest = (entries: Entry[]): string => likeDigest(likeFormOf(entries));

describe('the like form', () => {
  const base: Entry[] = [
    { path: 'a', kind: 'dir', size: 0, mtimeMs: 1_700_000_000_000, mtimeNs: 123_456, mode: 0o755, ino: 1, uid: 0, gid: 0 },
    { path: 'a/f', kind: 'file', size: 10, mtimeMs: 1_700_000_000_500, mtimeNs: 999, mode: 0o644, ino: 2, uid: 0, gid: 0 },
    { path: 'a/l', kind: 'symlink', size: 0, mtimeMs: 1_700_000_000_600, mode: 0o777, target: 'f', ino: 3 },
    { path: 'b\u00e9', kind: 'file', size: 0, mtimeMs: 1_600_000_000_000, mode: 0o600 },
  ];
  const copy = (): Entry[] => base.map((e) => ({ ...e }));

  test('a copy that differs in what the comparison does not read has the same form', () => {
    const c = copy();
    // inode, owner, hash, the nanoseconds below the microsecond, a symlink's mode and mtime
    for (const e of c) {
      e.ino = 99;
      e.uid = 5;
      e.gid = 6;
    }
    c[0]!.mtimeNs = 123_000;
    c[1]!.mtimeNs = 0;
    c[1]!.hash = 'ab'.repeat(32);
    c[2]!.mode = 0o755;
    c[2]!.mtimeMs = 1;
    assert.equal(digest(c), digest(base));
  });

  test('any difference the comparison reads gives another form', () => {
    const changes: Array<[string, (c: Entry[]) => void]> = [
      ['size', (c) => (c[1]!.size = 11)],
      ['mtime ms', (c) => (c[1]!.mtimeMs += 1)],
      ['mtime microsecond', (c) => (c[0]!.mtimeNs = 124_456)],
      ['sub-ms part unknown on one side', (c) => delete c[0]!.mtimeNs],
      ['mode', (c) => (c[1]!.mode = 0o600)],
      ['a directory\'s mode', (c) => (c[0]!.mode = 0o700)],
      ['path', (c) => (c[1]!.path = 'a/g')],
      ['a non-ASCII path', (c) => (c[3]!.path = 'b\u00e8')],
      ['kind', (c) => (c[3]!.kind = 'dir')],
      ['target', (c) => (c[2]!.target = 'g')],
      ['one entry fewer', (c) => c.pop()],
      ['the path split otherwise', (c) => ((c[1]!.path = 'a'), (c[0]!.path = 'a/f'))],
    ];
    const seen = new Set([digest(base)]);
    for (const [what, change] of changes) {
      const c = copy();
      change(c);
      const d = digest(c);
      assert.ok(!seen.has(d), `${what}: the same form as another listing`);
      seen.add(d);
    }
  });

  test('the encoder that writes it beside the listing gives the form of its entries', () => {
    const many: Entry[] = [];
    for (let i = 0; i < 30_000; i++) many.push({ path: `d${i >> 10}/${'x'.repeat(i % 40)}${i}`, kind: 'file', size: i, mtimeMs: 1_700_000_000_000 + i, mode: 0o644 });
    const enc = new LikeFormEncoder();
    for (const e of many) enc.add(e);
    assert.equal(enc.form.count, many.length); // past the columns' first growth
    assert.equal(likeDigest(enc.form.end()), digest(many));
  });
});

describe('an ssh:// re-run told "the same"', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  test('a no-op is answered "the same" with no listing; a changed mtime, mode or content is sent and copied', () => {
    const base = tempDir('listsame');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const ssh = ['--rsh', localRsh(base), '--omirr-path', `${process.execPath} ${bin}`];
    const url = `ssh://localhost${dst}`;
    const sync = (): string => {
      const r = spawnSync(process.execPath, [bin, 'sync', src, url, ...ssh], { encoding: 'utf8', env: { ...process.env, OMIRR_TIMING: '2', OMIRR_LOG_LEVEL: 'warn' } });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(describeTree(dst), describeTree(src));
      return r.stderr;
    };
    sync();
    const noop = sync();
    assert.match(noop, /listing the same as the local one/);
    assert.doesNotMatch(noop, /listing first piece/);
    // a file's content and mtime; then a mode alone; each is a listing that differs
    writeFileSync(join(src, 'many/f3'), 'rewritten over ssh');
    utimesSync(join(src, 'many/f3'), 1_700_000_000, 1_700_000_000);
    const changed = sync();
    assert.doesNotMatch(changed, /listing the same/);
    assert.match(changed, /listing aligned, 1 changed/);
    assert.equal(readFileSync(join(dst, 'many/f3'), 'utf8'), 'rewritten over ssh');
    chmod(join(src, 'many/f3'), 0o600);
    assert.doesNotMatch(sync(), /listing the same/);
    assert.match(sync(), /listing the same as the local one/);
  });

  test('"the same" stands only for the very listing its digest was taken of: another one is sent the listing', async () => {
    // The scan request carries the digest before the local tree hands its listing over; if
    // that listing is not the walk the digest was taken of (a stale early walk walked again,
    // another root's digest), the far side's "the same" says nothing about it
    const base = tempDir('listsame-other');
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    const first = spawnSync(process.execPath, [bin, 'sync', src, `ssh://localhost${dst}`, '--rsh', localRsh(base), '--omirr-path', `${process.execPath} ${bin}`], { encoding: 'utf8' });
    assert.equal(first.status, 0, first.stderr);
    const walked = await new LocalTree(src, { writable: false, create: false }).scan(); // the far side's listing, as of the digest
    writeFileSync(join(src, 'many/f3'), 'changed after the digest was taken');
    utimesSync(join(src, 'many/f3'), 1_600_000_000, 1_600_000_000);
    const now = await new LocalTree(src, { writable: false, create: false }).scan();
    takeDigestAhead(walked);
    const far = await sshTree(`ssh://localhost${dst}`, { rsh: localRsh(base), remoteCommand: `${process.execPath} ${bin}` });
    try {
      const r = await far.scanLike!(Promise.resolve(now));
      const f3 = now.findIndex((e) => e.path === 'many/f3');
      assert.ok(f3 >= 0);
      if (Array.isArray(r)) assert.notEqual(r.find((e) => e.path === 'many/f3')?.size, now[f3]!.size);
      else assert.deepEqual(r.changed?.map(([i]) => i), [f3], 'the changed file is seen as changed, not as "the same"');
    } finally {
      await far.close();
    }
  });
});

test('a `like` that is not a sha256 in hex, or comes without a binary listing, ends that connection only', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-listsame-'));
  const served = await serveOneTree(base);
  try {
    for (const args of [{ listing: 'bin', like: 'not a digest' }, { like: 'ab'.repeat(32) }]) {
      const { conn } = await connectPeer('127.0.0.1', served.server.address.port, { nodeKey: served.client, pin: served.server.fingerprint });
      const { result } = await conn.request('open', openArgs({ tree: 't' }));
      const h = (result as { handle: number }).handle;
      const call = conn.call('scan', { h, ...args }, undefined, args.listing ? { download: true } : {});
      call.download?.on('error', () => undefined); // destroyed with the call's error
      await assert.rejects(call.done); // the error, or the connection closed under it
      await conn.closed;
    }
    // the server serves on
    const remote = await connectTree(served.url, { nodeKey: served.client, pin: served.server.fingerprint });
    try {
      assert.deepEqual(await remote.scan(), []);
    } finally {
      await remote.close();
    }
  } finally {
    await served.server.close();
    await rm(base, { recursive: true, force: true });
  }
});

describe('an omirr:// re-run told "the same" (capability listing-same-any)', () => {
  // `omirr serve` lists a tree in an io thread at `open`; with a peer that negotiated
  // listing-same-any that walk takes its like form's digest too, and the client walks its own
  // end and takes its digest before it asks for the scan (net/remoteTree.ts)
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  /** A sample source, an empty destination, the server's and the client's keys. */
  const setUp = (name: string): { base: string; src: string; dst: string; server: ReturnType<typeof makeKey>; client: ReturnType<typeof makeKey> } => {
    const base = tempDir(name);
    dirs.push(base);
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    makeSampleTree(src);
    mkdirSync(dst);
    return { base, src, dst, server: makeKey(base, 'alpha'), client: makeKey(base, 'beta') };
  };

  // (a child process this test waits for without blocking: the second test's server runs here)
  const cli = async (key: string, pin: string, from: string, to: string): Promise<string> => {
    const p = spawn(process.execPath, [bin, 'sync', from, to, '--key', key, '--pin', pin], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OMIRR_TIMING: '2', OMIRR_LOG_LEVEL: 'warn' } });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => p.on('close', r));
    assert.equal(code, 0, stderr);
    return stderr;
  };

  test('a push and a pull no-op to a running `omirr serve` are answered "the same" with no listing; a change is sent and copied', async () => {
    const { base, src, dst, server, client } = setUp('listsame-serve');
    const back = join(base, 'back');
    const serve = await startServe(writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = dst dst beta rw']));
    try {
      assert.equal(serve.fingerprint, server.fingerprint);
      const url = `omirr://127.0.0.1:${serve.port}/dst`;
      const push = async (): Promise<string> => {
        const err = await cli(client.file, serve.fingerprint, src, url);
        assert.deepEqual(describeTree(dst), describeTree(src));
        return err;
      };
      await push();
      const noop = await push();
      assert.match(noop, /listing the same as the local one/);
      assert.doesNotMatch(noop, /listing first piece/);
      // a file's content and mtime, then a mode alone: listings that differ, sent and compared
      writeFileSync(join(src, 'many/f3'), 'rewritten over omirr://');
      utimesSync(join(src, 'many/f3'), 1_700_000_000, 1_700_000_000);
      const changed = await push();
      assert.doesNotMatch(changed, /listing the same/);
      assert.match(changed, /listing aligned, 1 changed/);
      assert.equal(readFileSync(join(dst, 'many/f3'), 'utf8'), 'rewritten over omirr://');
      chmod(join(src, 'many/f3'), 0o600);
      assert.doesNotMatch(await push(), /listing the same/);
      assert.match(await push(), /listing the same as the local one/);
      // a pull: the local end is the destination, walked before the scan alike
      await cli(client.file, serve.fingerprint, url, back);
      const pulled = await cli(client.file, serve.fingerprint, url, back);
      assert.deepEqual(describeTree(back), describeTree(src));
      assert.match(pulled, /listing the same as the local one/);
      assert.doesNotMatch(pulled, /listing first piece/);
    } finally {
      await serve.stop();
    }
  });

  test('a server that does not offer listing-same-any is sent no digest over omirr://, and sends its listing', async () => {
    // (as the server before this capability, or one whose trees are not listed in its io thread)
    const { src, dst, server, client } = setUp('listsame-noany');
    const likes: Array<string | undefined> = [];
    const served = await serveTrees({
      listen: { host: '127.0.0.1', port: 0 },
      key: server.key,
      node: 'alpha',
      trees: [{ name: 'dst', path: dst, writable: true }],
      peers: [{ name: 'beta', fingerprint: client.fingerprint }],
      // openLocalTree's own walk, behind a hook that records each scan's `like`
      openLocal: async (root, opts, how) => {
        const tree = (await openLocalTree(root, opts, how)) as LocalTree;
        const scanListing = tree.scanListing.bind(tree);
        tree.scanListing = (o = {}) => {
          likes.push(o.like);
          return scanListing(o);
        };
        return tree;
      },
    });
    try {
      const url = `omirr://127.0.0.1:${served.address.port}/dst`;
      await cli(client.file, served.fingerprint, src, url);
      const noop = await cli(client.file, served.fingerprint, src, url);
      assert.deepEqual(describeTree(dst), describeTree(src));
      assert.match(noop, /listing first piece/);
      assert.match(noop, /listing equal to the local one/);
      assert.doesNotMatch(noop, /local walk and digest before the scan/);
      assert.ok(likes.length >= 2);
      assert.deepEqual(likes, likes.map(() => undefined), 'a scan carried `like` to a server without listing-same-any');
    } finally {
      await served.close();
      await closePools();
    }
  });
});

test('an io thread\'s listing asked with `like` while it still walks goes out as walked; once walked, the same digest is answered "the same"', async () => {
  // (LocalTree.scanListing waits LIKE_WAIT_MS for the walk's digest, then sends the blocks)
  const base = tempDir('listsame-walking');
  const root = join(base, 'tree');
  try {
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(root, `d${d}`), { recursive: true });
      for (let f = 0; f < 250; f++) writeFileSync(join(root, `d${d}`, `f${f}`), `${d}/${f}`);
    }
    // walked here, not in the pool: its threads are still to boot when the listing is asked
    const like = digest(walkHere({ root }).entries);
    const listed = async (): Promise<{ same: boolean; bytes: number }> => {
      const r = await new LocalTree(root, { writable: false }).scanListing({ like });
      if (r === 'same') return { same: true, bytes: 0 };
      assert.ok(r, 'the early listing');
      let bytes = 0;
      for await (const b of r) bytes += b.length;
      return { same: false, bytes };
    };
    // asked at once: the io thread boots and walks 10,040 entries, far longer than the wait
    await prescanListing(root, true, undefined, true);
    const walking = await listed();
    assert.equal(walking.same, false);
    assert.ok(walking.bytes > 10_000 * 5, `the whole listing went out (${walking.bytes} bytes)`);
    // asked once the walk (and its digest) is done: "the same"
    await prescanListing(root, true, undefined, true);
    assert.ok(await prescanDigest(root));
    assert.deepEqual(await listed(), { same: true, bytes: 0 });
  } finally {
    await closePools();
    removeDir(base);
  }
});
