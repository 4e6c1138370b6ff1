// The held logger of an early site listing (src/mirror/earlySite.ts): what the site driver
// logs before the command's logger exists must come out there, in order, once it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/log.js';
import { lateLogger, packageKey } from '../../src/mirror/earlySite.js';

function recorder(): { log: Logger; lines: unknown[][] } {
  const lines: unknown[][] = [];
  const log: Record<string, unknown> = {};
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) log[level] = (...a: unknown[]) => lines.push([level, ...a]);
  return { log: log as unknown as Logger, lines };
}

test('lines logged before the logger is given come out there, in order; later ones go straight through', () => {
  const late = lateLogger();
  late.log.warn({ path: 'p' }, 'first');
  late.log.info('second');
  late.log.error(new Error('third'), 'x');
  const r = recorder();
  assert.equal(r.lines.length, 0);
  late.attach(r.log);
  assert.deepEqual(
    r.lines.map((l) => [l[0], l.at(-1)]),
    [
      ['warn', 'first'],
      ['info', 'second'],
      ['error', 'x'],
    ],
  );
  assert.deepEqual(r.lines[0]![1], { path: 'p' });
  late.log.debug('fourth');
  assert.deepEqual(r.lines.at(-1), ['debug', 'fourth']);
  late.attach(recorder().log); // nothing held twice
  assert.equal(r.lines.length, 4);
});

test('packages are the same only when every keyword is', () => {
  const loc = { file: 'pk', line: 1 };
  const a = { name: 'p', loc, values: { site: 'h', remote_dir: '/x' }, locs: {} };
  assert.equal(packageKey(a), packageKey({ ...a, values: { site: 'h', remote_dir: '/x' } }));
  assert.notEqual(packageKey(a), packageKey({ ...a, values: { site: 'h', remote_dir: '/y' } }));
  assert.notEqual(packageKey(a), packageKey({ ...a, name: 'q' }));
});
