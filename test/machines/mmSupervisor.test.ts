// The mm supervisor and job machines on xstate's simulated clock, with in-memory I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimWorld, flush } from '../helpers/mmWorld.js';
import type { MmSupervisorOutput } from '../../src/machines/mmSupervisor.js';

const HOUR = 3600;

function outputOf(actor: { getSnapshot(): { status: string; output?: unknown } }): MmSupervisorOutput {
  const snap = actor.getSnapshot();
  assert.equal(snap.status, 'done', 'supervisor finished');
  return snap.output as MmSupervisorOutput;
}

function outcomes(out: MmSupervisorOutput): Record<string, string> {
  return Object.fromEntries(out.results.map((r) => [r.sitePackage, r.outcome]));
}

test('ok vs notok timers: the last result picks the hours', async () => {
  const w = new SimWorld();
  const now = w.nowSeconds();
  // Both tried one hour ago; okHours 2 / notokHours 0 (a: succeeded last, b: failed last).
  w.setRecord({ sitePackage: 's:a', lastTried: now - HOUR, status: 0, locked: false, pid: 1 });
  w.setRecord({ sitePackage: 's:b', lastTried: now - HOUR, status: 256, locked: false, pid: 1 });
  // c: failed, notok 3 hours: 2 hours to go.
  w.setRecord({ sitePackage: 's:c', lastTried: now - HOUR, status: 512, locked: false, pid: 1 });
  const actor = w.startSupervisor('s:a 2 0\ns:b 2 0\ns:c 0 3\n');
  await flush();
  await w.advance(2000);
  const out = outputOf(actor);
  assert.deepEqual(outcomes(out), { 's:a': 'notDue', 's:b': 'succeeded', 's:c': 'notDue' });
  assert.equal(out.results.find((r) => r.sitePackage === 's:a')!.secondsToGo, HOUR);
  assert.equal(out.results.find((r) => r.sitePackage === 's:c')!.secondsToGo, 2 * HOUR);
  assert.deepEqual(
    w.notices.filter((n) => n.kind === 'notDue').map((n) => n.kind === 'notDue' && [n.sitePackage, n.secondsToGo]),
    [
      ['s:a', HOUR],
      ['s:c', 2 * HOUR],
    ],
  );
  // A success resets the status to 0.
  assert.equal(w.record('s:b')!.status, 0);
  assert.equal(w.record('s:b')!.locked, false);
});

test('-t ignores the timers but not a lock held by a live process', async () => {
  const w = new SimWorld();
  const now = w.nowSeconds();
  w.setRecord({ sitePackage: 's:a', lastTried: now - 10, status: 0, locked: false, pid: 1 });
  w.setRecord({ sitePackage: 's:b', lastTried: now - 10, status: 0, locked: true, pid: 4242 });
  w.alive.add(4242);
  const actor = w.startSupervisor('s:a 24 24\ns:b 0 0\n', { ignoreTimers: true });
  await w.advance(2000);
  const out = outputOf(actor);
  assert.deepEqual(outcomes(out), { 's:a': 'succeeded', 's:b': 'locked' });
  assert.equal(out.results.find((r) => r.sitePackage === 's:b')!.lockedBy, 4242);
  assert.deepEqual(
    w.runs.map((r) => r.sitePackage),
    ['s:a'],
  );
});

test('a lock whose holder is dead is taken over', async () => {
  const w = new SimWorld();
  w.setRecord({ sitePackage: 's:a', lastTried: w.nowSeconds() - 5, status: 0, locked: true, pid: 777 });
  const actor = w.startSupervisor('s:a 0 0\n');
  await w.advance(2000);
  assert.deepEqual(outcomes(outputOf(actor)), { 's:a': 'succeeded' });
  assert.equal(w.runs.length, 1);
});

test('a job locked meanwhile (after its check) is not run', async () => {
  const w = new SimWorld();
  // The job is due when checked; another process locks it before the slot is granted.
  w.defaultDurationMs = 5000;
  const actor = w.startSupervisor('max=1\ns:first 0 0\ns:second 0 0\n');
  await w.advance(1000);
  w.setRecord({ sitePackage: 's:second', lastTried: w.nowSeconds(), status: 0, locked: true, pid: 99 });
  w.alive.add(99);
  await w.advance(6000);
  const out = outputOf(actor);
  assert.deepEqual(outcomes(out), { 's:first': 'succeeded', 's:second': 'locked' });
  assert.deepEqual(
    w.runs.map((r) => r.sitePackage),
    ['s:first'],
  );
});

