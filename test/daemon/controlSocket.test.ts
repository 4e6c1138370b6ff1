import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createActor, createMachine, fromCallback, SimulatedClock } from 'xstate';
import { controlRequest, ControlError, controlSocketPath, startControlServer } from '../../src/daemon/controlSocket.js';
import { formatStatus, stateString, summarizeActors, type DaemonStatus } from '../../src/daemon/status.js';
import { peerLinkMachine, peerStatus, type PeerLinkEvent } from '../../src/machines/peerLink.js';
import { resolveStateDir } from '../../src/daemon/paths.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = path.join(root, 'bin', 'omirr.js');

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-ctl-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A small live system: a root actor invoking two peer links, one live, one backing off. */
function liveSystem() {
  const sendBacks: Array<(e: PeerLinkEvent) => void> = [];
  const link = peerLinkMachine.provide({
    actors: {
      session: fromCallback(({ sendBack }) => {
        sendBacks.push(sendBack as (e: PeerLinkEvent) => void);
      }),
    },
  });
  const rootMachine = createMachine({
    id: 'daemonSupervisor',
    initial: 'running',
    states: {
      running: {
        invoke: [
          { id: 'peer:beta', src: link, input: { peer: 'beta', address: '127.0.0.1:7001' } },
          { id: 'peer:gamma', src: link, input: { peer: 'gamma', address: '127.0.0.1:7002' } },
        ],
      },
    },
  });
  // A simulated clock: no backoff timer fires while the test looks at the states.
  const actor = createActor(rootMachine, { clock: new SimulatedClock() }).start();
  sendBacks[0]!({ type: 'CONN.OPENED' });
  sendBacks[0]!({ type: 'CONN.HANDSHAKEN', clockOffsetMs: -12, rttMs: 1, at: Date.now() });
  sendBacks[1]!({ type: 'CONN.LOST', error: 'ECONNREFUSED' });
  const children = actor.getSnapshot().children as Record<string, { send: (e: PeerLinkEvent) => void; getSnapshot: () => unknown }>;
  children['peer:gamma']!.send({ type: 'OUTBOX.CHANGED', headSeq: 9, ackedSeq: 2, oldestPendingAt: Date.now() - 30_000 });
  const startedAt = new Date(Date.now() - 65_000).toISOString();
  const status = (): DaemonStatus => {
    const now = Date.now();
    return {
      node: 'alpha',
      pid: process.pid,
      version: 'test',
      startedAt,
      at: new Date(now).toISOString(),
      config: '/etc/omirr/omirr.conf',
      actors: summarizeActors(actor),
      peers: ['peer:beta', 'peer:gamma'].map((id) => peerStatus(children[id]!.getSnapshot() as never, now)),
      trees: [{ name: 'www', path: '/srv/www', peers: ['beta', 'gamma'], files: 1234, lastChangeAt: new Date(now).toISOString(), state: 'watching' }],
    };
  };
  return { actor, status };
}

test('stateString flattens nested and parallel state values', () => {
  assert.equal(stateString('live'), 'live');
  assert.equal(stateString({ online: 'live' }), 'online.live');
  assert.equal(stateString({ a: { b: 'c' } }), 'a.b.c');
  assert.equal(stateString({ x: 'y', z: 'w' }), '(x.y,z.w)');
});

test('summarizeActors lists every actor with its machine, state and scalar context', () => {
  const { actor } = liveSystem();
  const actors = summarizeActors(actor);
  assert.deepEqual(
    actors.map((a) => [a.id, a.machine, a.state, a.depth]),
    [
      [actor.id, 'daemonSupervisor', 'running', 0],
      ['peer:beta', 'peerLink', 'online.live', 1],
      ['session', 'session', 'active', 2],
      ['peer:gamma', 'peerLink', 'backingOff', 1],
    ],
  );
  const gamma = actors.find((a) => a.id === 'peer:gamma')!;
  assert.equal(gamma.context.outboxDepth, 7);
  assert.equal(gamma.context.lastError, 'ECONNREFUSED');
  assert.equal('backoff' in gamma.context, false, 'objects are left out of the summary');
  actor.stop();
});

