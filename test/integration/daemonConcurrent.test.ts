// A random mix of creates, writes, renames, deletes and mkdirs on three real daemons at
// once. Phase 1 runs with every link paused, so every write to a shared name is truly
// concurrent with the others' writes; after resuming, all trees converge and the last
// content each node wrote to each shared name is either the winner or a conflict copy.
// Phase 2 runs the same mix with the links live and checks convergence again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import { Cluster, until, waitNoPartialFiles } from '../helpers/daemonFixtures.js';
import { rng } from '../../src/core/random.js';

const SHARED = 6;
// A failure depends on the seed and on timing: the seed is printed so a failing run can be
// replayed with OMIRR_TEST_SEED=N (and OMIRR_TEST_DUMP=DIR OMIRR_TEST_LOG_LEVEL=debug for the trace).
const SEED = process.env.OMIRR_TEST_SEED ? Number(process.env.OMIRR_TEST_SEED) : Math.floor(Math.random() * 1_000_000);
const NODES = ['a', 'b', 'c'];

/** Runs `count` random operations on one node's tree; returns the last content written per shared name. */
async function randomOps(root: string, node: string, count: number, rand: () => number, tag: string): Promise<Map<string, string>> {
  const last = new Map<string, string>();
  const own: string[] = [];
  let seq = 0;
  for (let i = 0; i < count; i++) {
    const r = rand();
    try {
      if (r < 0.4) {
        const name = `f${Math.floor(rand() * SHARED)}.txt`;
        const content = `${tag} ${node} op ${i} ${rand()}\n`.repeat(1 + Math.floor(rand() * 50));
        writeFileSync(join(root, name), content);
        last.set(name, content);
      } else if (r < 0.65) {
        const name = `${node}-${tag}-${seq++}.dat`;
        writeFileSync(join(root, name), `${node} own ${i}\n`);
        own.push(name);
      } else if (r < 0.8 && own.length > 0) {
        const k = Math.floor(rand() * own.length);
        const to = `${own[k]!.replace(/\.dat$/, '')}-r.dat`;
        if (existsSync(join(root, own[k]!))) renameSync(join(root, own[k]!), join(root, to));
        own[k] = to;
      } else if (r < 0.9 && own.length > 0) {
        const [name] = own.splice(Math.floor(rand() * own.length), 1);
        if (existsSync(join(root, name!))) unlinkSync(join(root, name!));
      } else {
        const d = `d${Math.floor(rand() * 3)}/${node}-${tag}`;
        mkdirSync(join(root, d), { recursive: true });
        if (rand() < 0.5) writeFileSync(join(root, d, `in-${i}.txt`), `${node} ${i}\n`);
      }
    } catch (err) {
      // a path the daemon was replacing at that instant (conflict copy rename): the user
      // would retry; so do we, next op
      if (!/ENOENT/.test((err as Error).message)) throw err;
    }
    if (i % 8 === 0) await new Promise((res) => setImmediate(res));
  }
  return last;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

test('random concurrent changes on three nodes: converge, and every last write is the winner or a conflict copy', async (t) => {
  t.diagnostic(`seed ${SEED} (replay: OMIRR_TEST_SEED=${SEED})`);
  console.log(`daemonConcurrent seed ${SEED} (replay: OMIRR_TEST_SEED=${SEED})`);
  const c = await Cluster.create(NODES);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const pause = async (type: 'pause' | 'resume') => {
    for (const n of NODES) for (const p of c.peersOf(n)) await controlRequest(controlSocketPath(c.nodes.get(n)!.state), type, { peer: p });
  };

  // phase 1: partitioned, so every write to a shared name is concurrent with the others'
  await pause('pause');
  const lasts = await Promise.all(NODES.map((n, i) => randomOps(c.tree(n), n, 80, rng(SEED * 10 + i), 'p1')));
  // let each node's watcher take in its own writes before the partition heals
  await until(async () => {
    for (const n of NODES) {
      const s = await c.status(n);
      if (!s.trees[0]!.state.endsWith('live')) return undefined;
    }
    return true;
  }, 'trees idle');
  await pause('resume');
  const snap = await c.converge(NODES, 45_000);
  const present = new Map<string, string[]>();
  for (const [p, v] of Object.entries(snap)) {
    const m = /^file:([0-9a-f]{64}):/.exec(v);
    if (m) present.set(m[1]!, [...(present.get(m[1]!) ?? []), p]);
  }
  let conflicts = 0;
  NODES.forEach((n, i) => {
    for (const [name, content] of lasts[i]!) {
      const paths = present.get(sha(content)) ?? [];
      const base = name.replace(/\.txt$/, '');
      const ok = paths.some((p) => p === name || (p.startsWith(`${base}.omirr-conflict-`) && p.endsWith('.txt')));
      assert.ok(
        ok,
        `${n}'s last write to ${name} (${sha(content).slice(0, 12)}) survived (found at: ${paths.join(', ') || 'nowhere'}); ` +
          `tree has: ${Object.entries(snap).filter(([p]) => p.startsWith(base)).map(([p, v]) => `${p}=${v.slice(5, 17)}`).join(' ')}`,
      );
      if (paths.some((p) => p !== name)) conflicts++;
    }
  });
  assert.ok(conflicts > 0, 'the partition produced conflicts');
  assert.ok(Object.keys(snap).some((p) => /\.omirr-conflict-\d{8}-\d{6}-[abc]\.txt$/.test(p)));

  // phase 2: the same mix with the links live
  await Promise.all(NODES.map((n, i) => randomOps(c.tree(n), n, 120, rng(SEED * 10 + 5 + i), 'p2')));
  await c.converge(NODES, 45_000);
  await waitNoPartialFiles(NODES.map((n) => c.tree(n)));
  assert.ok(readdirSync(c.tree('a')).length > 10);
});
