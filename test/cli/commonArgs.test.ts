// The options every command shares, settled before any command parses (src/cli/argv.ts),
// the text log format (src/log.ts), and human counts and rates (src/cli/progress.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeAddress, settleCommonArgs } from '../../src/cli/argv.js';
import { formatLogLine, isQuietLogLine } from '../../src/log.js';
import { formatBytes, summaryLine } from '../../src/cli/progress.js';
import { count } from '../../src/core/count.js';
import { parseInspectAddress } from '../../src/inspect/address.js';
import { UsageError } from '../../src/cli/exitCodes.js';

test('--inspect ADDR: the next word is the address only when it looks like one', () => {
  for (const a of ['127.0.0.1:9000', 'localhost:9000', ':9000', '9000', '[::1]:9000']) assert.ok(looksLikeAddress(a), a);
  for (const a of ['in.mm', 'src/', '/tmp/x', 'a.conf', '-c', undefined, 'omirr://h:1/t']) assert.ok(!looksLikeAddress(a), String(a));
  assert.deepEqual(settleCommonArgs(['--inspect', '127.0.0.1:9000', 'in.mm']).argv, ['--inspect=127.0.0.1:9000', 'in.mm']);
  assert.deepEqual(settleCommonArgs(['--inspect', 'src', 'dst']).argv, ['--inspect=', 'src', 'dst']);
  assert.deepEqual(settleCommonArgs(['--inspect', 'in.mm'], '--inspect').argv, ['--inspect', 'in.mm']);
  assert.deepEqual(settleCommonArgs(['--inspect=:9000', 'x']).argv, ['--inspect=:9000', 'x']);
  assert.deepEqual(settleCommonArgs(['a', '--', '--inspect', '9000']).argv, ['a', '--', '--inspect', '9000'], 'nothing after --');
  assert.deepEqual(parseInspectAddress(':9000'), { host: '127.0.0.1', port: 9000 });
});

test('--log-format is taken out wherever it is; a bad value is a usage error', () => {
  assert.deepEqual(settleCommonArgs(['sync', '--log-format', 'json', 'a', 'b']), { argv: ['sync', 'a', 'b'], logFormat: 'json' });
  assert.deepEqual(settleCommonArgs(['--log-format=text', 'status']), { argv: ['status'], logFormat: 'text' });
  assert.throws(() => settleCommonArgs(['--log-format', 'xml']), (e: unknown) => e instanceof UsageError && /expected text or json, got 'xml'/.test(e.message));
  assert.throws(() => settleCommonArgs(['--log-format']), UsageError);
});

test('text log lines: time, level, name, message, then key=value (strings quoted only when needed)', () => {
  const line = formatLogLine({ level: 50, time: Date.UTC(2026, 0, 2, 3, 4, 5), name: 'omirr-daemon', msg: 'tree failed', tree: 'www', error: 'ENOENT: no such directory', n: 3, err: { type: 'Error', message: 'boom', stack: 'x' } });
  assert.equal(line, '2026-01-02T03:04:05.000Z ERROR omirr-daemon: tree failed tree=www error="ENOENT: no such directory" n=3 err="boom"\n');
  assert.doesNotMatch(formatLogLine({ level: 30, msg: 'x' }, false), /\x1b/);
  assert.match(formatLogLine({ level: 30, msg: 'x' }, true), /\x1b\[32mINFO/);
});

test("omirr's info and debug log lines are told from ssh's and from warnings (a lost ssh:// connection's stderr tail)", () => {
  const rec = { time: Date.UTC(2026, 0, 2), name: 'omirr-serve', msg: 'peer authenticated', peer: 'ssh' };
  for (const colour of [false, true]) {
    for (const level of [10, 20, 30]) assert.ok(isQuietLogLine(formatLogLine({ ...rec, level }, colour).trimEnd()), `level ${level}`);
    for (const level of [40, 50, 60]) assert.ok(!isQuietLogLine(formatLogLine({ ...rec, level }, colour).trimEnd()), `level ${level}`);
  }
  assert.ok(isQuietLogLine('{"level":30,"time":1,"name":"omirr-serve","msg":"tree opened"}'), 'json, info');
  assert.ok(!isQuietLogLine('{"level":50,"time":1,"name":"omirr-serve","msg":"disk full"}'), 'json, error');
  for (const l of [
    'Connection to 127.0.0.1 closed by remote host.',
    'ssh: connect to host h port 22: Connection refused',
    'Warning: Permanently added 127.0.0.1 (ED25519) to the list of known hosts.',
    '{"level":30}',
    '{"level":30,"msg":"x"', // cut
    '2026-01-02T00:00:00Z INFO something else', // not omirr's time format
  ]) {
    assert.ok(!isQuietLogLine(l), l);
  }
});

test('rates and counts read as a person writes them', () => {
  assert.equal(formatBytes(4.310344827586206), '4.3 B');
  assert.equal(formatBytes(3), '3 B');
  assert.equal(formatBytes(1.2 * 1024 * 1024), '1.2 MiB');
  assert.equal(count(1, 'file'), '1 file');
  assert.equal(count(0, 'file'), '0 files');
  assert.equal(count(2, 'dir'), '2 dirs');
  const r = { dryRun: false, filesSent: 1, bytesSent: 3, dirsCreated: 1, symlinks: 1, attrsSet: 0, deleted: 0, failed: [], durationMs: 700, planned: {} } as unknown as Parameters<typeof summaryLine>[0];
  assert.equal(summaryLine(r), 'sent 1 file (3 B), 1 dir created, 1 symlink, 0 attrs set, 0 deleted in 0.70 s, 4.3 B/s');
});
