// ssh:// trees through a real sshd on a loopback port: the client runs `omirr serve --stdio`
// on the "remote" side over ssh and speaks the protocol on its stdin/stdout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { sshTree } from '../../src/net/ssh.js';
import { LocalTree } from '../../src/engine/localTree.js';
import { closePools } from '../../src/workers/pool.js';
import { omirrBin, rmTemp, snapshot, tempDir } from '../helpers/netFixtures.js';
import { SSHD, startSshd, type SshdServer } from '../helpers/sshdServer.js';
import { assertNoOp, byteSnapshot, makeBadNameTree } from '../helpers/fidelityFixtures.js';

const haveSshd = existsSync(SSHD) && existsSync('/usr/bin/ssh') && existsSync('/usr/bin/ssh-keygen');

let base: string;
let sshd: SshdServer | undefined;
let port: number;
let rsh: string;
const remoteCommand = `${process.execPath} ${omirrBin}`;

before(async () => {
  if (!haveSshd) return;
  base = tempDir('ssh');
  sshd = await startSshd();
  port = sshd.port;
  rsh = `ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -i ${sshd.userKey}`;
  mkdirSync(join(base, 'remote/src/a/b'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(base, 'remote/src/a', `f${i}`), `content ${i}\n`.repeat(100 * i + 1));
  writeFileSync(join(base, 'remote/src/a/b/big'), Buffer.alloc(2_500_000, 9));
});

after(async () => {
  await sshd?.stop();
  await closePools();
  if (base) rmTemp(base);
});

function sshUrl(path: string): string {
  return `ssh://${userInfo().username}@127.0.0.1:${port}${path}`;
}

// The cases share the sshd and the read-only remote/src, each writes its own directories: three at a time.
describe('omirr over ssh', { concurrency: 3 }, () => {
  test('sshTree: pull from and push to a remote directory through sshd', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
    const src = await sshTree(sshUrl(join(base, 'remote/src')), { rsh, remoteCommand });
    const entries = await src.scan();
    assert.equal(entries.filter((e) => e.kind === 'file').length, 21);
    const local = new LocalTree(join(base, 'local'), { writable: true, create: true });
    const files = entries.filter((e) => e.kind === 'file') as Array<(typeof entries)[number] & { kind: 'file' }>;
    await local.apply(entries.filter((e) => e.kind === 'dir').map((e) => ({ op: 'mkdir' as const, path: e.path, mode: e.mode })));
    const r = await local.unpack(src.pack(files.map((f) => ({ path: f.path }))), files);
    assert.equal(r.written.length, 21, JSON.stringify(r.failed));
    await src.close();
    assert.deepEqual(snapshot(join(base, 'local')), snapshot(join(base, 'remote/src')));

    // push into a directory that does not exist yet on the remote side
    const dst = await sshTree(sshUrl(join(base, 'remote/pushed')), { rsh, remoteCommand, writable: true, create: true });
    assert.equal(dst.writable, true);
    await dst.apply(entries.filter((e) => e.kind === 'dir').map((e) => ({ op: 'mkdir' as const, path: e.path, mode: e.mode })));
    const w = await dst.unpack(local.pack(files.map((f) => ({ path: f.path }))), files);
    assert.equal(w.written.length, 21);
    await dst.close();
    assert.deepEqual(snapshot(join(base, 'remote/pushed')), snapshot(join(base, 'remote/src')));
  });

  test('omirr sync with ssh:// on both kinds of side', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
    // `how`: the ssh command and remote omirr given as flags (--rsh, --omirr-path) or as env vars.
    const run = (a: string, b: string, how: 'flags' | 'env'): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const flags = how === 'flags' ? ['--rsh', rsh, '--omirr-path', remoteCommand] : [];
        const env: NodeJS.ProcessEnv = { ...process.env, OMIRR_LOG_LEVEL: 'warn' };
        delete env.OMIRR_RSH;
        delete env.OMIRR_REMOTE_COMMAND;
        if (how === 'env') Object.assign(env, { OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: remoteCommand });
        const p = spawn(process.execPath, [omirrBin, 'sync', a, b, ...flags], { stdio: ['ignore', 'ignore', 'pipe'], env });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stderr }));
      });
    const r1 = await run(sshUrl(join(base, 'remote/src')), join(base, 'cli-pulled'), 'flags');
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(snapshot(join(base, 'cli-pulled')), snapshot(join(base, 'remote/src')));
    const r2 = await run(join(base, 'cli-pulled'), sshUrl(join(base, 'remote/cli-pushed')), 'env');
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(snapshot(join(base, 'remote/cli-pushed')), snapshot(join(base, 'remote/src')));
    // a wrong remote command: a clear error, exit 3 (cannot connect); the flag wins over the
    // (correct) environment variable
    const bad = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [omirrBin, 'sync', sshUrl(join(base, 'remote/src')), join(base, 'never'), '--rsh', rsh, '--omirr-path', '/nonexistent/omirr'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, OMIRR_RSH: rsh, OMIRR_REMOTE_COMMAND: remoteCommand },
      });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /\/nonexistent\/omirr: No such file or directory/);
  });

  test('ssh:// push: the local walk runs during the ssh login; a rerun that changed files builds only theirs, and copies them', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
    const src = join(base, 'walk-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    for (let i = 0; i < 30; i++) writeFileSync(join(src, 'd', `f${i}`), `file ${i}\n`);
    const dst = sshUrl(join(base, 'remote/walk-dst'));
    // OMIRR_TIMING=1 marks the phases on stderr, in the order they happen
    const run = (): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, [omirrBin, 'sync', src, dst, '--rsh', rsh, '--omirr-path', remoteCommand], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', OMIRR_TIMING: '1' },
        });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stderr }));
      });
    const first = await run();
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(snapshot(join(base, 'remote/walk-dst')), snapshot(src));
    // started once the hello and the open are written: over before their answer is read
    const walked = first.stderr.indexOf('omirr timing: walk when taken');
    const answered = first.stderr.indexOf('omirr timing: ssh handshake done');
    assert.ok(walked >= 0 && answered >= 0, first.stderr);
    assert.ok(walked < answered, `the walk waited for the handshake:\n${first.stderr}`);
    writeFileSync(join(src, 'd', 'f7'), 'changed, and longer\n');
    writeFileSync(join(src, 'd', 'f8'), 'FILE 8\n'); // same size, new mtime
    const rerun = await run();
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /listing aligned, 2 changed/);
    assert.deepEqual(snapshot(join(base, 'remote/walk-dst')), snapshot(src));
  });

  /** `omirr sync A B --json` through the test sshd; its --json summary parsed. */
  type SshSyncJson = { wire?: { sent: number; received: number }; delta?: { files: number }; failed?: unknown[]; filesSent: number; planned: Record<string, number> };
  const sync = (a: string, b: string): Promise<{ code: number | null; stderr: string; json: SshSyncJson }> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [omirrBin, 'sync', a, b, '--json', '--rsh', rsh, '--omirr-path', remoteCommand], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OMIRR_LOG_LEVEL: 'warn' },
      });
      let out = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr, json: JSON.parse(out || '{}') }));
    });

  test('ssh://: a changed large file goes as a delta both ways (push and pull), verified', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
    const MiB = 1 << 20;
    const local = join(base, 'delta-local');
    mkdirSync(local);
    const content = Buffer.alloc(16 * MiB);
    for (let i = 0; i < content.length; i += 4) content.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(join(local, 'big.bin'), content);
    assert.equal((await sync(local, sshUrl(join(base, 'remote/delta')))).code, 0);
    // push: 256 KiB rewritten in the middle
    content.fill(7, 8 * MiB, 8 * MiB + 256 * 1024);
    writeFileSync(join(local, 'big.bin'), content);
    const push = await sync(local, sshUrl(join(base, 'remote/delta')));
    assert.equal(push.code, 0, push.stderr);
    assert.equal(push.json.delta?.files, 1);
    assert.ok(push.json.wire!.sent + push.json.wire!.received < 2 * MiB, JSON.stringify(push.json.wire));
    assert.deepEqual(snapshot(join(base, 'remote/delta')), snapshot(local));
    // pull: the far side changes, this side rebuilds
    content.fill(9, MiB, MiB + 4096);
    writeFileSync(join(base, 'remote/delta/big.bin'), content);
    const pull = await sync(sshUrl(join(base, 'remote/delta')), local);
    assert.equal(pull.code, 0, pull.stderr);
    assert.equal(pull.json.delta?.files, 1);
    assert.deepEqual(snapshot(local), snapshot(join(base, 'remote/delta')));
  });

  test('ssh:// pull and push of names and symlink targets that are not UTF-8: byte-exact, exit 0, a rerun is a no-op', async (t) => {
    if (!haveSshd) return t.skip('sshd not installed (apt-get install openssh-server openssh-client)');
    const remote = join(base, 'remote/badname');
    makeBadNameTree(remote);
    const pulled = join(base, 'badname-pulled');
    const r = await sync(sshUrl(remote), pulled);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(byteSnapshot(pulled), byteSnapshot(remote));
    const again = await sync(sshUrl(remote), pulled);
    assert.equal(again.code, 0, again.stderr);
    assertNoOp(again.json, 'second pull');
    const pushedAt = join(base, 'remote/badname-pushed');
    const push = await sync(pulled, sshUrl(pushedAt));
    assert.equal(push.code, 0, push.stderr);
    assert.deepEqual(byteSnapshot(pushedAt), byteSnapshot(remote));
  });
});
