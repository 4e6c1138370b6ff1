// The daemon guides, followed as written (issue 11, point 10): the "Try it on one machine"
// commands of docs/daemon.md run in bash exactly as extracted from the page (with HOME a
// temporary directory, `omirr` on PATH, and free ports in place of 17881-17883 so that
// parallel runs do not collide), and the three-host guide is followed on loopback as far as
// one machine allows (its keygen commands and alpha's omirr.conf as printed, addresses
// mapped to 127.0.0.1, systemd replaced by `omirr daemon`). Files must propagate.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, freePort, omirrBin, repoRoot, until } from '../helpers/daemonFixtures.js';
import { controlRequest, controlSocketPath } from '../../src/daemon/controlSocket.js';
import type { DaemonStatus } from '../../src/daemon/status.js';

const doc = readFileSync(join(repoRoot, 'docs', 'daemon.md'), 'utf8');
const base = mkdtempSync(join(tmpdir(), 'omirr-docs-walk-'));
const pids: number[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => exited(c, 5000).catch(() => undefined)));
  rmSync(base, { recursive: true, force: true });
});

/** A bin directory whose `omirr` runs this checkout. */
function shimDir(): string {
  const bin = join(base, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'omirr'), `#!/bin/sh\nexec "${process.execPath}" "${omirrBin}" "$@"\n`);
  chmodSync(join(bin, 'omirr'), 0o755);
  return bin;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OMIRR_')) env[k] = v;
  return { ...env, PATH: `${shimDir()}:${process.env.PATH}`, OMIRR_LOG_LEVEL: 'warn', ...extra };
}

