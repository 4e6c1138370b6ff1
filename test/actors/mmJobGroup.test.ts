// The process behind a job lock, with real processes: a job is alive while its process group
// runs (even after its leader ended), a reused pid is not the job, a lock line still naming
// the dead mm is held by the recorded child, and 'stop' never touches a job whose mm lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isJobAlive, jobGroupMembers, stopJobGroup } from '../../src/actors/mmJobGroup.js';
import { ownStartTicks, procInfo } from '../../src/actors/mmLiveness.js';
import { MmStatusStore, JOBS_FILE, STATUS_FILE } from '../../src/actors/mmStatusStore.js';
import { formatJobChildren, type JobChild } from '../../src/core/mmJobChildren.js';
import { makeHome, removeHome, waitUntil } from '../helpers/mmWorld.js';

const HOURS = { okHours: 0, notokHours: 0 };

/** A pid that no longer runs (a process that ran and was reaped). */
function deadPid(): number {
  return Number(spawnSync('/bin/sh', ['-c', 'echo $$']).stdout.toString().trim());
}

/** A job whose leader (session + group leader) exits at once, leaving one member running. */
async function leaderlessJob(): Promise<{ job: Omit<JobChild, 'sitePackage' | 'mmPid'>; member: number }> {
  const child = spawn('/bin/sh', ['-c', '(exec sleep 600 >/dev/null) & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const pid = child.pid!;
  const startTicks = procInfo(pid)!.startTicks;
  await new Promise((r) => child.once('close', r));
  return { job: { pid, pgid: pid, startTicks }, member: Number(out.trim()) };
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

test('a job whose leader ended is alive while a process of its group runs', async () => {
  const { job, member } = await leaderlessJob();
  try {
    assert.equal(procInfo(job.pid), undefined, 'the leader is gone');
    assert.deepEqual(jobGroupMembers(job), [member]);
    assert.equal(isJobAlive(job), true);
    kill(member);
    await waitUntil(() => !isJobAlive(job), 5_000, 'the group to be empty');
  } finally {
    kill(member);
  }
});

test('store: giveBack undoes a lock whose job was stopped before it ran, and only that lock', async () => {
  const home = makeHome();
  try {
    const store = new MmStatusStore({ home, fsync: false });
    const before = `j:x 1700000000 512 u 4242\n`;
    writeFileSync(join(home, STATUS_FILE), before);
    const taken = await store.lockForRun('j:x', HOURS, true, process.pid);
    assert.equal(taken.acquired, true);
    await store.giveBack('j:x', taken.record, process.pid);
    assert.equal(readFileSync(join(home, STATUS_FILE), 'utf8'), before, 'the line as it was before the lock');

    // a job never run before: its line goes away again
    const fresh = await store.lockForRun('j:new', HOURS, true, process.pid);
    assert.equal(fresh.acquired, true);
    await store.giveBack('j:new', fresh.record, process.pid);
    assert.equal(readFileSync(join(home, STATUS_FILE), 'utf8'), before);

    // a lock that names another process (its child took over) is not ours to give back
    const other = `j:x 1700000001 0 l ${deadPid()}\n`;
    writeFileSync(join(home, STATUS_FILE), other);
    await store.giveBack('j:x', taken.record, process.pid);
    assert.equal(readFileSync(join(home, STATUS_FILE), 'utf8'), other);

    // cancelled before the critical section: no lock taken at all
    writeFileSync(join(home, STATUS_FILE), before);
    const cancelled = await store.lockForRun('j:x', HOURS, true, process.pid, () => true);
    assert.equal(cancelled.acquired, false);
    assert.equal(readFileSync(join(home, STATUS_FILE), 'utf8'), before);
  } finally {
    removeHome(home);
  }
});

test('a recorded pid now running another process (other start time) is not the job', () => {
  const self = procInfo(process.pid)!;
  assert.equal(isJobAlive({ pid: process.pid, pgid: process.pid, startTicks: self.startTicks }), true);
  assert.equal(isJobAlive({ pid: process.pid, pgid: process.pid, startTicks: self.startTicks + 1 }), false);
  assert.equal(isJobAlive({ pid: deadPid(), pgid: deadPid(), startTicks: 1 }), false);
});

test('store: the lock is held by the recorded child while its group runs, even if the line still names its dead mm', async () => {
  const home = makeHome();
  const { job, member } = await leaderlessJob();
  try {
    const mm = deadPid();
    writeFileSync(join(home, STATUS_FILE), `j:x ${Math.floor(Date.now() / 1000)} 0 l ${mm}\n`);
    writeFileSync(join(home, JOBS_FILE), formatJobChildren([{ sitePackage: 'j:x', ...job, mmPid: mm }]));
    const store = new MmStatusStore({ home, fsync: false });
    const d = await store.lockForRun('j:x', HOURS, true, process.pid);
    assert.equal(d.acquired, false);
    assert.deepEqual(d.decision, { run: false, reason: 'locked', pid: job.pid });

    // A record of an earlier run (other pids) says nothing about this lock: the dead mm's is taken over.
    writeFileSync(join(home, JOBS_FILE), formatJobChildren([{ sitePackage: 'j:x', ...job, mmPid: deadPid() + 100000 }]));
    const taken = await store.lockForRun('j:x', HOURS, true, process.pid);
    assert.equal(taken.acquired, true);
    assert.equal(await store.readChildren().then((c) => c.length), 0, "the earlier run's record is dropped with the new lock");
  } finally {
    kill(member);
    removeHome(home);
  }
});

test("store, orphans 'stop': an orphan of a dead mm is stopped when due; a job whose mm lives is not", async () => {
  const home = makeHome();
  const a = await leaderlessJob();
  const b = await leaderlessJob();
  try {
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(join(home, STATUS_FILE), `j:orphan ${now} 0 l ${a.job.pid}\nj:owned ${now} 0 l ${b.job.pid}\n`);
    const ticks = ownStartTicks();
    writeFileSync(
      join(home, JOBS_FILE),
      formatJobChildren([
        { sitePackage: 'j:orphan', ...a.job, mmPid: deadPid() },
        { sitePackage: 'j:owned', ...b.job, mmPid: process.pid, ...(ticks !== undefined ? { mmStartTicks: ticks } : {}) },
      ]),
    );
    const stopped: number[] = [];
    const store = new MmStatusStore({
      home,
      fsync: false,
      orphans: 'stop',
      stopJob: async (c) => {
        stopped.push(c.pgid);
        await stopJobGroup(c, { graceMs: 2_000 });
      },
    });
    // Not due (1 hour timers, not -t): left alone.
    const notDue = await store.lockForRun('j:orphan', { okHours: 1, notokHours: 1 }, false, process.pid);
    assert.equal(notDue.acquired, false);
    assert.equal(notDue.decision.run, false);
    assert.deepEqual(stopped, []);
    assert.equal(isJobAlive(a.job), true);

    const due = await store.lockForRun('j:orphan', HOURS, true, process.pid);
    assert.equal(due.acquired, true);
    assert.deepEqual(stopped, [a.job.pgid]);
    assert.equal(isJobAlive(a.job), false, 'the whole group is gone before the job runs again');

    const owned = await store.lockForRun('j:owned', HOURS, true, process.pid);
    assert.equal(owned.acquired, false, 'a job whose mm is alive is a live lock');
    assert.deepEqual(stopped, [a.job.pgid]);
    assert.equal(isJobAlive(b.job), true);
  } finally {
    kill(a.member);
    kill(b.member);
    removeHome(home);
  }
});
