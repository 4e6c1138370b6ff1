// The destination root's own mode and mtime (rsync -a gives DST/ those of SRC/): the rule,
// as a pure function of the two roots' attributes and the plan options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRootAttrs } from '../../src/core/plan.js';

const s = { mode: 0o750, mtimeMs: 1_600_000_000_000, mtimeNs: 123_456 };

test('planRootAttrs: equal roots need nothing; a mode or mtime that differs is set from the source', () => {
  assert.equal(planRootAttrs(s, { ...s }, {}), undefined);
  assert.deepEqual(planRootAttrs(s, { ...s, mode: 0o755 }, {}), { mode: 0o750 });
  assert.deepEqual(planRootAttrs(s, { ...s, mtimeMs: s.mtimeMs + 1000 }, {}), { mode: 0o750, mtimeMs: s.mtimeMs, mtimeNs: s.mtimeNs });
  // a run that wrote into the destination root moved its mtime since it was read
  assert.deepEqual(planRootAttrs(s, { ...s }, {}, true), { mode: 0o750, mtimeMs: s.mtimeMs, mtimeNs: s.mtimeNs });
});

test('planRootAttrs: the umask, times not kept, and get_newer\'s rules as for every directory; unknown roots', () => {
  assert.deepEqual(planRootAttrs({ ...s, mode: 0o777 }, { ...s, mode: 0o777 }, { umask: 0o022 }), { mode: 0o755 });
  assert.deepEqual(planRootAttrs(s, { ...s, mode: 0o700, mtimeMs: 5 }, { setTimes: false }), { mode: 0o750 });
  assert.equal(planRootAttrs(s, { ...s, mtimeMs: 5 }, { setTimes: false }, true), undefined);
  assert.equal(planRootAttrs(s, { ...s, mtimeMs: 5 }, { getNewer: true }), undefined);
  // no source root (a site): nothing; no destination root read (made by this run): all of it
  assert.equal(planRootAttrs(undefined, s, {}), undefined);
  assert.deepEqual(planRootAttrs(s, undefined, {}), { mode: 0o750, mtimeMs: s.mtimeMs, mtimeNs: s.mtimeNs });
});
