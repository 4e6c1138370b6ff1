// Several `omirr mm` processes on one home: the mm.status mutex, job locks, dead holders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStatusFile } from '../../src/core/mmStatus.js';
import {
  makeHome,
  removeHome,
  writeRecorder,
  readIntervals,
  runCli,
  startCli,
  waitUntil,
  readStatusLines,
} from '../helpers/mmWorld.js';

const TEMPLATE = "mirror=exec ./recorder.sh $site '$package' $args";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie nobody reaps (no init in a container) is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function wellFormedStatus(home: string) {
  const lines = parseStatusFile(readFileSync(join(home, 'mm.status'), 'utf8'));
  for (const l of lines) assert.ok('record' in l, `well-formed line: ${JSON.stringify(l)}`);
  return lines.map((l) => ('record' in l ? l.record : undefined)!);
}

test('two omirr mm started together never run a site:package twice; mm.status stays well-formed', async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    const jobs = Array.from({ length: 12 }, (_, i) => `s${i % 3}:p${i} 1 1`);
    writeFileSync(join(home, 'mm.in'), ['max=3', TEMPLATE, ...jobs, ''].join('\n'));
    const env = { SLEEP: '0.15' };
    const [a, b] = await Promise.all([runCli(['mm', 'mm.in'], { cwd: home, env }), runCli(['mm', 'mm.in'], { cwd: home, env })]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const iv = readIntervals(home);
    const runsPerJob = new Map<string, number>();
    for (const i of iv) runsPerJob.set(i.sp, (runsPerJob.get(i.sp) ?? 0) + 1);
    assert.equal(runsPerJob.size, 12);
    assert.ok([...runsPerJob.values()].every((n) => n === 1), JSON.stringify([...runsPerJob]));
    const recs = wellFormedStatus(home);
    assert.equal(recs.length, 12, 'one line per job');
    assert.ok(recs.every((r) => !r.locked && r.status === 0));
    assert.ok(!existsSync(join(home, 'mm.status.lock')), 'mutex released');
  } finally {
    removeHome(home);
  }
});

test('with -t, two processes still never run the same site:package at the same time', async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    const jobs = Array.from({ length: 8 }, (_, i) => `t:p${i} 0 0`);
    writeFileSync(join(home, 'mm.in'), ['max=4', TEMPLATE, ...jobs, ''].join('\n'));
    const env = { SLEEP: '0.1' };
    const [a, b] = await Promise.all([
      runCli(['mm', '-t', 'mm.in'], { cwd: home, env }),
      runCli(['mm', '-t', 'mm.in'], { cwd: home, env }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const iv = readIntervals(home);
    for (const x of iv)
      for (const y of iv) {
        if (x === y || x.sp !== y.sp) continue;
        assert.ok(x.end <= y.start || y.end <= x.start, `${x.sp} ran twice at once`);
      }
    const recs = wellFormedStatus(home);
    assert.equal(recs.length, 8);
  } finally {
    removeHome(home);
  }
});

test("a live holder's lock is honoured; a killed holder's lock is taken over", async () => {
  const home = makeHome();
  let holder: ReturnType<typeof startCli> | undefined;
  try {
    writeRecorder(home);
    writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'k:x 0 0', ''].join('\n'));
    // First mm: its job waits for release/k (never given), in its own process group.
    holder = startCli(['mm', 'mm.in'], { cwd: home, env: { GATE: '1' }, detached: true });
    let childPid = 0;
    await waitUntil(() => {
      const line = readStatusLines(home).find((l) => l.startsWith('k:x '));
      const iv = existsSync(join(home, 'events.log')) ? readFileSync(join(home, 'events.log'), 'utf8') : '';
      const m = / start \d+ (\d+)/.exec(iv);
      if (!line || !m) return false;
      childPid = Number(m[1]);
      return line.endsWith(` l ${childPid}`);
    }, 15_000, 'the job to run and its pid to be recorded');

    // A second mm sees the live lock and skips the job.
    const second = await runCli(['mm', '-t', 'mm.in'], { cwd: home });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`Not trying k:x: locked by ${childPid}`));
    assert.equal(readFileSync(join(home, 'events.log'), 'utf8').match(/ start /g)?.length, 1, 'not started twice');

    // Kill the holder and its job (SIGKILL: no clean-up at all). The job leads its own
    // process group, apart from mm's.
    process.kill(-holder.child.pid!, 'SIGKILL');
    process.kill(-childPid, 'SIGKILL');
    await holder.done;
    await waitUntil(() => !pidAlive(childPid), 10_000, 'the killed job to die');
    assert.match(readStatusLines(home).find((l) => l.startsWith('k:x '))!, / l \d+$/, 'still marked locked');

    // The next mm takes the dead holder's lock over and runs the job.
    const third = await runCli(['mm', 'mm.in'], { cwd: home });
    assert.equal(third.code, 0, third.stderr);
    const starts = readFileSync(join(home, 'events.log'), 'utf8').match(/ start /g)?.length;
    assert.equal(starts, 2);
    assert.equal(readIntervals(home).length, 1, 'the second run ended');
    const rec = wellFormedStatus(home).find((r) => r.sitePackage === 'k:x')!;
    assert.equal(rec.locked, false);
    assert.equal(rec.status, 0);
    assert.notEqual(rec.pid, childPid);
  } finally {
    if (holder?.child.pid && holder.child.exitCode === null && holder.child.signalCode === null) {
      try {
        process.kill(-holder.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    removeHome(home);
  }
});

test('a mm.status mutex left by a dead process is broken', async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    const dead = spawnSync('/bin/sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(join(home, 'mm.status.lock'), `${dead} 1 deadbeef\n`);
    writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'm:x 0 0', ''].join('\n'));
    const r = await runCli(['mm', 'mm.in'], { cwd: home, timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readIntervals(home).length, 1);
    assert.ok(!existsSync(join(home, 'mm.status.lock')));
    assert.equal(wellFormedStatus(home).length, 1);
  } finally {
    removeHome(home);
  }
});

test('an unparsable mm.status line is kept, never truncates the file', async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    writeFileSync(join(home, 'mm.status'), ['a:1 100 0 u 5', 'this is junk', '', 'b:2 100 0 u 6', ''].join('\n'));
    writeFileSync(join(home, 'mm.in'), [TEMPLATE, 'b:2 0 0', 'c:3 0 0', ''].join('\n'));
    const r = await runCli(['mm', 'mm.in'], { cwd: home });
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(join(home, 'mm.status'), 'utf8').split('\n');
    assert.equal(lines[0], 'a:1 100 0 u 5');
    assert.equal(lines[1], 'this is junk');
    assert.equal(lines[2], '');
    assert.match(lines[3]!, /^b:2 \d+ 0 u \d+$/);
    assert.notEqual(lines[3], 'b:2 100 0 u 6');
    assert.match(lines[4]!, /^c:3 \d+ 0 u \d+$/);
  } finally {
    removeHome(home);
  }
});
