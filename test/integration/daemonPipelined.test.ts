// A backlog goes to a peer as several whole batches in flight at once (src/actors/peerSession.ts):
// real daemons on 127.0.0.1. The receiver must stage and place them one after the other:
// when two batches from one sender shared its staging directory, the first one's clean-up
// removed the second one's staged files before they were placed (ENOENT, out-of-sync items).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';

test('a backlog of whole batches arrives pipelined: every file placed, none failed', async (t) => {
  const c = await Cluster.create(['a', 'b'], { links: [['a', 'b']] });
  t.after(() => c.close());
  await c.start('a');
  // a's tree live (its link to b cannot be: b is away)
  await until(async () => ((await c.status('a')).trees[0]!.state.endsWith('live') ? true : undefined), "a's tree to be live", 60_000);
  // b is away: a's outbox for b fills with 3,000 files (three whole batches of 1,024 and a part)
  const files = 3000;
  for (let d = 0; d < files / 100; d++) {
    mkdirSync(join(c.tree('a'), `d${d}`));
    for (let f = 0; f < 100; f++) writeFileSync(join(c.tree('a'), `d${d}`, `f${f}`), `${d}/${f}\n`);
  }
  await until(async () => ((await c.status('a')).trees[0]!.files! >= files ? true : undefined), 'a indexed the files', 60_000);
  await c.start('b');
  const snap = await c.converge(['a', 'b'], 120_000);
  assert.equal(Object.keys(snap).filter((p) => /^d\d+\/f\d+$/.test(p)).length, files);
  for (const p of ['d0/f0', 'd17/f42', 'd29/f99']) assert.equal(readFileSync(join(c.tree('b'), p), 'utf8'), `${p.slice(1).replace('/f', '/')}\n`);
  const st = (await c.status('b')).trees[0]!;
  assert.deepEqual(st.stats!.applyFailures, {}, 'no change from a failed to apply');
  assert.equal(st.outOfSync, 0);
  await waitNoPartialFiles([c.tree('a'), c.tree('b')]);
});
