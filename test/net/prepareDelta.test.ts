// A changed large file pushed as a delta (src/engine/syncTrees.ts askSignatures): right after
// its plan, the client tells the server (`prepare` with `delta`, the old versions' bytes:
// Tree.prepareDelta), which starts the threads that sign and rebuild (DeltaEndpoint
// warmToReceive), and asks for the signatures then, before the executor loads (so before
// its `resumeOffsets`). Attacked here: the order the server sees; a run that changes only
// small files tells and asks nothing; a server without the `prepare` capability gets no
// `prepare` and the delta still goes; a server whose tree cannot warm answers the field;
// a malformed `delta` ends that connection only; the executor takes the signatures asked
// ahead instead of asking again; a push that is a delta only starts no pack thread. Each result is checked by its contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPeer } from '../../src/net/client.js';
import { RemoteTree } from '../../src/net/remoteTree.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { LazyDelta } from '../../src/engine/lazyDelta.js';
import { syncTrees } from '../../src/engine/syncTrees.js';
import { PlanRunner } from '../../src/engine/executePlan.js';
import { closePools } from '../../src/workers/pool.js';
import { packThread } from '../../src/workers/packer.js';
import { planSync } from '../../src/core/plan.js';
import type { Expected, Tree } from '../../src/core/tree.js';
import type { StrongAlg } from '../../src/core/delta.js';
import { assertPrepareRefuses, pushToServed, serveOneTree, snapshot } from '../helpers/netFixtures.js';

const BIG = 4 << 20;

/** A source with a large file and a small one, a destination with their old versions (the large one 1 MiB in the middle rewritten). */
async function trees(base: string): Promise<{ src: string; dst: string }> {
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  await mkdir(src, { recursive: true });
  await mkdir(dst, { recursive: true });
  const old = randomBytes(BIG);
  await writeFile(join(dst, 'big.bin'), old);
  await writeFile(join(dst, 'small.txt'), 'old small\n');
  const now = Buffer.from(old);
  randomBytes(1 << 20).copy(now, BIG / 2);
  await writeFile(join(src, 'big.bin'), now);
  await writeFile(join(src, 'small.txt'), 'old small\n');
  // the small file the same at both ends: only the large one differs
  const t = new Date(Date.UTC(2024, 0, 1));
  await utimes(join(src, 'small.txt'), t, t);
  await utimes(join(dst, 'small.txt'), t, t);
  // the large one's old and new versions of the same size: written within one tick of the
  // kernel's coarse clock they would have the same mtime too, and the plan would see no change
  const later = new Date(t.getTime() + 60_000);
  await utimes(join(dst, 'big.bin'), t, t);
  await utimes(join(src, 'big.bin'), later, later);
  return { src, dst };
}

/** Records, in this process (the server's trees are LocalTrees here, their delta a LazyDelta), what the server was asked. */
function watchServer(): { events: string[]; restore: () => void } {
  const events: string[] = [];
  const warm = LazyDelta.prototype.warmToReceive;
  const sign = LazyDelta.prototype.signatures;
  const offsets = LocalTree.prototype.resumeOffsets;
  LazyDelta.prototype.warmToReceive = function (this: LazyDelta, bytes: number): void {
    events.push(`warmToReceive ${bytes}`);
    warm.call(this, bytes);
  };
  LazyDelta.prototype.signatures = function (this: LazyDelta, paths: string[], strong?: StrongAlg) {
    events.push(`signatures ${paths.join(',')}`);
    return sign.call(this, paths, strong);
  };
  LocalTree.prototype.resumeOffsets = function (this: LocalTree, expect: Expected[]) {
    events.push(`resumeOffsets ${expect.map((e) => e.path).join(',')}`);
    return offsets.call(this, expect);
  };
  return {
    events,
    restore: () => {
      LazyDelta.prototype.warmToReceive = warm;
      LazyDelta.prototype.signatures = sign;
      LocalTree.prototype.resumeOffsets = offsets;
    },
  };
}