test('slots: never more than max at once, granted in input order; max may change', async () => {
  const w = new SimWorld();
  w.defaultDurationMs = 10_000;
  const lines = ['max=2', ...Array.from({ length: 6 }, (_, i) => `s:p${i} 0 0`), 'max=3', ...Array.from({ length: 6 }, (_, i) => `t:p${i} 0 0`)];
  const actor = w.startSupervisor(lines.join('\n') + '\n');
  let peak = 0;
  for (let t = 0; t < 120; t++) {
    await w.advance(1000, 1000);
    peak = Math.max(peak, w.runs.filter((r) => r.end === undefined).length);
  }
  const out = outputOf(actor);
  assert.equal(out.results.length, 12);
  assert.ok(out.results.every((r) => r.outcome === 'succeeded'));
  assert.equal(w.maxConcurrent(), 3);
  assert.ok(peak <= 3);
  // With max=2 the first two start together, and the order of starts is the input's order.
  assert.deepEqual(
    w.runs.map((r) => r.sitePackage),
    [...Array.from({ length: 6 }, (_, i) => `s:p${i}`), ...Array.from({ length: 6 }, (_, i) => `t:p${i}`)],
  );
  const firstTwo = w.runs.slice(0, 3).map((r) => r.start);
  assert.equal(firstTwo[0], firstTwo[1]);
  assert.ok(firstTwo[2]! > firstTwo[0]!, 'third waits for a slot while max=2');
});

test('max=1 runs the packages strictly one after another, in file order', async () => {
  const w = new SimWorld();
  w.durationMs = { 'a:1': 3000, 'a:2': 100, 'a:3': 2000 };
  const actor = w.startSupervisor('max=1\na:1 0 0\na:2 0 0\na:3 0 0\n');
  await w.advance(10_000);
  outputOf(actor);
  assert.deepEqual(
    w.runs.map((r) => r.sitePackage),
    ['a:1', 'a:2', 'a:3'],
  );
  for (let i = 1; i < w.runs.length; i++) assert.ok(w.runs[i]!.start >= w.runs[i - 1]!.end!);
});

test('cmd is a barrier: it runs only after every earlier job ended', async () => {
  const w = new SimWorld();
  w.durationMs = { 'a:slow': 5000, 'a:fast': 500, 'b:after': 500 };
  const actor = w.startSupervisor('a:slow 0 0\na:fast 0 0\ncmd=echo barrier\nb:after 0 0\n');
  await w.advance(10_000);
  outputOf(actor);
  assert.equal(w.commands.length, 1);
  const cmdAt = w.commands[0]!.at;
  const ends = w.runs.filter((r) => r.sitePackage.startsWith('a:')).map((r) => r.end!);
  assert.ok(ends.every((e) => e <= cmdAt), 'cmd after all earlier jobs');
  const after = w.runs.find((r) => r.sitePackage === 'b:after')!;
  assert.ok(after.start >= cmdAt, 'later job after cmd');
});

test('cmdin output is obeyed in place; first occurrence wins; skip and -o filter', async () => {
  const w = new SimWorld();
  w.cmdinOutputs['gen'] = 'x:one 0 0\nx:two 0 0\nbad line\nmax=1\n';
  const actor = w.startSupervisor('skip=x:two\ncmdin=gen\nx:one 0 0\ny:three 0 0\nz:four 0 0\n', { only: '^[xy]' });
  await w.advance(10_000);
  const out = outputOf(actor);
  assert.deepEqual(outcomes(out), { 'x:one': 'succeeded', 'y:three': 'succeeded' });
  assert.equal(out.warnings.length, 1);
  assert.equal(out.warnings[0]!.loc.file, 'cmdin(mm.in:2)');
  assert.equal(out.warnings[0]!.loc.line, 3);
  assert.deepEqual(
    w.runs.map((r) => r.sitePackage),
    ['x:one', 'y:three'],
  );
});

test('--strict: an unparsable cmdin line stops obeying (fatal), running jobs finish', async () => {
  const w = new SimWorld();
  w.cmdinOutputs['gen'] = 'nonsense\n';
  const actor = w.startSupervisor('a:b 0 0\ncmdin=gen\nc:d 0 0\n', { strict: true });
  await w.advance(5000);
  const out = outputOf(actor);
  assert.match(out.fatal ?? '', /^cmdin\(mm\.in:2\):1: /);
  assert.deepEqual(outcomes(out), { 'a:b': 'succeeded' });
});

test('home= to a missing directory is fatal with file:line', async () => {
  const w = new SimWorld();
  const actor = w.startSupervisor('a:b 0 0\nhome=/missing/dir\nc:d 0 0\n');
  await w.advance(5000);
  const out = outputOf(actor);
  assert.match(out.fatal ?? '', /^mm\.in:2: cannot chdir to \/missing\/dir/);
  assert.deepEqual(Object.keys(outcomes(out)), ['a:b']);
});

test('a failing job is recorded with its wait status and uses the notok timer next time', async () => {
  const w = new SimWorld();
  w.waitStatus['s:bad'] = 2 * 256;
  const a1 = w.startSupervisor('s:bad 10 1\n');
  await w.advance(2000);
  const out1 = outputOf(a1);
  assert.deepEqual(outcomes(out1), { 's:bad': 'failed' });
  assert.equal(out1.results[0]!.waitStatus, 512);
  assert.equal(w.record('s:bad')!.status, 512);
  // 30 minutes later: the notok timer (1 h) has 30 min to go.
  await w.advance(1800_000, 60_000);
  const a2 = w.startSupervisor('s:bad 10 1\n');
  await w.advance(1000);
  const out2 = outputOf(a2);
  assert.equal(out2.results[0]!.outcome, 'notDue');
  assert.ok(Math.abs(out2.results[0]!.secondsToGo! - 1800) <= 2);
});