/** The fenced blocks of a section whose info string is `sh try-it`, in order. */
function tryItBlocks(): string[] {
  return [...doc.matchAll(/^```sh try-it\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

let runs = 0;
/** Run a script in bash; its output goes to files, not pipes (daemons it starts in the background keep theirs open). */
function bash(script: string, env: NodeJS.ProcessEnv, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const out = join(base, `run-${++runs}.out`);
  const err = join(base, `run-${runs}.err`);
  const fds = [openSync(out, 'w'), openSync(err, 'w')] as const;
  try {
    const r = spawnSync('bash', ['-e', '-c', script], { env, cwd, stdio: ['ignore', fds[0], fds[1]], timeout: 60_000 });
    return { status: r.status, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function status(stateDir: string): Promise<DaemonStatus> {
  return controlRequest<DaemonStatus>(controlSocketPath(stateDir), 'status', {}, { timeoutMs: 3000 });
}

/**
 * Every daemon's two links and its tree live. On a timeout the error carries what each daemon
 * last answered and the end of each one's log (`<name>.log` beside its state directory), so a
 * failure in CI says which link or tree was stuck, and why, after the temporary files are gone.
 */
async function allLive(stateDirs: string[]): Promise<void> {
  const last = new Map<string, string>();
  try {
    for (const sd of stateDirs) {
      await until(async () => {
        const s = await status(sd).catch((e: unknown) => {
          last.set(sd, `no answer: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        });
        if (s) last.set(sd, JSON.stringify({ peers: s.peers.map((p) => [p.name, p.state]), trees: s.trees.map((t) => [t.name, t.state]) }));
        return s && s.peers.length === 2 && s.peers.every((p) => p.state === 'live') && s.trees.every((t) => t.state.endsWith('live')) ? true : undefined;
      }, `${sd}: links and tree live`, 30_000);
    }
  } catch (err) {
    const seen = stateDirs.map((sd) => {
      const log = sd.replace(/state-(\w+)$/, '$1.log');
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
      return `${sd}: last status ${last.get(sd) ?? '(none asked)'}\n${tail}`;
    });
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${seen.join('\n')}`);
  }
}

test('docs/daemon.md "Try it on one machine", command by command', async () => {
  const blocks = tryItBlocks();
  assert.equal(blocks.length, 7, 'the walkthrough has its seven steps');
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true });
  const ports = [await freePort(), await freePort(), await freePort()];
  const withPorts = (s: string): string => s.replace(/1788([123])/g, (_m, i: string) => String(ports[Number(i) - 1]));
  const env = cleanEnv({ HOME: home });
  const [keys, confs, start, stat, write, check, stop] = blocks.map(withPorts) as [string, string, string, string, string, string, string];
  const dir = join(home, 'omirr-try');

  let r = bash(keys, env, home);
  assert.equal(r.status, 0, r.stderr);
  r = bash(confs, env, home);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^node {3}= alpha$/m, 'cat alpha.conf shows it');
  assert.match(r.stdout, new RegExp(`^peer {3}= beta 127\\.0\\.0\\.1:${ports[1]} SHA256:\\S+$`, 'm'));
  assert.match(r.stdout, /^tree {3}= www alpha\/www beta gamma rw$/m);

  r = bash(start, env, home);
  assert.equal(r.status, 0, r.stderr);
  for (const n of ['alpha', 'beta', 'gamma']) pids.push(Number(readFileSync(join(dir, `${n}.pid`), 'utf8')));
  const states = ['alpha', 'beta', 'gamma'].map((n) => join(dir, `state-${n}`));
  await allLive(states);

  r = bash(stat, env, home);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^node alpha /m);
  assert.match(r.stdout, /^ {2}beta +127\.0\.0\.1:\d+ +live /m);
  assert.match(r.stdout, /^ {2}gamma +127\.0\.0\.1:\d+ +live /m);

  r = bash(write, env, home);
  assert.equal(r.status, 0, r.stderr);
  for (const n of ['beta', 'gamma']) {
    const f = join(dir, n, 'www', 'hello.txt');
    await until(async () => (existsSync(f) && readFileSync(f, 'utf8') === 'hello from alpha\n' ? true : undefined), `hello.txt on ${n}`);
  }
  r = bash(check, env, home);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from alpha\nhello from alpha\n');

  r = bash(stop, env, home);
  assert.equal(r.status, 0, r.stderr);
  for (const pid of pids) {
    await until(async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, `daemon ${pid} to exit`);
  }
  for (const n of ['alpha', 'beta', 'gamma']) {
    const log = readFileSync(join(dir, `${n}.log`), 'utf8');
    assert.doesNotMatch(log, /ERROR|FATAL/, `${n}.log:\n${log}`);
  }
});

test('docs/daemon.md "Three hosts, step by step", on loopback', async () => {
  const section = doc.slice(doc.indexOf('## Three hosts, step by step'), doc.indexOf('## Peer links'));
  const blocks = [...section.matchAll(/^ {3}```(\w*)\n([\s\S]*?)^ {3}```$/gm)].map((m) => m[2]!.replace(/^ {3}/gm, ''));
  // step 2: the keygen line; step 3: alpha's omirr.conf
  const keygen = blocks.find((b) => b.includes('omirr keygen --out'))!.split('\n')[0]!.replace(/\s+#.*$/, '');
  const alphaConf = blocks.find((b) => b.startsWith('node   = alpha'))!;
  assert.ok(keygen && alphaConf, 'the guide has its keygen command and alpha\'s configuration');
  const hosts = ['alpha', 'beta', 'gamma'] as const;
  const ip: Record<string, string> = { alpha: '10.0.0.1', beta: '10.0.0.2', gamma: '10.0.0.3' };
  const port: Record<string, number> = {};
  for (const h of hosts) port[h] = await freePort();
  // each host's /etc/omirr and /srv/www are directories of its own here
  const etc = (h: string): string => join(base, 'hosts', h, 'etc', 'omirr');
  const srv = (h: string): string => join(base, 'hosts', h, 'srv', 'www');
  const onHost = (h: string, text: string): string => text.replaceAll('/etc/omirr', etc(h)).replaceAll('/srv/www', srv(h));
  const env = cleanEnv({});
  const fingerprint: Record<string, string> = {};
  for (const h of hosts) {
    mkdirSync(srv(h), { recursive: true });
    const r = bash(onHost(h, keygen.replaceAll('alpha', h)), env, base);
    assert.equal(r.status, 0, r.stderr);
    fingerprint[h] = r.stdout.trim();
    assert.match(fingerprint[h]!, /^SHA256:/);
  }
  for (const h of hosts) {
    // "On beta the same with node = beta, key = /etc/omirr/beta.key, and peer lines for alpha and gamma"
    const swapped = h === 'alpha' ? alphaConf : alphaConf.replace(/\b(alpha|beta|gamma)\b/g, (n) => (n === 'alpha' ? h : n === h ? 'alpha' : n));
    let conf = onHost(h, swapped)
      .replace(/^listen = 0\.0\.0\.0:7878$/m, `listen = 127.0.0.1:${port[h]}`)
      .replace(/^(peer\s+=\s+)(\w+)(\s+)\S+(\s+)SHA256:<[^>]+>$/gm, (_m, a: string, name: string, b: string, c: string) => `${a}${name}${b}127.0.0.1:${port[name]}${c}${fingerprint[name]}`);
    assert.doesNotMatch(conf, /10\.0\.0\.|<|0\.0\.0\.0/, `every address and fingerprint was filled in:\n${conf}`);
    for (const [name, addr] of Object.entries(ip)) assert.ok(!conf.includes(addr), name);
    conf += '\n';
    writeFileSync(join(etc(h), 'omirr.conf'), conf);
  }
  // step 5: `systemctl enable --now omirr` is `omirr daemon -c /etc/omirr/omirr.conf` (the unit's ExecStart)
  const unit = readFileSync(join(repoRoot, 'packaging', 'omirr.service'), 'utf8');
  assert.match(unit, /omirr daemon -c \/etc\/omirr\/omirr\.conf/);
  const state = (h: string): string => join(base, 'hosts', h, 'state');
  for (const h of hosts) {
    const proc = spawn('omirr', ['daemon', '-c', join(etc(h), 'omirr.conf')], { env: { ...env, OMIRR_STATE_DIR: state(h) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`daemon ${h} exited ${code}: ${err}\n`);
    });
    children.push(proc);
  }
  await allLive(hosts.map(state));
  // `omirr status` on each host (its default configuration is that host's /etc/omirr/omirr.conf)
  for (const h of hosts) {
    const r = bash('omirr status', { ...env, OMIRR_CONFIG: join(etc(h), 'omirr.conf'), OMIRR_STATE_DIR: state(h) }, base);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^node ${h} `, 'm'));
  }
  // step 6: create a file on gamma, see it on alpha and beta
  writeFileSync(join(srv('gamma'), 'from-gamma.txt'), 'made on gamma\n');
  for (const h of ['alpha', 'beta']) {
    const f = join(srv(h), 'from-gamma.txt');
    await until(async () => (existsSync(f) && readFileSync(f, 'utf8') === 'made on gamma\n' ? true : undefined), `from-gamma.txt on ${h}`);
  }
  for (const c of children) c.kill('SIGTERM');
  for (const c of children) assert.equal(await exited(c, 20_000), 0);
});
