// `omirr mm` arguments: mm.pl's flags matched exactly, pass-through to mirror, files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMmArgs, type MmOptions } from '../../src/core/mmArgs.js';
import { UsageError } from '../../src/core/exitCodes.js';

const base: MmOptions = { ignoreTimers: false, debug: 0, showStatus: false, extraArgs: [], files: [], strict: false };

test('table of argument lists', () => {
  const cases: Array<[string[], Partial<MmOptions>]> = [
    [[], {}],
    [['mm.in'], { files: ['mm.in'] }],
    [['-t'], { ignoreTimers: true }],
    [['-s'], { showStatus: true }],
    [['-debug'], { debug: 1 }],
    [['-debug', '-debug', '--debug', '-debug'], { debug: 4 }],
    [['-oftp.x.org:gnu'], { only: 'ftp.x.org:gnu' }],
    [['-o', 'ftp.x.org:gnu', 'a', 'b'], { only: 'ftp.x.org:gnu', files: ['a', 'b'] }], // repair
    [['-o^a:.*$'], { only: '^a:.*$' }],
    [['-oa', '-ob'], { only: 'b' }], // the last one counts
    [['-o', ''], {}], // empty: no restriction
    [['--strict'], { strict: true }],
    [['--orphans=stop'], { orphans: 'stop' }],
    [['--orphans=wait', 'f'], { orphans: 'wait', files: ['f'] }],
    [['--inspect'], { inspect: true }],
    [['--inspect=127.0.0.1:9000'], { inspect: '127.0.0.1:9000' }],
    [['-h'], { help: true }],
    [['--help'], { help: true }],
    // anything else starting with '-' goes to mirror, in order
    [['-d', '-kfoo=bar', '-n'], { extraArgs: ['-d', '-kfoo=bar', '-n'] }],
    // mirror's -sSITE and -T, and flags merely containing -t/-s/-o, pass through (the
    // original's unanchored tests swallowed them)
    [['-sftp.x.org', '-T', '-kx=a-t', '-kget_patt=-o', '--only'], { extraArgs: ['-sftp.x.org', '-T', '-kx=a-t', '-kget_patt=-o', '--only'] }],
    [['-tx', '-debugx'], { extraArgs: ['-tx', '-debugx'] }],
    // the first non-dash argument ends the options; later dashes are files
    [['-t', 'mm.in', '-debug', 'x'], { ignoreTimers: true, files: ['mm.in', '-debug', 'x'] }],
    // '-' alone is standard input, a file; '--' ends the options
    [['-t', '-', 'b'], { ignoreTimers: true, files: ['-', 'b'] }],
    [['--', '-t'], { files: ['-t'] }],
    [['-t', '-debug', '-oa:b', '-s', '-d', '--strict', 'f1', 'f2'], {
      ignoreTimers: true,
      debug: 1,
      only: 'a:b',
      showStatus: true,
      extraArgs: ['-d'],
      strict: true,
      files: ['f1', 'f2'],
    }],
  ];
  for (const [argv, want] of cases) {
    assert.deepEqual(parseMmArgs(argv), { ...base, extraArgs: [], files: [], ...want }, argv.join(' '));
  }
});

test('an invalid -o regex or a missing one is a UsageError (exit 2)', () => {
  for (const argv of [['-o('], ['-o', '[a-'], ['-o'], ['-t', '-o']]) {
    assert.throws(() => parseMmArgs(argv), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /-o/.test(e.message), argv.join(' '));
  }
  assert.throws(() => parseMmArgs(['--inspect=']), UsageError);
});

test('the argv array is not changed', () => {
  const argv = ['-o', 'x', 'f'];
  parseMmArgs(argv);
  assert.deepEqual(argv, ['-o', 'x', 'f']);
});

test('--orphans= takes wait or stop only', () => {
  for (const bad of ['--orphans=', '--orphans=kill', '--orphans=Stop']) assert.throws(() => parseMmArgs([bad]), UsageError, bad);
});
