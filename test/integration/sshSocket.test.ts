// ssh:// through a running `omirr serve --socket` (docs/cli.md "omirr serve --socket"): a
// real sshd on a loopback port forwards the client's local socket to the server's UNIX
// socket (ssh -N -L), and no omirr process starts on the far side. Every sync below that must
// go through the socket runs with a remote command that cannot start (`false`), so a silent
// fall back to `serve --stdio` would fail it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { omirrBin, rmTemp, tempDir, jsonFrame, HELLO, waitFor, startSocketServe } from '../helpers/netFixtures.js';
import { SSHD, startSshd, type SshdServer } from '../helpers/sshdServer.js';
import { byteSnapshot } from '../helpers/fidelityFixtures.js';
import { stopChild } from '../helpers/loopback.js';
import { hangReporter } from '../helpers/hangReport.js';

const haveSshd = existsSync(SSHD) && existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');

let base: string;
let sshd: SshdServer | undefined;
let rsh: string;
let server: { proc: ChildProcess; socket: string; stderr: () => string } | undefined;
const reporter = hangReporter();

before(async () => {
  if (!haveSshd) return;
  base = tempDir('sshsock');
  sshd = await startSshd();
  rsh = `ssh -p ${sshd.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${sshd.userKey}`;
  mkdirSync(join(base, 'run'), { mode: 0o700 });
  mkdirSync(join(base, 'export/src/a/b'), { recursive: true });
  for (let i = 0; i < 30; i++) writeFileSync(join(base, 'export/src/a', `f${i}`), `content ${i}\n`.repeat(50 * i + 1));
  writeFileSync(join(base, 'export/src/a/b/big'), Buffer.alloc(1_500_000, 7));
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside/secret'), 'not for the socket\n');
  // a way out of the exported root through a symlink
  symlinkSync(join(base, 'outside'), join(base, 'export/escape'));
  server = await startSocketServe(join(base, 'run/serve.sock'), ['--root', join(base, 'export')]);
});

after(async () => {
  if (server) await stopChild(server.proc);
  await sshd?.stop();
  if (base) rmTemp(base);
  reporter.dispose();
});

const url = (path: string, socket = server!.socket): string => `ssh://${userInfo().username}@127.0.0.1${path}?socket=${socket}`;

/** A sync that has not ended by then is killed, and its failure says what it and the server had written. */
const SYNC_DEADLINE_MS = 60_000;

/**
 * `omirr sync A B` over the test sshd; the far side's `omirr` cannot start unless `remote` says so.
 * `env`: more of the sync's environment (OMIRR_TIMING=1: its steps on stderr, shown if it hangs).
 */
function sync(a: string, b: string, remote = 'false', env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const full: NodeJS.ProcessEnv = { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: remote, ...env };
    delete full.OMIRR_REMOTE_SOCKET;
    const p = spawn(process.execPath, [omirrBin, 'sync', a, b], { stdio: ['ignore', 'ignore', 'pipe'], env: reporter.env(full) });
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    // push-and-pull hung past the file's 90 s twice in whole-suite runs (never alone), and the
    // refusals' case once: ssh had missed its SIGTERM (src/net/sshSpawn.ts FORWARD_WATCHDOG).
    // A hang ends in a failure that shows where the sync was stuck (asked before the kill:
    // its handles, its stack, its children) and what the server had logged
    let hung: string | undefined;
    const deadline = setTimeout(() => {
      void reporter.describe(p.pid!).then((where) => {
        hung = where;
        p.kill('SIGKILL');
      });
    }, SYNC_DEADLINE_MS);
    p.on('close', (code) => {
      clearTimeout(deadline);
      resolve({
        code,
        stderr:
          hung !== undefined
            ? `omirr sync ${a} ${b}: no end after ${SYNC_DEADLINE_MS} ms; its stderr:\n${stderr}\n${hung}\nthe server's, last 4000 bytes:\n${server?.stderr().slice(-4000)}`
            : stderr,
      });
    });
  });
}

