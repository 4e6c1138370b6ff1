// `npm run bench:hash`: whole-file hashing throughput in one thread, sha256 (node:crypto)
// against BLAKE3 (@napi-rs/blake-hash, src/workers/contentHash.ts), through the same
// update() calls the workers make (1 MiB and 4 MiB pieces, as the tar and delta readers).
// Interleaved, medians; not a test: numbers go to docs/performance.md.
// Usage: node dist/bench/hash.js [--mib 256] [--reps 5]
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { newHasher, blake3Available, type HashAlg } from '../src/workers/contentHash.js';
import { arg, median } from './args.js';

const MiB = 1 << 20;
const size = Number(arg('mib', '256')) * MiB;
const reps = Number(arg('reps', '5'));
const data = randomBytes(size);
const algs: HashAlg[] = blake3Available() ? ['sha256', 'blake3'] : ['sha256'];
if (algs.length === 1) console.error('BLAKE3 binding not available: sha256 only');
const times = new Map<string, number[]>();
const loads: number[] = [];
for (let r = 0; r < reps; r++) {
  for (const piece of [MiB, 4 * MiB]) {
    for (const alg of algs) {
      loads.push(loadavg()[0]!);
      const t0 = process.hrtime.bigint();
      const h = newHasher(alg);
      for (let at = 0; at < size; at += piece) h.update(data.subarray(at, at + piece));
      h.digest();
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const k = `${alg} ${piece / MiB} MiB`;
      times.set(k, [...(times.get(k) ?? []), s]);
    }
  }
}
console.log(`\nhash throughput, one thread, ${size / MiB} MiB in memory, medians of ${reps}; load average (1 min) ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}\n`);
console.log('| algorithm | piece | seconds | GB/s |');
console.log('|---|---|---|---|');
for (const [k, v] of times) {
  const [alg, p] = k.split(' ');
  const s = median(v);
  console.log(`| ${alg} | ${p} MiB | ${s.toFixed(3)} | ${(size / 1e9 / s).toFixed(2)} |`);
}
