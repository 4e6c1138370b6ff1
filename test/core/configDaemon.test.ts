// The daemon's mirroring keywords of omirr.conf: conflicts = on|off, tombstones = DAYS,
// owner = on|off; their errors (file:line), and how they combine with the CLI's flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config.js';
import { configErrorsOf } from '../helpers/configFixtures.js';
import { mirrorSettings } from '../../src/daemon/mirroring.js';
import { DEFAULT_TOMBSTONE_KEEP_MS } from '../../src/daemon/treeReplica.js';

const DAY = 24 * 3600 * 1000;

const errorsOf = configErrorsOf;

test('conflicts, tombstones and owner are read; absent they stay unset', () => {
  const cfg = parseConfig(['node = a', 'conflicts = off', 'tombstones = 7', 'owner = on'].join('\n'), '/etc/omirr/omirr.conf');
  assert.equal(cfg.conflicts, false);
  assert.equal(cfg.tombstoneDays, 7);
  assert.equal(cfg.owner, true);
  const none = parseConfig('node = a\n', 'x.conf');
  assert.equal(none.conflicts, undefined);
  assert.equal(none.tombstoneDays, undefined);
  assert.equal(none.owner, undefined);
});

test('switches take on/off (and mirror-style yes/no, true/false, 1/0), any case; days may be fractional', () => {
  for (const [w, v] of [['on', true], ['OFF', false], ['yes', true], ['No', false], ['true', true], ['false', false], ['1', true], ['0', false]] as const) {
    assert.equal(parseConfig(`conflicts = ${w}\nowner=${w}\n`, 'x.conf').conflicts, v, w);
    assert.equal(parseConfig(`owner=${w}\n`, 'x.conf').owner, v, w);
  }
  assert.equal(parseConfig('tombstones = 0.5\n', 'x.conf').tombstoneDays, 0.5);
});

test('bad values and repeats name file:line and what was expected, all at once', () => {
  const lines = errorsOf(
    [
      'conflicts = maybe',
      'owner = on off',
      'tombstones = 0',
      'tombstones = -3',
      'tombstones = ten',
      'conflicts = on',
      'conflicts = off',
      'owner = constructor',
    ].join('\n'),
  );
  assert.deepEqual(lines, [
    "o.conf:1: conflicts: expected on or off, got 'maybe'",
    "o.conf:2: owner: expected on or off, got 'on off'",
    "o.conf:3: tombstones: expected a number of days greater than 0, got '0'",
    "o.conf:4: tombstones: expected a number of days greater than 0, got '-3'",
    "o.conf:5: tombstones: expected a number of days greater than 0, got 'ten'",
    'o.conf:7: conflicts given twice (first at o.conf:6)',
    "o.conf:8: owner: expected on or off, got 'constructor'",
  ]);
});

test('an mm input file with none of them still parses; mm statements keep their order', () => {
  const cfg = parseConfig('home=/x\nconflicts = off\nmax=2\nsite:pkg 1 2\n', 'mm.in');
  assert.equal(cfg.conflicts, false);
  assert.deepEqual(
    cfg.statements.map((s) => s.kind),
    ['home', 'max', 'job'],
  );
});

test('the daemon uses: explicit flags, else the configuration, else the defaults', () => {
  const empty = parseConfig('node = a\n', 'x.conf');
  assert.deepEqual(mirrorSettings({}, empty), { keepConflicts: true, owner: false, tombstoneKeepMs: DEFAULT_TOMBSTONE_KEEP_MS });
  const cfg = parseConfig('conflicts = off\ntombstones = 2\nowner = on\n', 'x.conf');
  assert.deepEqual(mirrorSettings({}, cfg), { keepConflicts: false, owner: true, tombstoneKeepMs: 2 * DAY });
  assert.deepEqual(mirrorSettings({ keepConflicts: true, owner: false, tombstoneKeepMs: 5 }, cfg), { keepConflicts: true, owner: false, tombstoneKeepMs: 5 });
  assert.deepEqual(mirrorSettings({ keepConflicts: false }, empty).keepConflicts, false);
});