test('long-running: the timer fires and the job runs again (ok and notok hours)', async () => {
  const w = new SimWorld();
  w.waitStatus['s:bad'] = 256;
  const actor = w.startSupervisor('s:good 2 5\ns:bad 5 1\n', { longRunning: true, minRerunMs: 1000 });
  await w.advance(5000);
  assert.equal(actor.getSnapshot().value, 'supervising');
  const kids = actor.getSnapshot().children as Record<string, { getSnapshot(): { value: unknown } }>;
  assert.equal(kids['job:s:good']!.getSnapshot().value, 'succeeded');
  assert.equal(kids['job:s:bad']!.getSnapshot().value, 'failed');
  const count = (sp: string) => w.runs.filter((r) => r.sitePackage === sp).length;
  const starts = () => w.runs.map((r) => `${r.sitePackage}@${(r.start - w.runs[0]!.start) / 1000}`).join(' ');
  assert.equal(count('s:good'), 1);
  assert.equal(count('s:bad'), 1);
  // One hour later: bad (notok 1 h) ran again, good (ok 2 h) did not.
  await w.advance(HOUR * 1000, 1000);
  assert.equal(count('s:bad'), 2);
  assert.equal(count('s:good'), 1);
  // Another hour: good is due again too.
  await w.advance(HOUR * 1000 + 5000, 1000);
  assert.equal(count('s:good'), 2, starts());
  assert.equal(count('s:bad'), 3, starts());
  actor.stop();
});

test('long-running: a job not due at start waits on its timer, then runs', async () => {
  const w = new SimWorld();
  w.setRecord({ sitePackage: 's:a', lastTried: w.nowSeconds() - 600, status: 0, locked: false, pid: 1 });
  const actor = w.startSupervisor('s:a 1 1\n', { longRunning: true });
  await w.advance(1000);
  const kid = (actor.getSnapshot().children as Record<string, { getSnapshot(): { value: unknown } }>)['job:s:a']!;
  assert.equal(kid.getSnapshot().value, 'waitingTimer');
  assert.equal(w.runs.length, 0);
  await w.advance(2999_000, 60_000);
  assert.equal(w.runs.length, 0, 'not before the hour is up');
  await w.advance(62_000, 1000);
  assert.equal(w.runs.length, 1);
  actor.stop();
});

test('-t in a long-running supervisor applies to the first run only', async () => {
  const w = new SimWorld();
  w.setRecord({ sitePackage: 's:a', lastTried: w.nowSeconds() - 60, status: 0, locked: false, pid: 1 });
  const actor = w.startSupervisor('s:a 1 1\n', { longRunning: true, ignoreTimers: true, minRerunMs: 1000 });
  await w.advance(10_000);
  assert.equal(w.runs.length, 1);
  await w.advance(600_000, 10_000);
  assert.equal(w.runs.length, 1, 'then the ok timer holds');
  actor.stop();
});

test('RUN_NOW runs a waiting job at once, then its timer holds again', async () => {
  const w = new SimWorld();
  w.setRecord({ sitePackage: 's:a', lastTried: w.nowSeconds() - 60, status: 0, locked: false, pid: 1 });
  const actor = w.startSupervisor('s:a 5 5\n', { longRunning: true, minRerunMs: 1000 });
  await w.advance(1000);
  const kid = (actor.getSnapshot().children as Record<string, { getSnapshot(): { value: unknown }; send(e: { type: 'RUN_NOW' }): void }>)['job:s:a']!;
  assert.equal(kid.getSnapshot().value, 'waitingTimer');
  assert.equal(w.runs.length, 0);
  kid.send({ type: 'RUN_NOW' });
  await w.advance(5000);
  assert.equal(w.runs.length, 1, 'ran without waiting for its 5 h timer');
  assert.equal(kid.getSnapshot().value, 'succeeded');
  await w.advance(3600_000, 60_000);
  assert.equal(w.runs.length, 1, 'the ok timer holds after the forced run');
  actor.stop();
});

test('many jobs: live children stay bounded (max running + the one being read + one finishing)', async () => {
  const w = new SimWorld();
  w.defaultDurationMs = 100;
  const lines = ['max=2', ...Array.from({ length: 200 }, (_, i) => `s:p${i} 0 0`)];
  const actor = w.startSupervisor(lines.join('\n') + '\n');
  let peakChildren = 0;
  actor.subscribe((s) => {
    peakChildren = Math.max(peakChildren, Object.keys(s.children).length);
  });
  await w.advance(30_000, 50);
  const out = outputOf(actor);
  assert.equal(out.results.length, 200);
  assert.ok(peakChildren <= 4, `peak children ${peakChildren}`);
  assert.equal(w.maxConcurrent(), 2);
});
