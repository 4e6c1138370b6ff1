// The destination root gets the source root's mode and mtime, as `rsync -a SRC/ DST/` gives
// it (rsync -nci then shows nothing, not `.d..t...... ./`): local, pushed and pulled through
// a real `omirr serve`, after a run that wrote into the root, and when only the root changed
// (a no-op below it). A server without the capability: the root is left, nothing fails.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { connectPeer } from '../../src/net/client.js';
import { RemoteTree, ROOT_ATTRS_CAP } from '../../src/net/remoteTree.js';
import { closePools } from '../../src/workers/pool.js';
import { makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { makeKey, serveOneTree, startServe, writeConfig } from '../helpers/netFixtures.js';
import { runOmirr } from '../helpers/omirrRun.js';

const dirs: string[] = [];
after(async () => {
  await closePools();
  for (const d of dirs) removeDir(d);
});

const T1 = new Date('2020-01-01T00:00:00.250Z');
const T2 = new Date('2021-06-01T12:00:00Z');

function rootOf(dir: string): { mode: number; mtimeMs: number } {
  const st = statSync(dir);
  return { mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
}

/** What `rsync -a -nci` would still change (empty: the trees are equal, roots included). */
function rsyncItemized(src: string, dst: string): string {
  const r = spawnSync('rsync', ['-a', '-nci', `${src}/`, `${dst}/`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function sourceTree(base: string): string {
  const src = join(base, 'src');
  makeSampleTree(src);
  chmodSync(src, 0o750);
  utimesSync(src, T1, T1);
  return src;
}

test('local: the destination root gets the source root\'s mode and mtime; a rerun after only the root changed sets it; a top-level write is followed by it', () => {
  const base = tempDir('rootattrs');
  dirs.push(base);
  const src = sourceTree(base);
  const dst = join(base, 'dst');
  assert.equal(runOmirr(['sync', src, dst]).status, 0);
  assert.deepEqual(rootOf(dst), rootOf(src));
  assert.equal(rsyncItemized(src, dst), '');
  // only the root changed: the quick no-op check must not stop there
  chmodSync(src, 0o755);
  utimesSync(src, T2, T2);
  const r = runOmirr(['sync', src, dst]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rootOf(dst), rootOf(src));
  // a new top-level file moves the destination root's mtime; the run puts the source's back
  writeFileSync(join(src, 'new-top.txt'), 'new\n');
  utimesSync(src, T1, T1);
  assert.equal(runOmirr(['sync', src, dst]).status, 0);
  assert.deepEqual(rootOf(dst), rootOf(src));
  assert.equal(rsyncItemized(src, dst), '');
});

test('omirr://: pushed to a new directory and pulled back, each root gets its source\'s mode and mtime', async () => {
  const base = tempDir('rootattrs-net');
  dirs.push(base);
  const src = sourceTree(base);
  makeKey(base, 'alpha');
  const client = makeKey(base, 'beta');
  mkdirSync(join(base, 'remote'));
  const serve = await startServe(writeConfig(base, ['node = alpha', 'key = alpha.key', `peer = beta - ${client.fingerprint}`, 'tree = remote remote beta rw']));
  try {
    const url = `omirr://127.0.0.1:${serve.port}/remote/pushed`;
    const auth = ['--key', client.file, '--pin', serve.fingerprint];
    const push = runOmirr(['sync', src, url, ...auth]);
    assert.equal(push.status, 0, push.stderr);
    assert.deepEqual(rootOf(join(base, 'remote', 'pushed')), rootOf(src));
    assert.equal(rsyncItemized(src, join(base, 'remote', 'pushed')), '');
    // the remote root changes alone, then is pulled
    chmodSync(join(base, 'remote', 'pushed'), 0o705);
    utimesSync(join(base, 'remote', 'pushed'), T2, T2);
    const local = join(base, 'pulled');
    const pull = runOmirr(['sync', url, local, ...auth]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.deepEqual(rootOf(local), rootOf(join(base, 'remote', 'pushed')));
    // and pushed again over it: only the root differs, and it is set
    const again = runOmirr(['sync', src, url, ...auth]);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(rootOf(join(base, 'remote', 'pushed')), rootOf(src));
  } finally {
    await serve.stop();
  }
});

test('a server without root-attrs (an older build): the push succeeds and the root is left as it is', async () => {
  const base = tempDir('rootattrs-old');
  dirs.push(base);
  const src = sourceTree(base);
  const remote = join(base, 'remote');
  mkdirSync(remote);
  utimesSync(remote, T2, T2);
  const { server, client } = await serveOneTree(remote);
  try {
    const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    assert.ok(session.caps.includes(ROOT_ATTRS_CAP));
    const old = await RemoteTree.open(conn, { tree: 't', write: true }, 'old', () => conn.closeAndWait(), session.caps.filter((c) => c !== ROOT_ATTRS_CAP));
    assert.equal(old.setRootAttrs, undefined);
    const r = await syncTrees(new LocalTree(src, { writable: false }), old);
    await old.close();
    assert.deepEqual(r.failed, []);
    assert.ok(r.filesSent > 0);
    assert.notDeepEqual(rootOf(remote), rootOf(src));
  } finally {
    await server.close();
  }
});

test('a hostile rootAttrs request: on a read-only tree refused and the connection goes on; a malformed one ends that connection only, the root untouched', async () => {
  const base = tempDir('rootattrs-hostile');
  dirs.push(base);
  const remote = join(base, 'remote');
  mkdirSync(remote);
  chmodSync(remote, 0o755);
  utimesSync(remote, T2, T2);
  const before = rootOf(remote);
  const { server, client } = await serveOneTree(remote);
  try {
    const peer = async (): Promise<Awaited<ReturnType<typeof connectPeer>>['conn']> =>
      (await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint })).conn;
    // opened read-only: refused, and the same connection still answers
    const c1 = await peer();
    const ro = (await c1.request('open', { tree: 't', sub: '', write: false, create: false })).result as { handle: number; root?: { mode: number } };
    assert.equal(ro.root?.mode, 0o755, 'open answers with the root\'s attributes');
    await assert.rejects(c1.request('rootAttrs', { h: ro.handle, mode: 0o700, mtimeMs: 0 }), /read-only/);
    assert.ok((await c1.request('open', { tree: 't', sub: '', write: false, create: false })).result);
    await c1.closeAndWait();
    // malformed (a mode beyond 07777, an mtime that is not a number): that connection ends
    for (const args of [{ mode: 0o170000 }, { mode: 0o700, mtimeMs: 'soon' }]) {
      const c = await peer();
      const rw = (await c.request('open', { tree: 't', sub: '', write: true, create: false })).result as { handle: number };
      await assert.rejects(c.request('rootAttrs', { h: rw.handle, ...args }));
      await c.closed;
    }
    assert.deepEqual(rootOf(remote), before);
    // the server serves on
    const c3 = await peer();
    assert.ok((await c3.request('open', { tree: 't', sub: '', write: false, create: false })).result);
    await c3.closeAndWait();
  } finally {
    await server.close();
  }
});
