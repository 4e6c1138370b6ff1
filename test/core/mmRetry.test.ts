// Retry decisions: mm.pl's ok_to_restart order (lock, -t, timer), boundaries to the second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRun, secondsUntilDue } from '../../src/core/mmRetry.js';
import type { StatusRecord } from '../../src/core/mmStatus.js';

const H = 3600;
const NOW = 1_700_000_000;
const rec = (over: Partial<StatusRecord>): StatusRecord => ({
  sitePackage: 'a:b',
  lastTried: NOW - 10,
  status: 0,
  locked: false,
  pid: 42,
  ...over,
});
const alive = () => true;
const dead = () => false;
const job = { okHours: 20, notokHours: 2 };

test('no record: run at once, whatever the hours', () => {
  assert.deepEqual(decideRun(undefined, job, { now: NOW, ignoreTimers: false, isAlive: alive }), { run: true });
  assert.equal(secondsUntilDue(undefined, job, NOW), 0);
});

test('ok vs notok hours are chosen by status === 0', () => {
  const cases: Array<[Partial<StatusRecord>, number]> = [
    [{ status: 0, lastTried: NOW - 1 * H }, 19 * H], // ok: 20 h
    [{ status: 256, lastTried: NOW - 1 * H }, 1 * H], // exit 1: notok 2 h
    [{ status: 512, lastTried: NOW - 1 * H }, 1 * H],
    [{ status: 9, lastTried: NOW - 1 * H }, 1 * H], // killed by a signal
    [{ status: 256, lastTried: NOW - 3 * H }, 0],
  ];
  for (const [over, toGo] of cases) {
    const r = rec(over);
    const d = decideRun(r, job, { now: NOW, ignoreTimers: false, isAlive: alive });
    assert.deepEqual(d, toGo > 0 ? { run: false, reason: 'timer', secondsToGo: toGo } : { run: true }, JSON.stringify(over));
    assert.equal(secondsUntilDue(r, job, NOW), toGo);
  }
});

test('timer boundaries: due exactly when LAST_TRIED + hours <= now', () => {
  const opts = { now: NOW, ignoreTimers: false, isAlive: dead };
  assert.deepEqual(decideRun(rec({ lastTried: NOW - 20 * H + 1 }), job, opts), { run: false, reason: 'timer', secondsToGo: 1 });
  assert.deepEqual(decideRun(rec({ lastTried: NOW - 20 * H }), job, opts), { run: true });
  assert.deepEqual(decideRun(rec({ lastTried: NOW - 20 * H - 1 }), job, opts), { run: true });
  // 0 0 means always eligible
  assert.deepEqual(decideRun(rec({ lastTried: NOW }), { okHours: 0, notokHours: 0 }, opts), { run: true });
  // LAST_TRIED 0 means never tried
  assert.deepEqual(decideRun(rec({ lastTried: 0 }), job, opts), { run: true });
  // a LAST_TRIED in the future (clock stepped back) waits until then plus the hours
  assert.equal(secondsUntilDue(rec({ lastTried: NOW + 100 }), job, NOW), 20 * H + 100);
});

test('a lock held by a live pid wins over -t; a dead one is ignored', () => {
  const locked = rec({ locked: true, pid: 4321, lastTried: NOW - 30 * H });
  for (const ignoreTimers of [false, true]) {
    assert.deepEqual(decideRun(locked, job, { now: NOW, ignoreTimers, isAlive: alive }), { run: false, reason: 'locked', pid: 4321 });
  }
  assert.deepEqual(decideRun(locked, job, { now: NOW, ignoreTimers: false, isAlive: dead }), { run: true });
  // a stale lock from a crashed run: the timer counts from its start
  const crashed = rec({ locked: true, pid: 4321, lastTried: NOW - 60 });
  assert.deepEqual(decideRun(crashed, job, { now: NOW, ignoreTimers: false, isAlive: dead }), {
    run: false,
    reason: 'timer',
    secondsToGo: 20 * H - 60,
  });
  assert.deepEqual(decideRun(crashed, job, { now: NOW, ignoreTimers: true, isAlive: dead }), { run: true });
});

test('isAlive gets the pid and LAST_TRIED; unlocked records never ask; pid <= 0 holds no lock', () => {
  const calls: Array<[number, number]> = [];
  const spy = (pid: number, since: number) => (calls.push([pid, since]), true);
  decideRun(rec({ locked: true, pid: 7, lastTried: 123 }), job, { now: NOW, ignoreTimers: true, isAlive: spy });
  decideRun(rec({ locked: false, pid: 8 }), job, { now: NOW, ignoreTimers: true, isAlive: spy });
  assert.deepEqual(calls, [[7, 123]]);
  assert.deepEqual(decideRun(rec({ locked: true, pid: 0 }), job, { now: NOW, ignoreTimers: true, isAlive: spy }), { run: true });
  assert.equal(calls.length, 1);
});

test('-t runs a job whose timer has not expired', () => {
  assert.deepEqual(decideRun(rec({ lastTried: NOW }), job, { now: NOW, ignoreTimers: true, isAlive: alive }), { run: true });
});

test('secondsUntilDue ignores locks', () => {
  assert.equal(secondsUntilDue(rec({ locked: true, lastTried: NOW - H }), job, NOW), 19 * H);
});
