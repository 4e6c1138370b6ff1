// The mm API from a program: a long-running supervisor with real I/O whose job actors a
// subscriber watches; the same machine run once by runMm; pid liveness with the reuse guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMmSupervisor, runMm, isHolderAlive, type MmJobActorRef } from '../../src/internal.js';
import { makeHome, removeHome, writeRecorder, writeScript, waitUntil, readIntervals, readStatusLines, flush } from '../helpers/mmWorld.js';

const TEMPLATE = "exec ./recorder.sh $site '$package' $args";
// Each test's own bound, well under the runner's 180 s for the file. (The file hung twice in
// CI: a lock attempt still under way after stop() linked mm.status.lock into the home while
// removeHome swept it, and rmSync's retries then slept 505 s synchronously; see removeHome.)
const BOUND = { timeout: 60_000 };

test('startMmSupervisor: long-running, jobs re-run when their timer fires; every job actor observable', BOUND, async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    const seen = new Map<string, string[]>();
    const handle = startMmSupervisor({
      home,
      template: TEMPLATE,
      inputs: [{ name: 'api.in', text: 'max=2\napi:again 0 0\napi:fails 0 0\n' }],
      // 0 hours: due at once; the least time between runs keeps it from spinning.
      minRerunMs: 150,
      onJobActor: (job: MmJobActorRef) => {
        const states: string[] = [];
        seen.set(job.id, states);
        job.subscribe((s) => states.push(JSON.stringify(s.value)));
      },
    });
    await waitUntil(() => readIntervals(home).filter((i) => i.sp === 'api:again').length >= 3, 15_000, 'three runs');
    assert.equal(handle.actor.getSnapshot().value, 'supervising');
    assert.deepEqual([...seen.keys()].sort(), ['job:api:again', 'job:api:fails']);
    const states = seen.get('job:api:again')!;
    for (const s of ['"checking"', '"waitingForSlot"', '{"active":"locking"}', '{"active":"running"}', '"succeeded"'])
      assert.ok(states.includes(s), `${s} in ${states.join(' ')}`);
    assert.equal(handle.jobs().length, 2);
    await handle.stop();
    const status = readFileSync(join(home, 'mm.status'), 'utf8');
    assert.match(status, /^api:again \d+ 0 [lu] \d+$/m);
  } finally {
    removeHome(home);
  }
});

test('stop() resolves once the running jobs have ended: a job that takes its time over SIGTERM has finished', BOUND, async () => {
  const home = makeHome();
  try {
    // on SIGTERM it cleans up for 300 ms, then writes its last line and exits
    writeScript(home, 'slow.sh', `trap 'sleep 0.3; echo cleaned >> "${home}/slow.out"; exit 0' TERM\necho started >> "${home}/slow.out"\nwhile :; do sleep 0.05; done`);
    const handle = startMmSupervisor({ home, template: 'exec ./slow.sh', inputs: [{ name: 'slow.in', text: 'slow:job 0 0\n' }] });
    await waitUntil(() => existsSync(join(home, 'slow.out')), 15_000, 'the job to start');
    await handle.stop();
    assert.equal(readFileSync(join(home, 'slow.out'), 'utf8'), 'started\ncleaned\n', 'the job had ended when stop() resolved');
  } finally {
    removeHome(home);
  }
});

test('stop() waits for a lock attempt under way: the stopped job takes no lock, nothing is left in the home', BOUND, async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    // the mm.status mutex, held by this live process: the job's lock attempt waits on it
    const mutex = join(home, 'mm.status.lock');
    writeFileSync(mutex, `${process.pid} - held-by-the-test\n`);
    let locking = false;
    const handle = startMmSupervisor({
      home,
      template: TEMPLATE,
      inputs: [{ name: 'lock.in', text: 'lock:job 0 0\n' }],
      onJobActor: (job: MmJobActorRef) => job.subscribe((s) => void (locking ||= JSON.stringify(s.value) === '{"active":"locking"}')),
    });
    // under way: its token is written beside the mutex, waiting to be linked to it
    await waitUntil(() => locking && readdirSync(home).some((n) => n.startsWith('mm.status.lock.')), 15_000, 'the lock attempt');
    let stopped = false;
    const stopping = handle.stop().then(() => void (stopped = true));
    await flush(20);
    assert.equal(stopped, false, 'stop() has not resolved while the lock attempt is under way');
    unlinkSync(mutex);
    await stopping;
    assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('mm.status')), [], 'no lock, no temp file, no status line');
    assert.deepEqual(readStatusLines(home), []);
    assert.equal(existsSync(join(home, 'events.log')), false, 'the job never ran');
  } finally {
    removeHome(home);
  }
});

test('runMm: one pass, result per job, exit code', BOUND, async () => {
  const home = makeHome();
  try {
    writeRecorder(home);
    const r = await runMm({
      home,
      template: TEMPLATE,
      inputs: [{ name: 'once.in', text: 'o:ok 1 1\no:ok 1 1\nmirror=EXIT=4 ' + TEMPLATE + '\no:bad 1 1\n' }],
    });
    assert.equal(r.exitCode, 1);
    assert.deepEqual(
      r.results.map((x) => [x.sitePackage, x.outcome, x.waitStatus]),
      [
        ['o:ok', 'succeeded', 0],
        ['o:bad', 'failed', 4 * 256],
      ],
    );
    const again = await runMm({ home, template: TEMPLATE, inputs: [{ name: 'once.in', text: 'o:ok 1 1\n' }] });
    assert.equal(again.exitCode, 0);
    assert.equal(again.results[0]!.outcome, 'notDue');
  } finally {
    removeHome(home);
  }
});

test('isHolderAlive: a pid that started after the lock was taken is not its holder', () => {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(isHolderAlive(process.pid, now), true);
  // This process started long after a lock taken a day ago: a reused pid.
  assert.equal(isHolderAlive(process.pid, now - 86_400), false);
  assert.equal(isHolderAlive(0, now), false);
  assert.equal(isHolderAlive(2 ** 22 + 12345, now), false);
});
