// An `apply` with `after` (capability `apply-after`, src/net/treeService.ts): the directories'
// attributes of a push sent right behind its file stream, run by the server once the unpacks
// read before it are done (their renames move the directories' mtimes). The guarantees
// attacked here: the server waits for the unpack however late its data comes, a rerun sends
// the attributes before the unpack's answer and leaves every directory with the source's
// mtime, a run with symlinks or deletes keeps the plain order, an older peer gets the plain
// order too, and a malformed `after` ends that connection only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connectPeer, connectTree } from '../../src/net/client.js';
import { APPLY_AFTER_CAP, RemoteTree } from '../../src/net/remoteTree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import type { Expected } from '../../src/core/tree.js';
import { serveOneTree, snapshot } from '../helpers/netFixtures.js';

/** Every directory's mtime (ms) below `root`, by path. */
function dirTimes(root: string, snap: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [p, what] of Object.entries(snap)) if (what === 'dir') out[p] = Math.floor(lstatSync(join(root, p)).mtimeMs);
  return out;
}

test('apply after: the server runs it once the unpack before it is done, however late its data comes', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-apply-after-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  await mkdir(join(src, 'd'), { recursive: true });
  await mkdir(join(dst, 'd'), { recursive: true });
  await writeFile(join(src, 'd', 'f'), 'the new file'.repeat(100));
  const { server, url, client } = await serveOneTree(dst);
  try {
    const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    try {
      assert.ok(remote.applyAfterUnpack, 'the server offers apply-after');
      const local = new LocalTree(src, { writable: false });
      const files = (await local.scan()).filter((e): e is Expected => e.kind === 'file');
      // the whole stream first, held back until both requests are out
      const chunks: Buffer[] = [];
      for await (const c of local.pack(files.map((f) => ({ path: f.path, size: f.size })), { verify: true })) chunks.push(c as Buffer);
      const up = new PassThrough();
      const order: string[] = [];
      const unpacked = remote.unpack(up, files).then((r) => {
        order.push('unpack');
        return r;
      });
      const dirMtime = Date.UTC(2020, 0, 2);
      const applied = remote.applyAfterUnpack([{ op: 'setattr', path: 'd', mode: 0o755, mtimeMs: dirMtime }]).then((r) => {
        order.push('apply');
        return r;
      });
      // the apply's frame is read by now: it must wait for the stream, which comes only now
      await new Promise((r) => setImmediate(r));
      for (const c of chunks) up.write(c);
      up.end();
      const [u, a] = await Promise.all([unpacked, applied]);
      assert.deepEqual(u.written, ['d/f']);
      assert.deepEqual(a.map((r) => r.ok), [true]);
      assert.deepEqual(order, ['unpack', 'apply']);
      // set after the rename into d, which moved d's mtime
      assert.equal(lstatSync(join(dst, 'd')).mtimeMs, dirMtime);
      assert.deepEqual(snapshot(dst), snapshot(src));
    } finally {
      await remote.close();
    }
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('apply after: a rerun over omirr:// sends the directories\' attributes behind its stream, before the unpack\'s answer; with a delete, after it', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-apply-after-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  for (const d of ['a', 'a/b', 'c']) await mkdir(join(src, d), { recursive: true });
  for (const d of ['a', 'a/b', 'c']) for (let i = 0; i < 5; i++) await writeFile(join(src, d, `f${i}`), `${d} ${i}`.repeat(200));
  await mkdir(dst);
  const { server, url, client } = await serveOneTree(dst);
  const sync = async (): Promise<{ events: string[]; r: Awaited<ReturnType<typeof syncTrees>> }> => {
    const remote = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    const events: string[] = [];
    const unpack = remote.unpack.bind(remote);
    remote.unpack = async (tar, expect) => {
      const r = await unpack(tar, expect);
      events.push('unpack answered');
      return r;
    };
    const apply = remote.apply.bind(remote);
    remote.apply = async (ops) => {
      events.push(`apply ${ops.map((o) => o.op).join(',')}`);
      return apply(ops);
    };
    const after = remote.applyAfterUnpack!;
    Object.assign(remote, {
      applyAfterUnpack: async (ops: Parameters<typeof after>[0]) => {
        events.push(`apply after ${ops.map((o) => o.path).join(',')}`);
        return after(ops);
      },
    });
    try {
      const local = new LocalTree(src, { writable: false });
      const entries = await local.scan();
      const r = await syncTrees(local, remote, { delete: true, srcScan: { entries: Promise.resolve(entries), skipped: [] } });
      return { events, r };
    } finally {
      await remote.close();
    }
  };
  try {
    await sync();
    // the source's directories get times of their own, the rerun changes files in two of them
    for (const [d, t] of [['a/b', 1_600_000_000], ['c', 1_600_100_000], ['a', 1_600_200_000]] as const) await utimes(join(src, d), t, t);
    await sync();
    await writeFile(join(src, 'a/b', 'f1'), 'rewritten');
    await writeFile(join(src, 'c', 'f4'), 'rewritten too, longer');
    for (const [d, t] of [['a/b', 1_600_300_000], ['c', 1_600_400_000]] as const) await utimes(join(src, d), t, t);
    const change = await sync();
    assert.equal(change.r.filesSent, 2);
    assert.equal(change.r.failed.length, 0);
    assert.deepEqual(change.events, ['apply after c,a/b', 'unpack answered'], 'the attributes go behind the stream, not after its answer');
    assert.deepEqual(snapshot(dst), snapshot(src));
    assert.deepEqual(dirTimes(dst, snapshot(dst)), dirTimes(src, snapshot(src)), 'every directory has the source\'s mtime');
    // a delete (and a symlink) must come before the directories' attributes: the plain order
    await rm(join(src, 'a', 'f0'));
    await symlink('f1', join(src, 'c', 'link'));
    await writeFile(join(src, 'c', 'f2'), 'and one more');
    for (const [d, t] of [['a', 1_600_500_000], ['c', 1_600_600_000]] as const) await utimes(join(src, d), t, t);
    const mixed = await sync();
    assert.equal(mixed.r.failed.length, 0);
    assert.ok(!mixed.events.some((e) => e.startsWith('apply after')), `no apply after with a delete: ${mixed.events.join('; ')}`);
    assert.deepEqual(snapshot(dst), snapshot(src));
    assert.deepEqual(dirTimes(dst, snapshot(dst)), dirTimes(src, snapshot(src)));
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('apply after: a peer without the capability gets the plain apply after the unpack; a malformed `after` ends that connection only', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-apply-after-'));
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  await mkdir(join(src, 'd'), { recursive: true });
  await mkdir(dst);
  await writeFile(join(src, 'd', 'f'), 'one');
  await utimes(join(src, 'd'), 1_600_000_000, 1_600_000_000);
  const { server, url, client } = await serveOneTree(dst);
  try {
    const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    assert.ok(session.caps.includes(APPLY_AFTER_CAP));
    const old = await RemoteTree.open(conn, { tree: 't', write: true }, 'old', () => conn.closeAndWait(), session.caps.filter((c) => c !== APPLY_AFTER_CAP));
    assert.equal(old.applyAfterUnpack, undefined);
    const r = await syncTrees(new LocalTree(src, { writable: false }), old);
    await old.close();
    assert.deepEqual(r.failed, []);
    assert.equal(r.filesSent, 1);
    assert.deepEqual(dirTimes(dst, snapshot(dst)), dirTimes(src, snapshot(src)));
    // `after` that is not a boolean: that peer's connection ends, the server serves on
    const bad = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    const { result } = await bad.conn.request('open', { tree: 't', write: true });
    await assert.rejects(bad.conn.request('apply', { h: (result as { handle: number }).handle, after: 'yes' }, [{ op: 'setattr', path: 'd', mode: 0o700 }]));
    await bad.conn.closed;
    assert.equal(lstatSync(join(dst, 'd')).mode & 0o777, lstatSync(join(src, 'd')).mode & 0o777, 'the malformed request changed nothing');
    const again = await connectTree(url, { nodeKey: client, pin: server.fingerprint, writable: true });
    const noop = await syncTrees(new LocalTree(src, { writable: false }), again);
    await again.close();
    assert.equal(noop.filesSent, 0);
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});
