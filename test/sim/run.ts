// npm run sim -- [--seeds N] [--from S] [--seed S --trace] [--nodes K] [--steps M]
// Runs the replica simulation (test/sim/replicaSim.ts) over many seeds, or replays one
// seed with its full trace. Exits non-zero on any violation.
import { runSeed } from './replicaSim.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const nodes = opt('nodes') ? Number(opt('nodes')) : undefined;
const steps = opt('steps') ? Number(opt('steps')) : undefined;
if (opt('seed') !== undefined) {
  const seed = Number(opt('seed'));
  const r = runSeed(seed, { nodes, steps, ...(args.includes('--trace') ? { trace: (l: string) => console.log(l) } : {}) });
  console.log(JSON.stringify({ seed, stats: r.stats }));
  for (const v of r.violations) console.log(`VIOLATION: ${v}`);
  process.exit(r.violations.length > 0 ? 1 : 0);
}
const seeds = Number(opt('seeds') ?? 10_000);
const from = Number(opt('from') ?? 1);
const t0 = Date.now();
let bad = 0;
for (let s = from; s < from + seeds; s++) {
  const r = runSeed(s, { nodes, steps });
  if (r.violations.length > 0) {
    bad++;
    console.log(`seed ${s}: ${r.violations.length} violation(s) (replay: npm run sim -- --seed ${s} --trace)\n  ${r.violations.slice(0, 5).join('\n  ')}`);
    if (bad >= 10) break;
  }
}
console.log(`${seeds} seeds from ${from}: ${bad} failing, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(bad > 0 ? 1 : 0);
