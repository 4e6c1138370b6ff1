// Which job lines mm ignores: prime, skip list (the original's inverted regex), -o, duplicates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobSkipReason, matchesSkipList, SKIP_REASON, type JobFilterState } from '../../src/core/mmJobFilter.js';
import type { MmJobStatement } from '../../src/core/mmInput.js';

const job = (site: string, pkg: string): MmJobStatement => ({
  kind: 'job',
  site,
  pkg,
  okHours: 1,
  notokHours: 1,
  args: '',
  loc: { file: 'f', line: 1 },
});
const state = (over: Partial<JobFilterState> = {}): JobFilterState => ({ skips: [], seen: new Set(), ...over });

test("a ' in site:package is rejected first", () => {
  const st = state();
  assert.equal(jobSkipReason(job("a'b", 'c'), st), SKIP_REASON.prime);
  assert.equal(jobSkipReason(job('a', "it's"), st), SKIP_REASON.prime);
  assert.equal(st.seen.size, 0);
});

test('skip list: the job is the regex, each entry the subject (mm.pl quirk)', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['a:b', ['a:b'], true],
    ['a:b', ['x:y', 'a:b'], true],
    ['a:b', ['a:bc'], true], // substring of the entry
    ['a:b', ['za:b'], true],
    ['a:bc', ['a:b'], false], // not the other way round
    ['a.b:x', ['aXb:xyz'], true], // '.' is a wildcard
    ['a:b', [], false],
    ['a:b', [''], false],
    ['x:c++', ['x:c++'], true], // no valid JS regex: substring instead
    ['x:c++', ['x:c'], false],
    ['x:(', ['x:(y'], true],
    ['^a:b$', ['^a:b$'], false], // as a regex it anchors, so not even equality
  ];
  for (const [sp, skips, want] of cases) {
    assert.equal(matchesSkipList(sp, skips), want, `${sp} vs ${JSON.stringify(skips)}`);
  }
  const st = state({ skips: ['ftp.x.org:gnu-emacs'] });
  assert.equal(jobSkipReason(job('ftp.x.org', 'gnu'), st), SKIP_REASON.skipList);
  assert.equal(st.seen.size, 0);
});

test('-o regex is unanchored against site:package', () => {
  const st = state({ only: /x\.org:g/ });
  assert.match(jobSkipReason(job('ftp.y.org', 'gnu'), st)!, /^not in -o x\\.org:g$/);
  assert.equal(jobSkipReason(job('ftp.x.org', 'gnu'), st), undefined);
  assert.equal(jobSkipReason(job('a.x.org', 'gzip'), st), undefined);
  // a /g regex keeps no state between jobs
  const g = state({ only: /a/g });
  assert.equal(jobSkipReason(job('a', '1'), g), undefined);
  assert.equal(jobSkipReason(job('a', '2'), g), undefined);
});

test('only the first occurrence counts, and only once it passed skip and -o', () => {
  const st = state({ skips: [], only: /keep/ });
  assert.match(jobSkipReason(job('s', 'drop'), st)!, /^not in -o/);
  assert.equal(jobSkipReason(job('s', 'keep'), st), undefined);
  assert.deepEqual([...st.seen], ['s:keep']);
  assert.equal(jobSkipReason(job('s', 'keep'), st), SKIP_REASON.duplicate);
  // a line skipped by the skip list does not use up its first occurrence
  const st2 = state({ skips: ['s:p'] });
  assert.equal(jobSkipReason(job('s', 'p'), st2), SKIP_REASON.skipList);
  st2.skips.length = 0;
  assert.equal(jobSkipReason(job('s', 'p'), st2), undefined);
});

test('order: prime before skip list before -o before duplicates', () => {
  const st = state({ skips: ["a'b:c"], only: /nomatch/, seen: new Set(["a'b:c", 'x:y']) });
  assert.equal(jobSkipReason(job("a'b", 'c'), st), SKIP_REASON.prime);
  st.skips.push('x:y');
  assert.equal(jobSkipReason(job('x', 'y'), st), SKIP_REASON.skipList);
  st.skips.length = 0;
  assert.match(jobSkipReason(job('x', 'y'), st)!, /^not in -o/);
  st.only = undefined;
  assert.equal(jobSkipReason(job('x', 'y'), st), SKIP_REASON.duplicate);
});
