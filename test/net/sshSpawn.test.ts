// `omirr sync` starts its ssh children before its modules load, from a light reading of its
// arguments (src/net/sshSpawn.ts). A child may only ever serve the tree whose argv it has
// exactly: a read-only source never gets a --writable far side, a dry run never writes.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  discardPrestarted,
  LOCAL_SOCKET,
  parseSshUrl,
  prestartSyncSsh,
  remoteSocketOf,
  removeLocalSocket,
  farLogLevel,
  sshArgv,
  sshForwardArgv,
  spawnSsh,
  takePrestarted,
} from '../../src/net/sshSpawn.js';

afterEach(() => discardPrestarted());

// `true` as the ssh command: a real child that exits at once; the far side at warn, as
// sshTree asks for it below debug (farLogLevel)
const argvFor = (url: string, writable: boolean, extra: { remoteCommand?: string; farLogLevel?: 'warn' } = { farLogLevel: 'warn' }): string[] =>
  sshArgv(parseSshUrl(url), { writable, rsh: 'true', ...extra });

test('push: the destination is started writable, with --rsh and --omirr-path as given', async () => {
  prestartSyncSsh(['/local/src', 'ssh://u@127.0.0.1/srv/dst', '--rsh', 'true', '--omirr-path=/opt/omirr']);
  assert.equal(takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', false, { remoteCommand: '/opt/omirr', farLogLevel: 'warn' })), undefined, 'never read-only for a destination');
  const c = takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', true, { remoteCommand: '/opt/omirr', farLogLevel: 'warn' }));
  assert.ok(c?.early);
  assert.equal(await c.exited, 0);
  assert.equal(takePrestarted(argvFor('ssh://u@127.0.0.1/srv/dst', true, { remoteCommand: '/opt/omirr', farLogLevel: 'warn' })), undefined, 'taken once');
});

test('the far side logs at warn unless this end logs at debug (its lines are shown here only then)', () => {
  assert.equal(farLogLevel(undefined), 'warn');
  assert.equal(farLogLevel('info'), 'warn');
  assert.equal(farLogLevel('debug'), undefined);
  assert.equal(farLogLevel('trace'), undefined);
  assert.match(argvFor('ssh://h/srv/dst', true).at(-1)!, / serve --stdio --writable --log-level warn \/srv\/dst$/);
  // an early child matches what sshTree builds at the level given
  prestartSyncSsh(['/a', 'ssh://h/dbg', '--rsh', 'true', '--log-level', 'debug']);
  assert.equal(takePrestarted(argvFor('ssh://h/dbg', true)), undefined);
  assert.ok(takePrestarted(argvFor('ssh://h/dbg', true, {})));
  prestartSyncSsh(['/a', 'ssh://h/inf', '--rsh', 'true', '--log-level', 'info']);
  assert.ok(takePrestarted(argvFor('ssh://h/inf', true)));
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

test('?socket=: parsed off the path; the forward runs nothing there; an early forward is taken by the same URL and cleaned up', async () => {
  const u = parseSshUrl('ssh://u@h:2222/srv/dst?socket=/run/user/7/omirr/serve.sock');
  assert.deepEqual(u, { user: 'u', host: 'h', port: 2222, path: '/srv/dst', socket: '/run/user/7/omirr/serve.sock' });
  assert.equal(parseSshUrl('ssh://h/a%3Fsocket=/x').path, '/a?socket=/x', 'an encoded ? stays in the path');
  assert.throws(() => parseSshUrl('ssh://h/a?socket=relative.sock'), /absolute path/);
  assert.throws(() => parseSshUrl('ssh://h/a?socket=/a:b'), /without ':'/);
  const saved = process.env.OMIRR_REMOTE_SOCKET;
  try {
    process.env.OMIRR_REMOTE_SOCKET = '/env/serve.sock';
    assert.equal(remoteSocketOf(parseSshUrl('ssh://h/a'), {}), '/env/serve.sock');
    assert.equal(remoteSocketOf(parseSshUrl('ssh://h/a?socket='), {}), undefined, 'an empty ?socket= turns the environment off');
    assert.equal(remoteSocketOf(u, {}), '/run/user/7/omirr/serve.sock', 'the URL first');
    delete process.env.OMIRR_REMOTE_SOCKET;
    assert.equal(remoteSocketOf(parseSshUrl('ssh://h/a'), {}), undefined);
  } finally {
    if (saved === undefined) delete process.env.OMIRR_REMOTE_SOCKET;
    else process.env.OMIRR_REMOTE_SOCKET = saved;
  }
  // an "ssh" that waits (30 s) until it is ended: its watchdog shell (src/net/sshSpawn.ts) would remove the directory as soon as it exits
  const rsh = `${process.execPath} -e setTimeout(()=>{},30000) --`;
  const argv = sshForwardArgv(u, u.socket!, { rsh });
  assert.ok(argv.includes('-N'), 'no remote command');
  assert.equal(argv.at(-1), 'u@h', 'no command for the far side: nothing started there');
  assert.equal(argv[argv.indexOf('-L') + 1], `${LOCAL_SOCKET}:/run/user/7/omirr/serve.sock`);
  prestartSyncSsh(['/local/src', 'ssh://u@h:2222/srv/dst?socket=/run/user/7/omirr/serve.sock', '--rsh', rsh]);
  const c = takePrestarted(argv);
  assert.ok(c?.early && c.localSocket, 'the early forward is the one this URL asks for');
  assert.equal(statSync(dirname(c.localSocket)).mode & 0o777, 0o700, "the local end's directory is ours alone");
  // ended through its watchdog: ssh stopped (128 + SIGTERM from the shell) and the directory gone with it
  c.end();
  assert.equal(await c.exited, 143);
  assert.equal(existsSync(dirname(c.localSocket)), false);
  removeLocalSocket(c);
});

test('a forward whose ssh outlives its SIGTERM is killed: ending it never waits for ever', async () => {
  // an "ssh" that takes SIGTERM and goes on (as a real one did once in ~1,000 runs at load,
  // its SIGTERM lost): the watchdog's SIGKILL a second later ends it, and the directory goes
  // (left alone, it would end by itself after 20 s, so a failing run does not hang the file)
  const script = "process.on('SIGTERM', () => process.stderr.write('term\\n')); process.stderr.write('up\\n'); setTimeout(() => {}, 20000)";
  const c = spawnSsh([process.execPath, '-e', script, '--', `${LOCAL_SOCKET}`]);
  assert.ok(c.localSocket);
  // its handler is in place once it says so
  await new Promise<void>((resolve) => c.child.stderr!.once('data', () => resolve()));
  c.end();
  const code = await Promise.race([c.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref())]);
  assert.equal(code, 128 + 9, 'killed by SIGKILL after its SIGTERM');
  assert.match(c.stderr(), /term/, 'it had its SIGTERM first');
  assert.equal(existsSync(dirname(c.localSocket)), false);
});

test("a signal to a forward's watchdog shell does not leave its ssh behind", async () => {
  // the shell's trap sends SIGTERM, which this "ssh" takes and goes on; the shell waits on, and
  // our end's close still gets it killed
  const script = "process.on('SIGTERM', () => process.stderr.write('term\\n')); process.stderr.write('up\\n'); setTimeout(() => {}, 20000)";
  const c = spawnSsh([process.execPath, '-e', script, '--', `${LOCAL_SOCKET}`]);
  assert.ok(c.localSocket);
  await new Promise<void>((resolve) => c.child.stderr!.once('data', () => resolve()));
  c.child.kill('SIGHUP');
  await new Promise<void>((resolve) => c.child.stderr!.on('data', (d: Buffer) => d.toString().includes('term') && resolve()));
  c.end();
  const code = await Promise.race([c.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref())]);
  assert.equal(code, 128 + 9, 'killed by SIGKILL once our end closed');
  assert.equal(existsSync(dirname(c.localSocket)), false);
});

test('an ssh over stdio that outlives its SIGTERM is killed: ending it never waits for ever', async () => {
  // the far side hangs (its input's end ends nothing) and the SIGTERM is lost, as OpenSSH's
  // can be between its quit-flag check and poll(2): SIGTERM again, then SIGKILL
  const script = "process.on('SIGTERM', () => process.stderr.write('term\\n')); process.stderr.write('up\\n'); setTimeout(() => {}, 20000)";
  const c = spawnSsh([process.execPath, '-e', script]);
  assert.equal(c.localSocket, undefined);
  await new Promise<void>((resolve) => c.child.stderr!.once('data', () => resolve()));
  c.end();
  const code = await Promise.race([c.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref())]);
  assert.equal(code, null, 'killed');
  assert.equal(c.child.signalCode, 'SIGKILL');
  assert.equal(c.stderr().match(/term/g)?.length, 2, 'two SIGTERMs first');
});

test('ending an ssh over stdio with a grace: one that exits on its input\'s end gets no signal', async () => {
  // as `omirr sync`'s end does: the far omirr reads EOF and exits; the SIGTERM waits for the grace
  const script = "process.on('SIGTERM', () => process.exit(7)); process.stdin.resume(); process.stdin.on('end', () => setTimeout(() => process.exit(0), 200))";
  const c = spawnSsh([process.execPath, '-e', script]);
  c.end(5000);
  assert.equal(await c.exited, 0, 'exited by itself, not by a signal');
});
