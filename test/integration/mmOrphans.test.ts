// `omirr mm` killed with -9 while it starts jobs, then run again: no site:package may run
// twice at once. Each job is a shell script that holds an flock on locks/<name> for as long
// as it runs (it waits on a fifo that is never written) and appends its pid to runs/<name>;
// a second copy that finds the flock taken appends to concurrent.log. The lock must name
// the child (pid, process group, start time) before the child can start its command, and a
// later run must see the orphans of the dead mm (and wait for them, or stop them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStatusFile } from '../../src/core/mmStatus.js';
import { makeHome, removeHome, runCli, startCli, waitUntil, writeScript } from '../helpers/mmWorld.js';

const JOBS = 10;
const TRIALS = 10;

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function killHard(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** A home whose jobs (`j:pN 0 0`) run job.sh: flock, record `PID PHASE`, wait on the fifo. */
function makeTrialHome(): string {
  const home = makeHome('omirr-mm-orphans-');
  mkdirSync(join(home, 'locks'));
  mkdirSync(join(home, 'runs'));
  execFileSync('mkfifo', [join(home, 'gate.fifo')]);
  writeScript(
    home,
    'job.sh',
    [
      'name="$1"',
      'exec 9>>"locks/$name"',
      // Another copy of this job holds the lock: that is the failure under test.
      'if ! flock -n 9; then echo "$name $$" >> concurrent.log; exit 3; fi',
      'echo "$$ $PHASE" >> "runs/$name"',
      // Phase 1 runs "for ever" (until the test kills it); later phases end at once.
      'if [ "$PHASE" = 1 ]; then read x < gate.fifo; fi',
      'exit 0',
    ].join('\n'),
  );
  const jobs = Array.from({ length: JOBS }, (_, i) => `j:p${i} 0 0`);
  writeFileSync(join(home, 'mm.in'), [`max=${JOBS}`, 'mirror=exec ./job.sh $package', ...jobs, ''].join('\n'));
  return home;
}

interface Run {
  pid: number;
  phase: string;
}

function runsOf(home: string): Map<string, Run[]> {
  const out = new Map<string, Run[]>();
  for (const name of readdirSync(join(home, 'runs'))) {
    const lines = readFileSync(join(home, 'runs', name), 'utf8').split('\n').filter(Boolean);
    out.set(
      name,
      lines.map((l) => {
        const [pid, phase] = l.split(' ');
        return { pid: Number(pid), phase: phase! };
      }),
    );
  }
  return out;
}

/** Start mm (phase 1) and SIGKILL it as soon as the first job's command has started. */
async function startAndKill(home: string): Promise<number> {
  const w = watch(join(home, 'runs'));
  const started = new Promise<void>((res) => w.once('change', () => res()));
  const mm = startCli(['mm', 'mm.in'], { cwd: home, env: { PHASE: '1' }, detached: true, timeoutMs: 60_000 });
  // An mm that ends before any job started (it could not start, or failed) must fail the
  // trial, not leave this file waiting on the watcher until the runner's 180 s timeout with
  // every test silent (seen when the build was replaced under a running suite).
  const first = await Promise.race([started.then(() => undefined), mm.done]).finally(() => w.close());
  if (first !== undefined) throw new Error(`omirr mm ended before any job started (code ${first.code}, ${first.signal}): ${first.stderr}`);
  process.kill(mm.child.pid!, 'SIGKILL');
  await mm.done;
  return mm.child.pid!;
}

function cleanUp(home: string, mmPid: number): void {
  killHard(mmPid);
  if (existsSync(join(home, 'runs'))) for (const runs of runsOf(home).values()) for (const r of runs) killHard(r.pid);
  removeHome(home);
}

function assertNoConcurrency(home: string, trial: number): void {
  const p = join(home, 'concurrent.log');
  const c = existsSync(p) ? readFileSync(p, 'utf8') : '';
  assert.equal(c, '', `trial ${trial}: jobs ran twice at once (name pid of the second copy):\n${c}`);
}

function assertStatusWellFormed(home: string): void {
  for (const l of parseStatusFile(readFileSync(join(home, 'mm.status'), 'utf8'))) assert.ok('record' in l, JSON.stringify(l));
}

test(`mm killed -9 while starting jobs: the next run waits for the orphans (${TRIALS} trials)`, { timeout: 300_000 }, async (t) => {
  let waitedFor = 0;
  let rerun = 0;
  for (let trial = 1; trial <= TRIALS; trial++) {
    const home = makeTrialHome();
    let mmPid = 0;
    try {
      mmPid = await startAndKill(home);
      const second = await runCli(['mm', '-t', 'mm.in'], { cwd: home, env: { PHASE: '2' }, timeoutMs: 60_000 });
      assertNoConcurrency(home, trial);
      assert.equal(second.code, 0, second.stderr);
      const runs = runsOf(home);
      for (let i = 0; i < JOBS; i++) {
        const mine = runs.get(`p${i}`) ?? [];
        // Every job ran: as an orphan still running from the killed run, or in the second run.
        assert.ok(mine.length >= 1, `trial ${trial}: j:p${i} never ran\n${second.stderr}`);
        const orphan = mine.find((r) => r.phase === '1');
        if (orphan && alive(orphan.pid)) {
          assert.ok(!mine.some((r) => r.phase === '2'), `trial ${trial}: j:p${i} started while its orphan ran`);
          assert.match(second.stderr, new RegExp(`Not trying j:p${i}: locked by ${orphan.pid}`));
          waitedFor++;
        } else rerun++;
      }
      assertStatusWellFormed(home);
    } finally {
      cleanUp(home, mmPid);
    }
  }
  // How the kills landed: orphans still running (waited for) and jobs run by the second run.
  t.diagnostic(`orphans waited for: ${waitedFor}, jobs run by the second run: ${rerun}`);
});

test('mm --orphans=stop: the next run stops the orphans of a killed mm, then runs their jobs', { timeout: 120_000 }, async () => {
  for (let trial = 1; trial <= 3; trial++) {
    const home = makeTrialHome();
    let mmPid = 0;
    try {
      mmPid = await startAndKill(home);
      const orphansNow = () => [...runsOf(home).values()].flat().filter((r) => r.phase === '1');
      // The first job's file exists; its line may still be on its way.
      await waitUntil(() => orphansNow().length >= 1, 10_000, 'an orphan to record its pid');
      const orphans = orphansNow();
      const second = await runCli(['mm', '-t', '--orphans=stop', 'mm.in'], { cwd: home, env: { PHASE: '2' }, timeoutMs: 60_000 });
      assertNoConcurrency(home, trial);
      assert.equal(second.code, 0, second.stderr);
      const runs = runsOf(home);
      for (let i = 0; i < JOBS; i++) {
        assert.ok((runs.get(`p${i}`) ?? []).some((r) => r.phase === '2'), `trial ${trial}: j:p${i} ran in the second run\n${second.stderr}`);
      }
      await waitUntil(() => orphans.every((o) => !alive(o.pid)), 10_000, 'the stopped orphans to be gone');
      for (const o of orphans) assert.match(second.stderr, new RegExp(`stopp\\w+ .*\\b${o.pid}\\b`));
      assertStatusWellFormed(home);
    } finally {
      cleanUp(home, mmPid);
    }
  }
});

test('SIGINT or SIGTERM to omirr mm alone reaches its jobs (they lead their own process groups)', { timeout: 60_000 }, async () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const home = makeTrialHome();
    writeFileSync(join(home, 'mm.in'), ['mirror=exec ./job.sh $package', 'j:only 0 0', ''].join('\n'));
    let mmPid = 0;
    try {
      const mm = startCli(['mm', 'mm.in'], { cwd: home, env: { PHASE: '1' }, detached: true, timeoutMs: 30_000 });
      mmPid = mm.child.pid!;
      await waitUntil(() => (runsOf(home).get('only') ?? []).length === 1, 15_000, 'the job to run');
      const job = runsOf(home).get('only')![0]!.pid;
      assert.ok(alive(job));
      process.kill(mmPid, sig); // mm only, as `kill PID` or a terminal would
      const r = await mm.done;
      assert.equal(r.signal, sig, r.stderr);
      await waitUntil(() => !alive(job), 10_000, `the job to end after ${sig}`);
    } finally {
      cleanUp(home, mmPid);
    }
  }
});
