// Issue 9, item 1: two real daemons each replace one shared file 150 times, 0-20 ms apart,
// with their link live, so remote changes arrive while local writes are being made. The
// 150th writes of both nodes are made at the same instant (after both have made 149), so
// they are concurrent: each may lose to the other, neither may vanish; they land while the
// earlier writes are still being placed on the other side. (An earlier write can be gone
// legitimately: a later write on either node, made after it arrived there, replaced it.)
// Once the trees converge: every final content is one that was written, and both last
// writes exist as the winner or a conflict copy. Run once with replace-by-rename (what
// editors do) and once with in-place writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, waitNoPartialFiles } from '../helpers/daemonFixtures.js';
import { raceOneFile } from '../helpers/raceFixtures.js';

const SEED = process.env.OMIRR_TEST_SEED ? Number(process.env.OMIRR_TEST_SEED) : Math.floor(Math.random() * 1_000_000);
const WRITES = Number(process.env.OMIRR_RACE_WRITES ?? 150);

for (const inPlace of [false, true]) {
  test(`${WRITES} x 2 ${inPlace ? 'in-place writes' : 'replacing renames'} of one file on two live daemons: no last write lost, nothing foreign`, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: OMIRR_TEST_SEED=${SEED})`);
    const c = await Cluster.create(['a', 'b']);
    t.after(() => c.close());
    await c.startAll();
    await c.waitLive();
    const r = await raceOneFile(c, ['a', 'b'], WRITES, SEED, inPlace);
    t.diagnostic(`contents written ${r.written}, present at the end ${r.present}`);
    assert.deepEqual(r.foreign, [], `every final content is one that was written\n${r.detail}`);
    assert.deepEqual(r.lostLast, [], `each node's last write is the winner or a conflict copy\n${r.detail}`);
    await waitNoPartialFiles([c.tree('a'), c.tree('b')]);
  });
}
