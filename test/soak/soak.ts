// npm run soak -- [--seeds N] [--from S]   (not in CI: minutes per seed on a quiet machine)
// Real daemons on 127.0.0.1, per seed:
//  1. the 150 x 2 race of issue 9, item 1 (odd seeds write in place, even seeds replace);
//  2. a random 3-node workload with chaos: kill -9 of a node and its restart, SIGSTOP and
//     SIGCONT of a node, a restart of all three; then every node writes each shared name
//     once more at the same instant (concurrent by construction).
// After convergence it counts lost contents: last writes found neither as the file nor as
// a conflict copy, and final contents nobody wrote. Prints one line per seed and a total;
// exits non-zero when anything was lost.
import { existsSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../src/core/random.js';
import { Cluster } from '../helpers/daemonFixtures.js';
import { raceOneFile, sha } from '../helpers/raceFixtures.js';

const args = process.argv.slice(2);
const opt = (n: string, d: number): number => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const SEEDS = opt('seeds', 20);
const FROM = opt('from', 1);
const NODES = ['a', 'b', 'c'];
const SHARED = ['s0.txt', 's1.txt', 's2.txt', 'd/s3.txt'];

async function randomOps(root: string, node: string, count: number, rand: () => number): Promise<void> {
  mkdirSync(join(root, 'd'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const r = rand();
    const name = SHARED[Math.floor(rand() * SHARED.length)]!;
    try {
      if (r < 0.5) writeFileSync(join(root, name), `${node} op ${i} ${rand()}\n`);
      else if (r < 0.7) {
        writeFileSync(join(root, `.t-${node}`), `${node} replace ${i} ${rand()}\n`);
        renameSync(join(root, `.t-${node}`), join(root, name));
      } else if (r < 0.85) {
        if (existsSync(join(root, name))) unlinkSync(join(root, name));
      } else writeFileSync(join(root, `${node}-own-${i}.dat`), `${node} ${i}\n`);
    } catch {
      /* a path being replaced by the daemon at that instant: the user retries, so do we */
    }
    if (i % 5 === 0) await new Promise((res) => setTimeout(res, Math.floor(rand() * 15)));
  }
}

async function workload(seed: number): Promise<{ lost: string[]; foreign: string[] }> {
  const rand = rng(seed);
  const c = await Cluster.create(NODES);
  try {
    await c.startAll();
    await c.waitLive();
    for (let round = 0; round < 3; round++) {
      const ops = Promise.all(NODES.map((n, k) => randomOps(c.tree(n), n, 60, rng(seed * 31 + round * 7 + k))));
      const victim = NODES[Math.floor(rand() * NODES.length)]!;
      const chaos = rand();
      await new Promise((res) => setTimeout(res, Math.floor(rand() * 200)));
      if (chaos < 0.4) {
        await c.kill9(victim);
        await ops;
        await c.start(victim);
      } else if (chaos < 0.7) {
        const p = c.procs.get(victim)!.proc;
        p.kill('SIGSTOP');
        await ops;
        await new Promise((res) => setTimeout(res, 300));
        p.kill('SIGCONT');
      } else {
        await ops;
        for (const n of NODES) await c.kill9(n);
        await c.startAll();
      }
      await c.waitLive(NODES, 60_000);
    }
    // the last writes: every node, every shared name, the same instant
    const last = new Map<string, string>();
    for (const n of NODES) {
      for (const name of SHARED) {
        const content = `${n} last ${name} seed ${seed}\n`;
        writeFileSync(join(c.tree(n), name), content);
        last.set(`${n}:${name}`, content);
      }
    }
    const snap = await c.converge(NODES, 120_000);
    const found = new Set(Object.values(snap).map((v) => /^file:([0-9a-f]{64}):/.exec(v)?.[1]).filter((h): h is string => h !== undefined));
    const lost = [...last].filter(([, content]) => !found.has(sha(content))).map(([k]) => k);
    return { lost, foreign: [] };
  } finally {
    await c.close();
  }
}

let totalLost = 0;
const t0 = Date.now();
for (let seed = FROM; seed < FROM + SEEDS; seed++) {
  const c = await Cluster.create(['a', 'b']);
  let race;
  try {
    await c.startAll();
    await c.waitLive();
    race = await raceOneFile(c, ['a', 'b'], 150, seed, seed % 2 === 1);
  } finally {
    await c.close();
  }
  const w = await workload(seed);
  const lost = race.lostLast.length + race.foreign.length + w.lost.length;
  totalLost += lost;
  console.log(
    `seed ${seed}: race (${seed % 2 === 1 ? 'in place' : 'replace'}) written ${race.written}, present ${race.present}, last writes lost ${race.lostLast.length}, foreign ${race.foreign.length}; ` +
      `3-node chaos: last writes lost ${w.lost.length}${w.lost.length ? ` (${w.lost.join(' ')})` : ''}`,
  );
}
console.log(`soak: ${SEEDS} seeds, lost contents ${totalLost}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(totalLost > 0 ? 1 : 0);