test('a delta push: the server is told the old bytes and asked for the signatures before resumeOffsets; a small change tells nothing', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-delta-'));
  const { src, dst } = await trees(base);
  const served = await serveOneTree(dst);
  const w = watchServer();
  try {
    const r = await pushToServed(src, served);
    assert.deepEqual(r.failed, []);
    assert.equal(r.delta?.files, 1, 'the large file went as a delta');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');
    assert.deepEqual(w.events, [`warmToReceive ${BIG}`, 'signatures big.bin', 'resumeOffsets big.bin'], 'told, then asked for the signatures before the executor asked for the resume offsets');

    // a rerun that changes only the small file: nothing told, nothing signed
    w.events.length = 0;
    await writeFile(join(src, 'small.txt'), 'new small\n');
    const few = await pushToServed(src, served);
    assert.equal(few.filesSent, 1);
    assert.equal(few.delta, undefined);
    assert.deepEqual(w.events, [], 'no delta: no warm-up, no signatures, nothing to resume');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal after the small change');
  } finally {
    w.restore();
    await served.server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('a server without the prepare capability is sent no prepare; one whose tree cannot warm answers it; the delta goes either way', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-delta-'));
  const { src, dst } = await trees(base);
  const served = await serveOneTree(dst);
  const { server, client } = served;
  const w = watchServer();
  try {
    // the session as with a server from before `prepare`: the capability left out
    const { conn, session } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    const caps = session.caps.filter((c) => c !== 'prepare');
    const sent: string[] = [];
    const request = conn.request.bind(conn);
    conn.request = ((method: string, ...rest: Parameters<typeof conn.request> extends [unknown, ...infer R] ? R : never) => {
      sent.push(method);
      return request(method, ...rest);
    }) as typeof conn.request;
    const remote = await RemoteTree.open(conn, { tree: 't', sub: '', write: true }, served.url, () => conn.closeAndWait(), caps);
    try {
      const r = await syncTrees(new LocalTree(src, { writable: false }), remote, { delete: true });
      assert.equal(r.delta?.files, 1);
      assert.deepEqual(r.failed, []);
    } finally {
      await remote.close();
    }
    assert.ok(!sent.includes('prepare'), `no prepare sent: ${sent.join(' ')}`);
    assert.ok(!w.events.some((e) => e.startsWith('warmToReceive')), 'nothing warmed');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');

    // a server tree without warmToReceive (as one that predates `delta`): the field is
    // answered, and the next version goes as a delta as before
    w.restore();
    const warm = LazyDelta.prototype.warmToReceive;
    delete (LazyDelta.prototype as { warmToReceive?: unknown }).warmToReceive;
    try {
      const now = randomBytes(1 << 20);
      const b = readFileSync(join(src, 'big.bin'));
      now.copy(b, 0);
      await writeFile(join(src, 'big.bin'), b);
      const r = await pushToServed(src, served);
      assert.equal(r.delta?.files, 1);
      assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');
    } finally {
      LazyDelta.prototype.warmToReceive = warm;
    }
  } finally {
    w.restore();
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('prepare with a malformed delta: that connection ends, the server serves on', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-delta-'));
  const dst = join(base, 'dst');
  await mkdir(dst);
  const served = await serveOneTree(dst);
  const { server, client } = served;
  try {
    await assertPrepareRefuses(served, 'delta', [-1, 1.5, 'many', 2 ** 60, true, { bytes: 1 }]);
    // well-formed: answered, on a writable open and on a read-only one (which warms nothing)
    const { conn } = await connectPeer('127.0.0.1', server.address.port, { nodeKey: client, pin: server.fingerprint });
    const w = (await conn.request('open', { tree: 't', sub: '', write: true, create: false })).result as { handle: number };
    await conn.request('prepare', { h: w.handle, delta: 0 });
    await conn.request('prepare', { h: w.handle, delta: 1 << 30 });
    const r = (await conn.request('open', { tree: 't', sub: '', write: false, create: false })).result as { handle: number };
    await conn.request('prepare', { h: r.handle, delta: 5 });
    conn.close();
  } finally {
    await server.close();
    await rm(base, { recursive: true, force: true });
  }
});

test('the executor takes the signatures asked for ahead, and asks again when they are not its candidates', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-delta-'));
  const { src, dst } = await trees(base);
  try {
    const s = new LocalTree(src, { writable: false });
    const d = new LocalTree(dst, { writable: true });
    const [se, de] = await Promise.all([s.scan(), d.scan()]);
    const plan = planSync(se, de);
    const ahead = await d.delta.signatures(['big.bin'], 'lanes32');
    // a destination that is not a LocalTree (a delta is sent only between unlike ends), and
    // whose signatures are counted
    let asked = 0;
    const delta = Object.create(d.delta) as typeof d.delta;
    delta.signatures = (paths: string[], strong?: StrongAlg) => {
      asked++;
      return d.delta.signatures(paths, strong);
    };
    const far = Object.assign({}, {
      label: 'far',
      writable: true,
      delta,
      scan: () => d.scan(),
      apply: d.apply.bind(d),
      resumeOffsets: d.resumeOffsets.bind(d),
      unpack: d.unpack.bind(d),
      close: () => Promise.resolve(),
    });
    const run = async (sigsAhead: { paths: string[]; strong: StrongAlg }): Promise<void> => {
      const r = new PlanRunner(s, far as unknown as Tree, plan, { source: se, target: de, signaturesAhead: { ...sigsAhead, sigs: Promise.resolve(ahead) } });
      await r.transfer();
      const out = r.finish();
      assert.deepEqual(out.failed, []);
      assert.equal(out.delta?.files, 1);
    };
    await run({ paths: ['big.bin'], strong: 'lanes32' });
    assert.equal(asked, 0, 'the signatures asked ahead were used');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');
    // other candidates (or another block hash): asked again
    await writeFile(join(dst, 'big.bin'), randomBytes(BIG));
    await run({ paths: ['other.bin'], strong: 'lanes32' });
    assert.equal(asked, 1, 'not its candidates: asked again');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('a push whose first difference is a delta starts its pack thread only if the plan sends whole files too', async () => {
  const base = await mkdtemp(join(tmpdir(), 'omirr-prepare-delta-'));
  const { src, dst } = await trees(base);
  const served = await serveOneTree(dst);
  try {
    await closePools();
    assert.equal(packThread(), undefined, 'no pack thread before');
    const only = await pushToServed(src, served);
    assert.equal(only.delta?.files, 1);
    assert.equal(only.filesSent, 1);
    assert.equal(packThread(), undefined, 'a delta only: no pack thread started');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');

    // the large file changed again (the first difference: big.bin sorts first) and the small one: it goes whole
    const b = readFileSync(join(src, 'big.bin'));
    randomBytes(1 << 20).copy(b, 0);
    await writeFile(join(src, 'big.bin'), b);
    await writeFile(join(src, 'small.txt'), 'new small\n');
    const both = await pushToServed(src, served);
    assert.equal(both.delta?.files, 1);
    assert.equal(both.filesSent, 2);
    assert.notEqual(packThread(), undefined, 'a whole file too: the pack thread started after the plan');
    assert.deepEqual(snapshot(dst), snapshot(src), 'contents equal');
  } finally {
    await closePools();
    await served.server.close();
    await rm(base, { recursive: true, force: true });
  }
});
