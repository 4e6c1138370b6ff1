// `omirr sync` starts its ssh children before its modules load, from a light reading of its
// arguments (src/net/sshSpawn.ts). A child may only ever serve the tree whose argv it has
// exactly: a read-only source never gets a --writable far side, a dry run never writes.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { discardPrestarted, parseSshUrl, prestartSyncSsh, sshArgv, takePrestarted } from '../../src/net/sshSpawn.js';

afterEach(() => discardPrestarted());

// `true` as the ssh command: a real child that exits at once
const argvFor = (url: string, writable: boolean, extra: { remoteCommand?: string } = {}): string[] => sshArgv(parseSshUrl(url), { writable, rsh: 'true', ...extra });

test('push: the destination is started writable, with --rsh and --omirr-path as given', async () => {
  prestartSyncSsh(['/local/src', 'ssh://u@127.0.0.1/srv/dst', '--rsh', 'true', '--omirr-path=/opt/omirr']);
  assert.equal(takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', false, { remoteCommand: '/opt/omirr' })), undefined, 'never read-only for a destination');
  const c = takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', true, { remoteCommand: '/opt/omirr' }));
  assert.ok(c?.early);
  assert.equal(await c.exited, 0);
  assert.equal(takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', true, { remoteCommand: '/opt/omirr' })), undefined, 'taken once');
});

test('pull: the source is started read-only; options before and between the ends are skipped', () => {
  prestartSyncSsh(['--exclude', 'ssh://not/an/end', 'ssh://h/srv/src', '--delete', '/local/dst', '--rsh', 'true']);
  assert.equal(takePrestarted(argvFor('ssh://h/srv/src', true)), undefined);
  assert.ok(takePrestarted(argvFor('ssh://h/srv/src', false)));
  assert.equal(takePrestarted(argvFor('ssh://not/an/end', false)), undefined);
});

test('a dry run starts the destination read-only', () => {
  prestartSyncSsh(['-n', '/a', 'ssh://h/b', '--rsh', 'true']);
  assert.equal(takePrestarted(argvFor('ssh://h/b', true)), undefined);
  assert.ok(takePrestarted(argvFor('ssh://h/b', false)));
});

test('nothing is started for anything but two ends, or a bad URL', () => {
  prestartSyncSsh(['ssh://h/only-one', '--rsh', 'true']);
  prestartSyncSsh(['/a', 'ssh://h:99999/bad-port', '--rsh', 'true']);
  prestartSyncSsh(['/a', 'ssh://h/x', 'extra', '--rsh', 'true']);
  assert.equal(takePrestarted(argvFor('ssh://h/only-one', false)), undefined);
  assert.equal(takePrestarted(argvFor('ssh://h/x', true)), undefined);
});

test('an early child nobody takes is ended', async () => {
  // a far side that would wait for 30 s
  const rsh = `${process.execPath} -e setTimeout(()=>{},30000) --`;
  prestartSyncSsh(['/a', 'ssh://h/z', '--rsh', rsh]);
  const ended = discardPrestarted();
  assert.equal(ended.length, 1);
  assert.equal(await ended[0]!.exited, null, 'killed, not exited by itself');
  assert.equal(takePrestarted(sshArgv(parseSshUrl('ssh://h/z'), { writable: true, rsh })), undefined);
});
