// The replica simulation in CI: SIM_SEEDS seeded schedules (default 4,000) of three
// nodes running the daemon's replica code (src/replica/replica.ts, the executor, placing and
// the planner) over in-memory ports (test/sim/replicaSim.ts). A failing seed is printed
// with its replay command and its trace. 4,000 (was 10,000 until issue 12's test-time round)
// keeps every kind of interleaving the totals count in each run at 2.5 ms a seed; `npm run sim
// -- --seeds N` (or SIM_SEEDS=N here) runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './replicaSim.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 4_000);
const BASE = Number(process.env.SIM_BASE ?? 1);

test(`replica simulation: ${SEEDS} seeded schedules converge with nothing lost`, () => {
  const failed: string[] = [];
  const totals = { userOps: 0, deliveries: 0, pipelined: 0, overlapped: 0, watchedBetween: 0, crashes: 0, conflicts: 0, failures: 0, replans: 0 };
  for (let s = BASE; s < BASE + SEEDS && failed.length < 3; s++) {
    const r = runSeed(s);
    for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += r.stats[k];
    if (r.violations.length > 0) {
      const trace: string[] = [];
      runSeed(s, { trace: (l) => trace.push(l) });
      failed.push(`seed ${s} (replay: npm run sim -- --seed ${s} --trace):\n  ${r.violations.join('\n  ')}\n${trace.slice(-80).join('\n')}`);
    }
  }
  console.log(`simulation: ${JSON.stringify(totals)}`);
  assert.deepEqual(failed, []);
  // the schedules do reach the daemon's interleavings: a batch decided while an earlier one
  // waits to be placed, and local changes indexed in between
  if (SEEDS >= 1000) assert.ok(totals.overlapped > 0 && totals.watchedBetween > 0, JSON.stringify(totals));
});

// Long schedules (300 steps) that once diverged, kept as regressions with their causes:
//  - 7182: a user wrote over a received file before a crash, so the journal replay made the
//    received record a failed item and the rescan a local version concurrent with it; a later
//    crash's replay (the received record journalled again by a retry, then that local
//    version) dropped the failed item although the local version lost to it, and
//    the node that had applied the record did not send it back to its sender: c19 was lost.
//  - 8214: a failed symlink was resolved by a peer's older, concurrent delete adopted later;
//    and that peer's batch (its own records sent again after a crash, after the symlink it had
//    relayed) was reduced to its last, stale record per path, dropping the symlink.
test('replica simulation: the 300-step schedules that once diverged (seeds 7182, 8214) converge', () => {
  for (const seed of [7182, 8214]) {
    const r = runSeed(seed, { steps: 300 });
    assert.deepEqual(r.violations, [], `seed ${seed} (replay: npm run sim -- --seed ${seed} --steps 300 --trace)`);
  }
});
