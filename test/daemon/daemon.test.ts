// Three real daemons (the CLI, real TLS on 127.0.0.1) find each other, report their links
// over the control socket, survive a peer's restart, reload on SIGHUP and stop on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import type { DaemonStatus } from '../../src/daemon/status.js';
import { exited, until } from '../helpers/daemonFixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = path.join(root, 'bin', 'omirr.js');
const NODES = ['alpha', 'beta', 'gamma'] as const;
type NodeName = (typeof NODES)[number];

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('three daemons: links go live, clock offsets shown, a restarted peer is caught up with, SIGHUP reloads, SIGTERM exits 0', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-daemon-'));
  const procs = new Map<NodeName, ChildProcess>();
  t.after(async () => {
    // OMIRR_TEST_DUMP=DIR keeps each daemon's log there (debugging a failed run)
    const dump = process.env.OMIRR_TEST_DUMP;
    if (dump) for (const [n, e] of stderr) fs.writeFileSync(path.join(dump, `${n}.log`), e);
    for (const p of procs.values()) if (p.exitCode === null) p.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const conf = (n: NodeName) => path.join(dir, `${n}.conf`);
  const stateDir = (n: NodeName) => path.join(dir, `state-${n}`);
  const sock = (n: NodeName) => controlSocketPath(stateDir(n));
  const status = (n: NodeName) => controlRequest<DaemonStatus>(sock(n), 'status', {}, { timeoutMs: 3000 });
  const stderr = new Map<NodeName, string>();

  const fingerprints = {} as Record<NodeName, string>;
  for (const n of NODES) {
    fs.mkdirSync(path.join(dir, n, 'www'), { recursive: true });
    const k = await run(['keygen', '--out', path.join(dir, `${n}.key`)]);
    assert.equal(k.code, 0, k.stderr);
    fingerprints[n] = k.stdout.trim();
    assert.match(fingerprints[n], /^SHA256:/);
  }
  const writeConf = (n: NodeName, listen: string, ports?: Record<NodeName, number>) => {
    const lines = [`node = ${n}`, `listen = ${listen}`, `key = ${n}.key`];
    const others = NODES.filter((o) => o !== n);
    if (ports) for (const o of others) lines.push(`peer = ${o} 127.0.0.1:${ports[o]} ${fingerprints[o]}`);
    lines.push(`tree = www ${n}/www ${ports ? others.join(' ') : ''} rw`);
    fs.writeFileSync(conf(n), lines.join('\n') + '\n');
  };
  const urlFile = path.join(dir, 'alpha.url');
  const start = (n: NodeName) => {
    // alpha also serves the inspector and /metrics.
    const extra = n === 'alpha' ? ['--inspect', '127.0.0.1:0', '--inspect-url-file', urlFile] : [];
    const p = spawn(process.execPath, [bin, 'daemon', '-c', conf(n), ...extra], {
      env: { ...process.env, OMIRR_STATE_DIR: stateDir(n), OMIRR_LOG_LEVEL: process.env.OMIRR_TEST_LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    stderr.set(n, '');
    p.stderr!.on('data', (d) => stderr.set(n, stderr.get(n) + String(d)));
    procs.set(n, p);
    return p;
  };

  // 1. Start alone on ephemeral ports, learn the ports from status.
  for (const n of NODES) {
    writeConf(n, '127.0.0.1:0');
    start(n);
  }
  const ports = {} as Record<NodeName, number>;
  for (const n of NODES) {
    const s = await until(() => status(n), `${n} to answer`);
    assert.equal(s.node, n);
    assert.equal(s.fingerprint, fingerprints[n]);
    ports[n] = Number(s.listen!.split(':').pop());
    assert.ok(ports[n] > 0);
    assert.deepEqual(s.peers, []);
  }

  // 2. Add the peers (and pin the ports) and reload with SIGHUP.
  for (const n of NODES) {
    writeConf(n, `127.0.0.1:${ports[n]}`, ports);
    procs.get(n)!.kill('SIGHUP');
  }
  for (const n of NODES) {
    const s = await until(async () => {
      const st = await status(n);
      return st.peers.length === 2 && st.peers.every((p) => p.state === 'live') ? st : undefined;
    }, `${n}'s links to go live`);
    for (const p of s.peers) {
      assert.equal(typeof p.clockOffsetMs, 'number', 'clock offset measured at the handshake');
      assert.ok(Math.abs(p.clockOffsetMs!) < 1000, `same host: offset ${p.clockOffsetMs} ms`);
      assert.equal(p.remoteNode, p.name, 'the peer told us its node name');
      assert.equal(p.outboxDepth, 0);
    }
    assert.ok(s.actors.some((a) => a.id === 'peer:' + s.peers[0]!.name && a.machine === 'peerLink' && a.state === 'online.live'));
    assert.equal(s.trees[0]!.name, 'www');
    assert.equal(s.lastReloadError, null);
  }

  // Prometheus metrics: link state, outbox depth and lag per peer.
  const url = fs.readFileSync(urlFile, 'utf8').trim();
  const metrics = await (await fetch(new URL('/metrics', url))).text();
  assert.match(metrics, /omirr_peer_state\{peer="beta",state="live"\} 1/);
  assert.match(metrics, /omirr_peer_state\{peer="gamma",state="backingOff"\} 0/);
  assert.match(metrics, /omirr_outbox_depth\{peer="gamma"\} 0/);
  assert.match(metrics, /omirr_peer_lag_seconds\{peer="beta"\} 0/);

  // `omirr status -c` finds the daemon through its configuration.
  const table = await run(['status', '-c', conf('alpha')], { OMIRR_STATE_DIR: stateDir('alpha') });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^node alpha/);
  assert.match(table.stdout, new RegExp(`beta\\s+127\\.0\\.0\\.1:${ports.beta}\\s+live`));
  assert.match(table.stdout, new RegExp(`gamma\\s+127\\.0\\.0\\.1:${ports.gamma}\\s+live`));

  // 3. gamma stops (SIGTERM: clean exit 0); the others notice and back off.
  procs.get('gamma')!.kill('SIGTERM');
  assert.equal(await exited(procs.get('gamma')!, 15_000), 0, stderr.get('gamma'));
  assert.equal(fs.existsSync(sock('gamma')), false, 'control socket removed on exit');
  for (const n of ['alpha', 'beta'] as const) {
    await until(async () => {
      const st = await status(n);
      const g = st.peers.find((p) => p.name === 'gamma')!;
      return g.state === 'backingOff' || g.state === 'connecting' ? g : undefined;
    }, `${n} to notice gamma is gone`);
    const st = await status(n);
    assert.equal(st.peers.find((p) => p.name !== 'gamma')!.state, 'live', 'the other link is untouched');
  }

  // 4. gamma returns on the same port; a reload (SIGHUP) makes the others retry at once.
  start('gamma');
  await until(() => status('gamma'), 'gamma to answer again');
  for (const n of ['alpha', 'beta'] as const) procs.get(n)!.kill('SIGHUP');
  for (const n of NODES) {
    await until(async () => {
      const st = await status(n);
      return st.peers.length === 2 && st.peers.every((p) => p.state === 'live') ? st : undefined;
    }, `${n}'s links live again`);
  }
  const alpha = await status('alpha');
  assert.ok(alpha.peers.find((p) => p.name === 'gamma')!.connects >= 2, 'alpha reconnected to gamma');

  // 5. A broken configuration on SIGHUP is reported and the daemon keeps running.
  fs.appendFileSync(conf('beta'), 'peer = broken\n');
  procs.get('beta')!.kill('SIGHUP');
  const beta = await until(async () => {
    const st = await status('beta');
    return st.lastReloadError ? st : undefined;
  }, 'beta to report the bad reload');
  assert.match(beta.lastReloadError!, /beta\.conf:\d+: peer: expected/);
  assert.equal(beta.peers.length, 2);

  // 6. A second daemon on the same state directory is refused with exit code 4.
  const second = await run(['daemon', '-c', conf('alpha')], { OMIRR_STATE_DIR: stateDir('alpha') });
  assert.equal(second.code, 4, second.stderr);
  assert.match(second.stderr, /another omirr daemon is running/);

  // 7. Pause and resume one link over the control socket; the other stays live.
  const paused = await controlRequest<{ peer: string; state: string }>(sock('alpha'), 'pause', { peer: 'gamma' });
  assert.deepEqual(paused, { peer: 'gamma', state: 'paused' });
  let st = await status('alpha');
  assert.deepEqual(st.peers.map((p) => [p.name, p.state]), [['beta', 'live'], ['gamma', 'paused']]);
  await controlRequest(sock('alpha'), 'resume', { peer: 'gamma' });
  st = await until(async () => {
    const x = await status('alpha');
    return x.peers.every((p) => p.state === 'live') ? x : undefined;
  }, 'alpha-gamma live after resume');
  await assert.rejects(controlRequest(sock('alpha'), 'pause', { peer: 'nobody' }), /no link to a peer named 'nobody'/);

  // 8. Everyone stops cleanly.
  for (const n of NODES) procs.get(n)!.kill('SIGTERM');
  for (const n of NODES) assert.equal(await exited(procs.get(n)!, 15_000), 0, stderr.get(n));
});
