// Crashes and bursts with real daemons: kill -9 of the receiver, then of the sender, in the
// middle of a large transfer (after restart: converged, no partial or corrupt file
// anywhere); 20,000 files created at once in one directory tree (every one arrives).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, openSync, readdirSync, statSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';

function writeBig(path: string, mib: number): void {
  const fd = openSync(path, 'w');
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < mib; i++) {
    chunk.writeUInt32LE(i, 0);
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

/** A file with bytes in it in one of the tree's staging directories. */
function receiving(tree: string): boolean {
  try {
    return readdirSync(tree)
      .filter((n) => n.startsWith('.omirr-part.stage-'))
      .some((d) => readdirSync(join(tree, d)).some((n) => statSync(join(tree, d, n)).size > 0));
  } catch {
    return false; // removed while looked at
  }
}

for (const victim of ['receiver', 'sender'] as const) {
  test(`kill -9 of the ${victim} in the middle of a large transfer: after restart, converged and nothing partial`, async (t) => {
    const c = await Cluster.create(['a', 'b']);
    t.after(() => c.close());
    await c.startAll();
    await c.waitLive();
    writeFileSync(join(c.tree('a'), 'small.txt'), 'small\n');
    writeBig(join(c.tree('a'), 'big.bin'), 160);
    // b has started writing big.bin's temporary file: the transfer is in flight (a staging
    // directory alone may be the one kept after small.txt's batch)
    await until(async () => (receiving(c.tree('b')) ? true : undefined), 'the transfer to start', 20_000, 2);
    const who = victim === 'receiver' ? 'b' : 'a';
    await c.kill9(who);
    await c.start(who);
    const snap = await c.converge(['a', 'b'], 50_000);
    assert.ok(snap['big.bin'] && snap['small.txt']);
    await waitNoPartialFiles(['a', 'b'].map((n) => c.tree(n)));
  });
}

test('20,000 files created at once in one directory tree all arrive', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const t0 = Date.now();
  const root = join(c.tree('a'), 'burst');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(root, `d${d}`), { recursive: true });
    for (let f = 0; f < 200; f++) writeFileSync(join(root, `d${d}`, `f${f}.txt`), `${d}/${f} ${'x'.repeat((d * 200 + f) % 1000)}\n`);
  }
  const created = Date.now() - t0;
  // b's own count first (one status request a poll): the trees' whole comparison walks and
  // hashes 40,000 entries a round (~0.6 s of CPU), and round after round of it while the
  // burst was still arriving took CPU from the daemons it waited for
  await until(async () => ((await c.status('b')).trees[0]?.files === 20_000 ? true : undefined), 'b to count 20,000 files', 55_000, 100);
  const snap = await c.converge(['a', 'b'], 55_000 - (Date.now() - t0));
  const files = Object.keys(snap).filter((p) => p.startsWith('burst/') && p.endsWith('.txt'));
  assert.equal(files.length, 20_000);
  t.diagnostic(`created in ${created} ms, converged ${Date.now() - t0} ms after the first write`);
  const s = await c.status('b');
  assert.equal(s.trees[0]!.files, 20_000);
});