describe('ssh:// through omirr serve --socket', { concurrency: 2, timeout: 150_000 }, () => {
  test('push and pull through the socket give byte-identical trees; nothing starts on the far side', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'export/src');
    const pushed = join(base, 'export/pushed');
    const timing = { OMIRR_TIMING: '1' };
    const r1 = await sync(src, url(pushed), 'false', timing);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(byteSnapshot(pushed), byteSnapshot(src));
    const pulled = join(base, 'pulled');
    const r2 = await sync(url(src), pulled, 'false', timing);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(byteSnapshot(pulled), byteSnapshot(src));
    assert.equal(server!.proc.exitCode, null);
  });

  test('a re-run through the socket that changes nothing is answered "the same" with no listing (listing-same-any); a change is sent', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'same-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, 'd', `f${i}`), `same ${i}\n`);
    const dst = join(base, 'export/same');
    const timing = { OMIRR_TIMING: '2' };
    const first = await sync(src, url(dst), 'false', timing);
    assert.equal(first.code, 0, first.stderr);
    const noop = await sync(src, url(dst), 'false', timing);
    assert.equal(noop.code, 0, noop.stderr);
    assert.match(noop.stderr, /listing the same as the local one/);
    assert.doesNotMatch(noop.stderr, /listing first piece/);
    writeFileSync(join(src, 'd/f7'), 'changed through the socket\n');
    const changed = await sync(src, url(dst), 'false', timing);
    assert.equal(changed.code, 0, changed.stderr);
    assert.doesNotMatch(changed.stderr, /listing the same/);
    assert.deepEqual(byteSnapshot(dst), byteSnapshot(src));
  });

  test('two clients at once, each its own directory', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'export/src');
    const [a, b] = await Promise.all([sync(src, url(join(base, 'export/two-a'))), sync(src, url(join(base, 'export/two-b')))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(byteSnapshot(join(base, 'export/two-a')), byteSnapshot(src));
    assert.deepEqual(byteSnapshot(join(base, 'export/two-b')), byteSnapshot(src));
  });

  test('a directory outside --root, or reached through a symlink out of it, is refused (no fall back, nothing written)', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'export/src');
    for (const target of [join(base, 'outside/new'), join(base, 'export/escape/new'), join(base, 'export/../outside/new2')]) {
      const r = await sync(src, url(target));
      assert.equal(r.code, 3, `${target}: ${r.stderr}`);
      assert.match(r.stderr, /outside what this server exports|no \. or \.\./, target);
      assert.doesNotMatch(r.stderr, /serve --stdio' there instead/);
    }
    // inside the directory, a symlink out of it is never followed (the tree service of serve --stdio)
    mkdirSync(join(base, 'export/linked'));
    symlinkSync(join(base, 'outside'), join(base, 'export/linked/link'));
    mkdirSync(join(base, 'linksrc/link'), { recursive: true });
    writeFileSync(join(base, 'linksrc/link/planted'), 'through the link\n');
    await sync(join(base, 'linksrc'), url(join(base, 'export/linked')));
    assert.deepEqual(readdirSync(join(base, 'outside')), ['secret']);
    // pulling through the escape is refused the same way
    const r = await sync(url(join(base, 'export/escape')), join(base, 'stolen'));
    assert.equal(r.code, 3, r.stderr);
    assert.equal(existsSync(join(base, 'stolen/secret')), false);
  });

  test('garbage and malformed first messages lose their connection only; the server serves the next client', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const answers: string[] = [];
    const bad: Buffer[] = [
      Buffer.from('GET / HTTP/1.0\r\n\r\n'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 1, 2]),
      jsonFrame(HELLO), // the stdio handshake without the serve message
      jsonFrame({ t: 'serve', path: 5 }),
      jsonFrame({ t: 'serve', path: 'relative/dir' }),
      jsonFrame({ t: 'serve', path: join(base, 'export/src'), writable: 'yes' }),
    ];
    for (const b of bad) {
      const got = await new Promise<string>((resolve, reject) => {
        const s = createConnection(server!.socket);
        let data = '';
        s.on('data', (d: Buffer) => (data += d.toString('latin1')));
        s.once('error', reject);
        s.once('close', () => resolve(data));
        s.write(b);
        s.end();
      });
      answers.push(got);
    }
    // the structured ones were told why (a refused message); every one was closed
    assert.match(answers[3]!, /refused/);
    assert.match(answers[4]!, /absolute/);
    assert.match(answers[5]!, /writable must be a boolean/);
    assert.equal(server!.proc.exitCode, null, server!.stderr());
    // a client that goes away without a goodbye after its handshake: its connection is released
    const closedBefore = server!.stderr().match(/connection closed/g)?.length ?? 0;
    const welcome = await new Promise<string>((resolve, reject) => {
      const s = createConnection(server!.socket);
      let data = '';
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (data.includes('welcome')) s.end();
      });
      s.once('error', reject);
      s.once('close', () => resolve(data));
      s.write(Buffer.concat([jsonFrame({ t: 'serve', path: join(base, 'export/src') }), jsonFrame(HELLO)]));
    });
    assert.match(welcome, /welcome/);
    await waitFor(() => (server!.stderr().match(/connection closed/g)?.length ?? 0) > closedBefore, 10_000, 'the server to release the connection');
    const src = join(base, 'export/src');
    const r = await sync(src, url(join(base, 'export/after-garbage')));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(byteSnapshot(join(base, 'export/after-garbage')), byteSnapshot(src));
  });

  test('--read-only: a writer is refused (no fall back), a reader is served', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const ro = await startSocketServe(join(base, 'run/ro.sock'), ['--read-only']);
    try {
      const src = join(base, 'export/src');
      const w = await sync(src, url(join(base, 'export/ro-pushed'), ro.socket));
      assert.equal(w.code, 3, w.stderr);
      assert.match(w.stderr, /read-only/);
      assert.equal(existsSync(join(base, 'export/ro-pushed')), false);
      const r = await sync(url(src, ro.socket), join(base, 'ro-pulled'));
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(byteSnapshot(join(base, 'ro-pulled')), byteSnapshot(src));
    } finally {
      await stopChild(ro.proc);
    }
  });

  test('no server on the socket: one notice, then the same sync through omirr serve --stdio', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'export/src');
    const dst = join(base, 'fallback');
    const r = await sync(src, url(dst, join(base, 'run/none.sock')), `${process.execPath} ${omirrBin}`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no omirr server on .*none\.sock there .*running '.*serve --stdio' there instead/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.deepEqual(byteSnapshot(dst), byteSnapshot(src));
    // and with no omirr there either, it fails and says so
    const r2 = await sync(src, url(join(base, 'fallback2'), join(base, 'run/none.sock')));
    assert.equal(r2.code, 3, r2.stderr);
    assert.match(r2.stderr, /no omirr server on/);
  });

  test('kill -9 of omirr sync: its ssh forward does not outlive it, and the forward\'s directory is removed', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    const src = join(base, 'kill-src');
    mkdirSync(src);
    for (let i = 0; i < 200; i++) writeFileSync(join(src, `f${i}`), Buffer.alloc(256 * 1024, i));
    const env: NodeJS.ProcessEnv = { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: 'false' };
    const p = spawn(process.execPath, [omirrBin, 'sync', src, url(join(base, 'export/killed'))], { stdio: 'ignore', env });
    const ended = new Promise<NodeJS.Signals | null>((r) => p.on('exit', (_c, sig) => r(sig)));
    // the forward up (ssh bound its local socket): the sync is under way
    let forward: { sh: number; ssh: number; dir: string } | undefined;
    await waitFor(() => (forward = forwardOf(p.pid!)) !== undefined && existsSync(join(forward.dir, 'fwd.sock')), 20_000, 'the forward');
    p.kill('SIGKILL');
    assert.equal(await ended, 'SIGKILL', 'killed in the middle, not finished');
    await waitFor(() => !existsSync(`/proc/${forward!.ssh}`) && !existsSync(`/proc/${forward!.sh}`), 10_000, 'ssh to end');
    assert.equal(existsSync(forward!.dir), false, 'the forward\'s directory removed');
  });

  test('the socket is its user\'s alone: refused in an open or foreign directory; a live server is not replaced, a stale socket is', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed');
    // group- or other-accessible directory
    const open = join(base, 'open-run');
    mkdirSync(open);
    chmodSync(open, 0o755);
    const s1 = await startSocketServe(join(open, 's.sock'));
    assert.equal(s1.code, 2, s1.stderr());
    assert.match(s1.stderr(), /mode 755 lets group or others in/);
    assert.equal(existsSync(join(open, 's.sock')), false);
    // a directory someone else owns (chown needs root: the tests' sshd runs as root here)
    if (process.getuid?.() === 0) {
      const foreign = join(base, 'foreign-run');
      mkdirSync(foreign, { mode: 0o700 });
      chownSync(foreign, 65534, 65534);
      const s0 = await startSocketServe(join(foreign, 's.sock'));
      assert.equal(s0.code, 2, s0.stderr());
      assert.match(s0.stderr(), /owned by uid 65534, not by us/);
    }
    // a directory that is a symlink
    symlinkSync(join(base, 'run'), join(base, 'run-link'));
    const s2 = await startSocketServe(join(base, 'run-link/s.sock'));
    assert.equal(s2.code, 2, s2.stderr());
    assert.match(s2.stderr(), /not a directory/);
    // the live server's socket
    const s3 = await startSocketServe(server!.socket);
    assert.equal(s3.code, 2, s3.stderr());
    assert.match(s3.stderr(), /another server is listening/);
    // a file that is not a socket
    writeFileSync(join(base, 'run/plain.sock'), 'x');
    const s4 = await startSocketServe(join(base, 'run/plain.sock'));
    assert.equal(s4.code, 2, s4.stderr());
    assert.match(s4.stderr(), /not a socket/);
    // a stale socket (its server gone): replaced; a new directory is made 0700, the socket 0600
    const stalePath = join(base, 'fresh-run/stale.sock');
    mkdirSync(join(base, 'fresh-run'), { mode: 0o700 });
    // a server killed with SIGKILL leaves its socket file behind
    const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => dead.stdout!.once('data', r));
    const gone = new Promise((r) => dead.once('exit', r));
    dead.kill('SIGKILL');
    await gone;
    assert.equal(statSync(stalePath).isSocket(), true);
    const s5 = await startSocketServe(stalePath);
    assert.equal(s5.code, undefined, s5.stderr());
    assert.equal(statSync(stalePath).mode & 0o777, 0o600);
    const s6 = await startSocketServe(join(base, 'made/by/serve/s.sock'));
    assert.equal(s6.code, undefined, s6.stderr());
    assert.equal(statSync(join(base, 'made/by/serve')).mode & 0o777, 0o700);
    await Promise.all([stopChild(s5.proc), stopChild(s6.proc)]);
    assert.equal(existsSync(stalePath), false, 'the socket is removed at shutdown');
  });
});


/** The children of a process, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A sync's forward: the watchdog shell, the ssh under it, and the local socket's directory (the shell's first argument). */
function forwardOf(pid: number): { sh: number; ssh: number; dir: string } | undefined {
  for (const sh of childrenOf(pid)) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${sh}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0] !== '/bin/sh') continue;
    const ssh = childrenOf(sh)[0];
    if (ssh !== undefined) return { sh, ssh, dir: argv[4]! };
  }
  return undefined;
}