test('status over the control socket: request, answer, errors; socket is private', async (t) => {
  const dir = tmpdir(t);
  const sock = controlSocketPath(path.join(dir, 'state'));
  const { actor, status } = liveSystem();
  const server = await startControlServer({
    path: sock,
    handlers: {
      status,
      fail: () => {
        throw new Error('deliberate');
      },
    },
  });
  t.after(() => server.close());
  t.after(() => actor.stop());
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700);

  const s = await controlRequest<DaemonStatus>(sock, 'status');
  assert.equal(s.node, 'alpha');
  assert.deepEqual(
    s.peers.map((p) => [p.name, p.state, p.clockOffsetMs, p.outboxDepth]),
    [
      ['beta', 'live', -12, 0],
      ['gamma', 'backingOff', null, 7],
    ],
  );
  assert.ok(s.peers[1]!.lagMs >= 30_000);
  assert.equal(s.trees[0]!.files, 1234);
  assert.ok(s.actors.some((a) => a.id === 'peer:beta' && a.state === 'online.live'));

  await assert.rejects(controlRequest(sock, 'nope'), (e: unknown) => e instanceof ControlError && e.code === 'REMOTE' && /unknown command 'nope'/.test(e.message));
  await assert.rejects(controlRequest(sock, 'fail'), (e: unknown) => e instanceof ControlError && e.code === 'REMOTE' && e.message === 'deliberate');

  // Malformed lines get an error answer; the connection and the server stay up.
  const raw = await new Promise<string[]>((resolve, reject) => {
    const c = net.connect(sock);
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write('not json\n{"id":7,"cmd":"status"}\n'));
    c.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n').filter((l) => l !== '');
      if (lines.length >= 2) {
        c.destroy();
        resolve(lines);
      }
    });
    c.on('error', reject);
  });
  const answers = raw.map((l) => JSON.parse(l) as { id: unknown; ok: boolean });
  assert.ok(answers.some((a) => a.ok === false && a.id === null));
  assert.ok(answers.some((a) => a.ok === true && a.id === 7));

  // A second daemon on the same state dir is refused; the first keeps its socket.
  await assert.rejects(startControlServer({ path: sock, handlers: {} }), /another omirr daemon is running/);
  assert.equal((await controlRequest<DaemonStatus>(sock, 'status')).node, 'alpha');

  // The table names every peer, its state, offset, depth and lag.
  const text = formatStatus(s);
  assert.match(text, /^node alpha/);
  assert.match(text, /beta\s+127\.0\.0\.1:7001\s+live\s+-12 ms/);
  assert.match(text, /gamma\s+127\.0\.0\.1:7002\s+backingOff \([\d.]+ m?s\)\s+-\s+-\s+7\s+3\d\.\d s/);
  assert.match(text, /www\s+\/srv\/www\s+watching\s+1234/);
});

test('a stale socket from a dead daemon is replaced; a non-socket file is not', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'omirr.sock');
  // Leave a socket file behind with nobody listening (as after a SIGKILL): a hard link to
  // a listening socket survives the server's close, which unlinks only its own name.
  const dead = net.createServer();
  const tmpSock = path.join(dir, 'dead.sock');
  await new Promise<void>((r) => dead.listen(tmpSock, r));
  fs.linkSync(tmpSock, sock);
  await new Promise<void>((r) => dead.close(() => r()));
  assert.ok(fs.lstatSync(sock).isSocket());
  const server = await startControlServer({ path: sock, handlers: { ping: () => 'pong' } });
  assert.equal(await controlRequest(sock, 'ping'), 'pong');
  await server.close();
  assert.equal(fs.existsSync(sock), false, 'close removes the socket');

  fs.writeFileSync(sock, 'not a socket');
  await assert.rejects(startControlServer({ path: sock, handlers: {} }), /not a socket/);
  assert.equal(fs.readFileSync(sock, 'utf8'), 'not a socket');

  await assert.rejects(
    controlRequest(path.join(dir, 'none.sock'), 'status'),
    (e: unknown) => e instanceof ControlError && e.code === 'NO_DAEMON',
  );
});

test('resolveStateDir: config, env, root, XDG', () => {
  assert.equal(resolveStateDir({ stateDir: '/x/y', node: 'a' }, {}, 1000), '/x/y');
  assert.equal(resolveStateDir({ node: 'a' }, { OMIRR_STATE_DIR: '/s' }, 1000), '/s');
  assert.equal(resolveStateDir({ node: 'alpha' }, {}, 0), '/var/lib/omirr/alpha');
  assert.equal(resolveStateDir({ node: 'alpha' }, { XDG_STATE_HOME: '/xdg' }, 1000), '/xdg/omirr/alpha');
});

test('omirr status (table and --json) asks the daemon over the socket; no daemon exits 3', async (t) => {
  const dir = tmpdir(t);
  const sock = controlSocketPath(dir);
  const { actor, status } = liveSystem();
  const server = await startControlServer({ path: sock, handlers: { status } });
  t.after(() => server.close());
  t.after(() => actor.stop());

  const table = await runCli(['status', '--socket', sock]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /PEERS/);
  assert.match(table.stdout, /beta\s+127\.0\.0\.1:7001\s+live/);
  assert.match(table.stdout, /gamma\s+127\.0\.0\.1:7002\s+backingOff/);
  assert.match(table.stdout, /peer beta\s+peerLink\s+online\.live/);

  const json = await runCli(['status', '--json', '--socket', sock]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as DaemonStatus;
  assert.deepEqual(
    parsed.peers.map((p) => [p.name, p.state, p.outboxDepth]),
    [
      ['beta', 'live', 0],
      ['gamma', 'backingOff', 7],
    ],
  );
  assert.equal(parsed.trees[0]!.name, 'www');

  // -c: the config's node name (and $OMIRR_STATE_DIR here) locate the socket.
  const conf = path.join(dir, 'omirr.conf');
  fs.writeFileSync(conf, 'node = alpha\n');
  const viaConf = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, 'status', '--json', '-c', conf], {
      env: { ...process.env, OMIRR_STATE_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, stdout: out }));
  });
  assert.equal(viaConf.code, 0);
  assert.equal((JSON.parse(viaConf.stdout) as DaemonStatus).node, 'alpha');

  const none = await runCli(['status', '--socket', path.join(dir, 'nobody.sock')]);
  assert.equal(none.code, 3);
  assert.match(none.stderr, /no daemon is running/);
});
