// Strict node configuration (issue 11, point 1): a keyword omirr.conf does not know is an
// error naming file:line with a "did you mean" hint, never a line silently skipped; mm's own
// unparsable lines keep mm's warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestKeyword, parseConfig } from '../../src/core/config.js';
import { configErrorsOf } from '../helpers/configFixtures.js';

const errorsOf = configErrorsOf;

test('a misspelt keyword is an error at file:line with a did-you-mean hint', () => {
  const errs = errorsOf('node = a\nlisen = 127.0.0.1:17884\n', '/etc/omirr/omirr.conf');
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^\/etc\/omirr\/omirr\.conf:2: unknown keyword 'lisen' \(did you mean listen\?\)/);
});

test('every unknown keyword is reported at once, in line order, with or without a hint', () => {
  const errs = errorsOf('tre = www /srv\nnode = a\nflurble = 3\npeeer=b - -\n');
  assert.equal(errs.length, 3);
  assert.match(errs[0]!, /^o\.conf:1: unknown keyword 'tre' \(did you mean tree\?\)/);
  assert.match(errs[1]!, /^o\.conf:3: unknown keyword 'flurble'; keywords:/);
  assert.match(errs[2]!, /^o\.conf:4: unknown keyword 'peeer' \(did you mean peer\?\)/);
});

test("mm's statements and job lines still parse; mm's unparsable non-keyword lines stay warnings", () => {
  const cfg = parseConfig('home=/x\nmax=2\nsite:pkg 1 2\nthis is not mm\n', 'mm.in');
  assert.equal(cfg.statements.length, 3);
  assert.equal(cfg.warnings.length, 1);
  assert.match(cfg.warnings[0]!.message, /Cannot parse/);
});

test('closestKeyword: transpositions and one-letter slips; nothing for unrelated words', () => {
  assert.equal(closestKeyword('lisen'), 'listen');
  assert.equal(closestKeyword('lsiten'), 'listen');
  assert.equal(closestKeyword('Secret'), 'secret');
  assert.equal(closestKeyword('tombstone'), 'tombstones');
  assert.equal(closestKeyword('banana'), undefined);
});
