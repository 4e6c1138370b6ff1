// Tree modes on the `tree` line (docs/config.md): send-receive, send-only, receive-only, and
// what rw / ro mean with them; unknown or contradicting words are errors with file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config.js';
import { configErrorsOf } from '../helpers/configFixtures.js';

const PEERS = ['peer = a 127.0.0.1:1 -', 'peer = b 127.0.0.1:2 -'];
const tree = (line: string) => parseConfig([...PEERS, line].join('\n'), '/x/o.conf').trees[0]!;

test('mode words, rw and ro: the mode and the export', () => {
  const cases: Array<[string, string, boolean, string[]]> = [
    ['tree = www /srv', 'send-receive', false, []],
    ['tree = www /srv a b', 'send-receive', false, ['a', 'b']],
    ['tree = www /srv rw', 'send-receive', true, []],
    ['tree = www /srv a ro', 'receive-only', false, ['a']],
    ['tree = www /srv a send-only', 'send-only', false, ['a']],
    ['tree = www /srv send-only rw', 'send-only', true, []],
    ['tree = www /srv a b rw send-only', 'send-only', true, ['a', 'b']],
    ['tree = www /srv receive-only', 'receive-only', false, []],
    ['tree = www /srv receive-only ro', 'receive-only', false, []],
    ['tree = www /srv send-receive rw', 'send-receive', true, []],
  ];
  for (const [line, mode, writable, peers] of cases) {
    const t = tree(line);
    assert.deepEqual([t.mode, t.writable, t.peers], [mode, writable, peers], line);
  }
});

test('unknown mode words and contradictions name file:line', () => {
  const errs = configErrorsOf(
    [...PEERS, 'tree = t1 /a send-onyl', 'tree = t2 /b a recieve-only', 'tree = t3 /c mode=send-only', 'tree = t4 /d send-only ro', 'tree = t5 /e receive-only rw', 'tree = t6 /f send-only receive-only'].join('\n'),
    '/etc/o.conf',
  );
  assert.equal(errs.length, 6, errs.join('\n'));
  assert.match(errs[0]!, /^\/etc\/o\.conf:3: tree t1: unknown mode 'send-onyl' \(modes: send-receive, send-only, receive-only; or rw \/ ro/);
  assert.match(errs[1]!, /^\/etc\/o\.conf:4: tree t2: unknown mode 'recieve-only'/);
  assert.match(errs[2]!, /^\/etc\/o\.conf:5: tree t3: unknown mode 'mode=send-only'/);
  assert.match(errs[3]!, /^\/etc\/o\.conf:6: tree t4: 'send-only' with 'ro' contradicts/);
  assert.match(errs[4]!, /^\/etc\/o\.conf:7: tree t5: 'receive-only rw' contradicts/);
  assert.match(errs[5]!, /^\/etc\/o\.conf:8: tree t6: unknown mode 'send-only'/);
});

test('an undeclared word that is no mode stays an unknown peer', () => {
  const errs = configErrorsOf([...PEERS, 'tree = t /a gamma'].join('\n'));
  assert.match(errs[0]!, /o\.conf:3: tree t: unknown peer 'gamma'/);
});
