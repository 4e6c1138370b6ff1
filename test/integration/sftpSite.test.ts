// sftp:// sites against a real sshd on a loopback port (its internal-sftp; no omirr on the
// "remote" side): `omirr sync` pulls a tree with key authentication, a rerun is a no-op,
// and an unknown host key is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytePath, byteTree, latin1 } from '../helpers/byteNames.js';
import { describeTree, makeSampleTree, removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startSshd, type SshdServer } from '../helpers/sshdServer.js';
import { ensureFtpUser, FTP_USER } from '../helpers/vsftpdServer.js';
import { closePools } from '../../src/workers/pool.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
let base: string;
let sshd: SshdServer;

function omirr(args: string[], env: Record<string, string>, cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', SSH_AUTH_SOCK: '', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  base = tempDir('sftp');
  makeSampleTree(join(base, 'remote'));
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
  await closePools();
  if (base) removeDir(base);
});

test('omirr sync sftp:// pulls the whole tree (modes, times, symlinks); a rerun is a no-op', () => {
  const url = `sftp://${userInfo().username}@127.0.0.1:${sshd.port}${join(base, 'remote')}`;
  const env = { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: sshd.knownHosts };
  const dst = join(base, 'dst');
  const r = omirr(['sync', url, dst, '--json'], env);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  // SFTP (v3) gives times in whole seconds
  const seconds = (root: string) => Object.fromEntries(Object.entries(describeTree(root)).map(([p, d]) => [p, { ...d, mtimeMs: Math.floor(d.mtimeMs / 1000) }]));
  assert.deepEqual(seconds(dst), seconds(join(base, 'remote')));
  const again = JSON.parse(omirr(['sync', url, dst, '--json'], env).stdout);
  assert.equal(again.filesSent, 0);
  assert.equal(again.planned.setattrs, 0);
});

test('an unknown host key is refused (exit 3); nothing written', () => {
  const url = `sftp://${userInfo().username}@127.0.0.1:${sshd.port}${join(base, 'remote')}`;
  const other = join(base, 'other_known_hosts');
  mkdirSync(base, { recursive: true });
  writeFileSync(other, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
  const dst = join(base, 'refused');
  const r = omirr(['sync', url, dst, '--json'], { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: other });
  assert.equal(r.status, 3, r.stderr + r.stdout);
  assert.equal(existsSync(join(dst, 'one')), false);
  assert.match(r.stderr, /host|verif/i);
});

// The SFTP client (ssh2) reads names as UTF-8 text: a Latin-1 name comes as `caf\ufffd.txt`
// and cannot be asked for. Before, it was listed under that name, its fetch failed, and
// --delete (mirror's do_deletes) removed the local `caf\xe9.txt` as an orphan: the copy of
// a file the site still has. Now it is left out of the listing, fails the run by name, and
// its local copy (and a directory's whole subtree) is never deleted for being unlisted.
test('a name the SFTP listing cannot carry fails by name, and its local copy is not deleted (sync --delete, mirror do_deletes)', () => {
  const remote = join(base, 'latin1-remote');
  const env = { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: sshd.knownHosts };
  const url = `sftp://${userInfo().username}@127.0.0.1:${sshd.port}${remote}`;
  const make = (root: string, orphan: boolean): void => {
    mkdirSync(bytePath(root, latin1('r\xe9p')), { recursive: true });
    writeFileSync(bytePath(root, latin1('caf\xe9.txt')), 'Latin-1\n');
    writeFileSync(bytePath(root, latin1('r\xe9p'), latin1('x')), 'below\n');
    writeFileSync(join(root, 'plain.txt'), 'plain\n');
    if (orphan) writeFileSync(join(root, 'orphan.txt'), 'gone on the site\n');
  };
  make(remote, false);
  const dst = join(base, 'latin1-dst');
  make(dst, true);
  const before = byteTree(dst);
  const r = omirr(['sync', url, dst, '--delete', '--json'], env);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.deepEqual((out.failed as Array<{ path: string }>).map((f) => f.path).sort(), ['caf\ufffd.txt', 'r\ufffdp']);
  assert.equal(out.deleted, 1, 'only the orphan goes');
  const after = byteTree(dst);
  delete before[Buffer.from('orphan.txt').toString('hex')];
  assert.deepEqual(after, before);

  // the same through a mirror package with do_deletes
  const pk = join(base, 'latin1-mirror');
  const local = join(pk, 'out');
  mkdirSync(local, { recursive: true });
  make(local, true);
  writeFileSync(join(pk, 'pk'), ['package=latin1', `  site=${url}`, '  remote_dir=.', '  local_dir=out', '  do_deletes=true', ''].join('\n'));
  const m = omirr(['mirror', 'pk'], env, pk);
  assert.notEqual(m.status, 0, m.stdout + m.stderr);
  assert.match(m.stdout + m.stderr, /not mirrored/);
  const kept = byteTree(local);
  for (const [name, sum] of Object.entries(after)) assert.equal(kept[name], sum, `${name} kept`);
});

// A subdirectory the SFTP server will not list (the login is not root: the vsftpd fixture's
// system user, through the same key) is unknown, not empty: before, its readdir failed the
// whole scan; now the rest is mirrored, the run fails by name, and --delete leaves its
// local copy alone.
test('an sftp:// directory the login cannot read fails by name; the rest arrives; its local copy is not deleted', () => {
  ensureFtpUser();
  // sshd reads authorized_keys as the user logging in: let that user reach it
  chmodSync(dirname(sshd.userKey), 0o711);
  chmodSync(join(dirname(sshd.userKey), 'authorized_keys'), 0o644);
  const site = join(base, 'locked-site');
  mkdirSync(join(site, 'locked'), { recursive: true });
  chmodSync(base, 0o755); // the login walks down to the site
  chmodSync(site, 0o755);
  writeFileSync(join(site, 'a.txt'), 'a\n');
  chmodSync(join(site, 'a.txt'), 0o644);
  writeFileSync(join(site, 'locked/b.txt'), 'b\n');
  chmodSync(join(site, 'locked'), 0o700); // root's: the login cannot list it
  const dst = join(base, 'locked-dst');
  mkdirSync(join(dst, 'locked'), { recursive: true });
  writeFileSync(join(dst, 'locked/b.txt'), 'my copy\n');
  writeFileSync(join(dst, 'orphan'), 'not on the site\n');
  const env = { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: sshd.knownHosts };
  const r = omirr(['sync', `sftp://${FTP_USER}@127.0.0.1:${sshd.port}${site}`, dst, '--delete', '--json'], env);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.deepEqual((out.failed as Array<{ path: string }>).map((f) => f.path), ['locked']);
  assert.equal(readFileSync(join(dst, 'locked/b.txt'), 'utf8'), 'my copy\n');
  assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'a\n');
  assert.equal(existsSync(join(dst, 'orphan')), false);
});
