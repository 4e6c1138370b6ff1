// `npm run bench:latency`: how long from a write on one node until the file is complete,
// with the right content, on the others. Real daemons on 127.0.0.1 (the test fixtures'
// Cluster), one writer and 1 or 8 peers (a star: each peer linked to the writer).
//   - 4 KiB and 1 MiB files, SAMPLES writes each (default 200), one at a time: p50/p95/p99
//     of the time until the LAST peer has it (and until the first);
//   - a burst of 10,000 small files to 4 peers: time until every peer has every file.
// Arrival is seen with fs.watch on each peer's tree (the rename into place), then the
// content is read and compared. Not a test: numbers only. Env: SAMPLES, SCENARIOS.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, watch, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../test/helpers/daemonFixtures.js';

const SAMPLES = Number(process.env.SAMPLES ?? 200);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const fmt = (n: number): string => n.toFixed(2);

async function star(peers: number): Promise<Cluster> {
  const names = ['w', ...Array.from({ length: peers }, (_, i) => `p${i}`)];
  const c = await Cluster.create(names, { links: names.slice(1).map((n) => ['w', n] as [string, string]) });
  await c.startAll();
  await c.waitLive(names, 60_000);
  return c;
}

/** Resolves when `name` in `dir` has exactly `want` as content. */
function arrival(dir: string, name: string, want: string): Promise<number> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      try {
        const got = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
        if (got === want) {
          w.close();
          resolve(performance.now());
          return true;
        }
      } catch {
        /* not there yet */
      }
      return false;
    };
    const w = watch(dir, (_ev, f) => {
      if (f === name) check();
    });
    check();
  });
}

async function latency(c: Cluster, peers: string[], size: number, label: string): Promise<void> {
  const writer = c.tree('w');
  const last: number[] = [];
  const first: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const name = `lat-${size}-${i}.bin`;
    const data = randomBytes(size);
    const want = createHash('sha256').update(data).digest('hex');
    const waits = peers.map((p) => arrival(c.tree(p), name, want));
    const t0 = performance.now();
    writeFileSync(join(writer, name), data);
    const times = await Promise.all(waits);
    last.push(Math.max(...times) - t0);
    first.push(Math.min(...times) - t0);
  }
  console.log(
    `${label}: n=${SAMPLES}  last peer p50 ${fmt(pct(last, 50))} ms  p95 ${fmt(pct(last, 95))} ms  p99 ${fmt(pct(last, 99))} ms` +
      `   first peer p50 ${fmt(pct(first, 50))} ms  p95 ${fmt(pct(first, 95))} ms`,
  );
}

async function burst(c: Cluster, peers: string[], files: number): Promise<void> {
  const dir = join(c.tree('w'), 'burst');
  const t0 = performance.now();
  for (let d = 0; d < files / 100; d++) {
    mkdirSync(join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), `${d}/${f}\n`);
  }
  const written = performance.now() - t0;
  const count = (root: string): number => {
    let n = 0;
    try {
      for (const d of readdirSync(join(root, 'burst'))) n += readdirSync(join(root, 'burst', d)).length;
    } catch {
      /* not yet */
    }
    return n;
  };
  const done = new Map<string, number>();
  while (done.size < peers.length) {
    for (const p of peers) if (!done.has(p) && count(c.tree(p)) >= files) done.set(p, performance.now() - t0);
    if (performance.now() - t0 > 300_000) throw new Error('burst did not arrive in 5 minutes');
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(`burst of ${files} files to ${peers.length} peers: written in ${fmt(written)} ms, on every peer after ${fmt(Math.max(...done.values()))} ms (first peer ${fmt(Math.min(...done.values()))} ms)`);
}

const scenarios = (process.env.SCENARIOS ?? 'p1,p8,burst').split(',');
for (const s of scenarios) {
  const peers = s === 'p1' ? 1 : s === 'p8' ? 8 : 4;
  const c = await star(peers);
  const names = Array.from({ length: peers }, (_, i) => `p${i}`);
  try {
    if (s === 'burst') await burst(c, names, 10_000);
    else {
      await latency(c, names, 4096, `${peers} peer(s), 4 KiB`);
      await latency(c, names, 1 << 20, `${peers} peer(s), 1 MiB`);
    }
  } finally {
    await c.close();
  }
}
