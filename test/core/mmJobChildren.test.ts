// mm.status.jobs: the process behind each job lock (pure parse/format and lock matching).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  childBehindLock,
  formatJobChildren,
  parseJobChildren,
  removeJobChild,
  setJobChild,
  type JobChild,
} from '../../src/core/mmJobChildren.js';

const a: JobChild = { sitePackage: 'site a:pkg 1', pid: 200, pgid: 200, startTicks: 9000, mmPid: 100, mmStartTicks: 8000 };
const b: JobChild = { sitePackage: 'b:q', pid: 300, pgid: 300, mmPid: 100 };

test('format and parse round-trip, unknown ticks as -, site:package with spaces last', () => {
  const text = formatJobChildren([a, b]);
  assert.equal(text, '200 200 9000 100 8000 site a:pkg 1\n300 300 - 100 - b:q\n');
  assert.deepEqual(parseJobChildren(text), [a, b]);
});

test('unreadable lines are dropped, never misread', () => {
  const text = ['garbage', '0 0 - 1 - z:zero-pid', '1 2 3 4 5 nocolon', '12 12 x 1 - bad:ticks', '7 7 - 8 - ok:line', ''].join('\n');
  assert.deepEqual(parseJobChildren(text), [{ sitePackage: 'ok:line', pid: 7, pgid: 7, mmPid: 8 }]);
});

test('set replaces the record of a job, remove drops it', () => {
  const next = setJobChild([a, b], { ...b, pid: 301, pgid: 301 });
  assert.deepEqual(next.map((c) => [c.sitePackage, c.pid]), [['site a:pkg 1', 200], ['b:q', 301]]);
  assert.deepEqual(removeJobChild(next, 'b:q'), [a]);
});

test('a child stands behind a lock only while locked and only with its or its mm pid on the line', () => {
  const line = (pid: number, locked = true) => ({ sitePackage: 'b:q', locked, pid });
  assert.equal(childBehindLock([a, b], line(300)), b, 'the child pid');
  assert.equal(childBehindLock([a, b], line(100)), b, 'the mm pid (crash between the two renames)');
  assert.equal(childBehindLock([a, b], line(300, false)), undefined, 'unlocked');
  assert.equal(childBehindLock([a, b], line(555)), undefined, 'a record from an earlier run');
  assert.equal(childBehindLock([a, b], undefined), undefined);
});
