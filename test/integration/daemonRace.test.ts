// Issue 9, item 1: two real daemons each replace one shared file 150 times, 0-20 ms apart,
// with their link live, so remote changes arrive while local writes are being made. Once
// the trees converge: every final content is one that was written, and each node's last
// write exists as the winner or as a conflict copy (a local write may lose to a newer
// concurrent one, never vanish). Run once with replace-by-rename (what editors do) and
// once with in-place writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, waitNoPartialFiles } from '../helpers/daemonFixtures.js';
import { rng } from '../../src/core/random.js';

const SEED = process.env.OMIRR_TEST_SEED ? Number(process.env.OMIRR_TEST_SEED) : Math.floor(Math.random() * 1_000_000);
const WRITES = Number(process.env.OMIRR_RACE_WRITES ?? 150);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export interface RaceResult {
  /** Contents written (all nodes). */
  written: number;
  /** Of those, found anywhere in the converged tree. */
  present: number;
  /** Each node's last write that exists neither as the file nor as a conflict copy. */
  lostLast: string[];
  /** Final contents of the shared name or its conflict copies that nobody wrote. */
  foreign: string[];
}

/** Each node replaces `f.txt` `writes` times with a pause of 0-20 ms; returns what survived after convergence. */
export async function raceOneFile(c: Cluster, nodes: string[], writes: number, seed: number, inPlace: boolean): Promise<RaceResult> {
  const all = new Set<string>();
  const last = new Map<string, string>();
  await Promise.all(
    nodes.map(async (n, k) => {
      const rand = rng(seed * 7 + k);
      const root = c.tree(n);
      for (let i = 0; i < writes; i++) {
        const content = `${n} write ${i} seed ${seed} ${rand()}\n`;
        all.add(sha(content));
        last.set(n, content);
        if (inPlace) writeFileSync(join(root, 'f.txt'), content);
        else {
          writeFileSync(join(root, `.tmp-${n}`), content);
          renameSync(join(root, `.tmp-${n}`), join(root, 'f.txt'));
        }
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 21)));
      }
    }),
  );
  const snap = await c.converge(nodes, 60_000);
  const found = new Map<string, string[]>();
  const foreign: string[] = [];
  for (const [p, v] of Object.entries(snap)) {
    const m = /^file:([0-9a-f]{64}):/.exec(v);
    if (!m || !(p === 'f.txt' || p.startsWith('f.omirr-conflict-'))) continue;
    found.set(m[1]!, [...(found.get(m[1]!) ?? []), p]);
    if (!all.has(m[1]!)) foreign.push(p);
  }
  const lostLast = [...last].filter(([, content]) => !found.has(sha(content))).map(([n]) => n);
  return { written: all.size, present: [...all].filter((h) => found.has(h)).length, lostLast, foreign };
}

for (const inPlace of [false, true]) {
  test(`${WRITES} x 2 ${inPlace ? 'in-place writes' : 'replacing renames'} of one file on two live daemons: no last write lost, nothing foreign`, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: OMIRR_TEST_SEED=${SEED})`);
    const c = await Cluster.create(['a', 'b']);
    t.after(() => c.close());
    await c.startAll();
    await c.waitLive();
    const r = await raceOneFile(c, ['a', 'b'], WRITES, SEED, inPlace);
    t.diagnostic(`contents written ${r.written}, present at the end ${r.present}`);
    assert.deepEqual(r.foreign, [], 'every final content is one that was written');
    assert.deepEqual(r.lostLast, [], "each node's last write is the winner or a conflict copy");
    await waitNoPartialFiles([c.tree('a'), c.tree('b')]);
  });
}
