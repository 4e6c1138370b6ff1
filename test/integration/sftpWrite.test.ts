// sftp:// as a destination, against a real sshd on loopback (internal-sftp, no omirr
// there): mirror's upload mode (get_file=false) puts local_dir on the site, with a changed
// and a deleted file on the second run and nothing at all on the third; `omirr sync LOCAL
// sftp://...` writes modes, times (to the second), symlinks and deletes, and reruns as a
// no-op; a symlink on the site where the source has a directory is replaced, never
// followed out of the tree.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { omirr as mirrorCli, pkgText, snapshot, type Snap } from '../helpers/mirrorFixtures.js';
import { startSshd, type SshdServer } from '../helpers/sshdServer.js';
import { interpretPackage, PackageSettingsError } from '../../src/core/mirrorPackage.js';
import { parsePackageFiles } from '../../src/core/packageFile.js';
import { closePools } from '../../src/workers/pool.js';
import { decodeName, displayName, hasEscapedBytes } from '../../src/core/names.js';
import { makeBadNameTree } from '../helpers/fidelityFixtures.js';

const bin = fileURLToPath(new URL('../../../bin/omirr.js', import.meta.url));
let base: string;
let sshd: SshdServer;
let env: Record<string, string>;

function omirr(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const url = (dir: string): string => `sftp://${userInfo().username}@127.0.0.1:${sshd.port}${dir}`;

/** Files by content, mode and mtime cut to the second (what SFTP holds); dirs by mode; links by target. */
function seconds(root: string): Record<string, Snap> {
  return Object.fromEntries(
    Object.entries(snapshot(root)).map(([p, s]) => [p, s.mtimeMs === undefined ? s : { ...s, mtimeMs: Math.floor(s.mtimeMs / 1000) * 1000 }]),
  );
}

function noTemporaries(root: string): void {
  const walk = (d: string): string[] => readdirSync(d).flatMap((n) => (n.startsWith('.omirr') ? [join(d, n)] : lstatSync(join(d, n)).isDirectory() ? walk(join(d, n)) : []));
  assert.deepEqual(walk(root), [], 'no temporary names left on the site');
}

before(async () => {
  base = tempDir('sftpw');
  sshd = await startSshd();
  env = { OMIRR_SSH_IDENTITY: sshd.userKey, OMIRR_SSH_KNOWN_HOSTS: sshd.knownHosts, SSH_AUTH_SOCK: '' };
  // the CLI helper for `omirr mirror` runs with this process's environment
  Object.assign(process.env, env);
});

after(async () => {
  await sshd?.stop();
  await closePools();
  if (base) removeDir(base);
});

test('upload mode (get_file=false) to sftp://: put, a changed and a deleted file, then a rerun that does nothing', async () => {
  const cwd = join(base, 'up');
  const local = join(cwd, 'local');
  const site = join(base, 'up-site');
  mkdirSync(join(local, 'd/e'), { recursive: true });
  mkdirSync(site, { recursive: true });
  writeFileSync(join(local, 'a.txt'), 'a\n');
  writeFileSync(join(local, 'gone.txt'), 'soon deleted locally\n');
  writeFileSync(join(local, 'd/e/deep.bin'), Buffer.alloc(700_000, 7));
  writeFileSync(join(local, 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(local, 'run.sh'), 0o755);
  symlinkSync('a.txt', join(local, 'link'));
  // already on the site and not local: do_deletes removes it
  writeFileSync(join(site, 'stale.txt'), 'only on the site\n');
  writeFileSync(
    join(cwd, 'pk'),
    pkgText('up', { site: url(''), remote_dir: site, local_dir: 'local', get_file: 'false', do_deletes: 'true', max_delete_files: '100%', mode_copy: 'true' }),
  );

  const first = await mirrorCli(['mirror', 'pk'], { cwd });
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /Cannot create symlinks on remote systems \(link -> a\.txt\)/);
  const want = (): Record<string, Snap> => {
    const s = snapshot(local);
    delete s.link; // mirror makes no symlinks on a site
    for (const v of Object.values(s)) delete v.mtimeMs; // nor sets remote times
    return s;
  };
  const got = (): Record<string, Snap> => {
    const s = snapshot(site);
    for (const v of Object.values(s)) delete v.mtimeMs;
    return s;
  };
  assert.deepEqual(got(), want());
  noTemporaries(site);

  // a changed file and a deleted one (the site's times are upload times, as mirror left
  // them: the change is seen by its size, get_size_change)
  writeFileSync(join(local, 'a.txt'), 'changed\n');
  rmSync(join(local, 'gone.txt'));
  const second = await mirrorCli(['mirror', 'pk'], { cwd });
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, /package=up: put 1 file\(s\) \(8 bytes\).*deleted 1/);
  assert.deepEqual(got(), want());
  assert.equal(existsSync(join(site, 'gone.txt')), false);
  noTemporaries(site);

  const before3 = snapshot(site);
  const third = await mirrorCli(['mirror', 'pk'], { cwd });
  assert.equal(third.code, 0, third.stdout + third.stderr);
  assert.match(third.stdout, /package=up: put 0 file\(s\) \(0 bytes\), 0 dir\(s\), 0 symlink\(s\), 0 attribute fix\(es\), deleted 0/);
  assert.deepEqual(snapshot(site), before3, 'the rerun touched nothing');
});

test('omirr sync LOCAL sftp://: modes, times to the second, symlinks; a rerun is a no-op; --delete removes', () => {
  const local = join(base, 'sync-src');
  const site = join(base, 'sync-site');
  mkdirSync(join(local, 'sub/deeper'), { recursive: true });
  mkdirSync(site);
  writeFileSync(join(local, 'one'), 'one\n');
  writeFileSync(join(local, 'sub/two'), Buffer.alloc(2_000_000, 2));
  writeFileSync(join(local, 'sub/deeper/three'), '3');
  chmodSync(join(local, 'sub/deeper/three'), 0o600);
  chmodSync(join(local, 'sub/deeper'), 0o750);
  symlinkSync('../one', join(local, 'sub/link'));
  // times with milliseconds, which SFTP cannot hold
  for (const p of ['one', 'sub/two', 'sub/deeper/three']) utimesSync(join(local, p), new Date(1_600_000_000_123), new Date(1_600_000_000_789));

  const r = omirr(['sync', local, url(site), '--json']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(r.stdout).filesSent, 3);
  const dirsAside = (s: Record<string, Snap>): Record<string, Snap> => Object.fromEntries(Object.entries(s).map(([p, v]) => [p, v.kind === 'dir' ? { kind: 'dir', mode: v.mode } : v]));
  assert.deepEqual(dirsAside(seconds(site)), dirsAside(seconds(local)));
  assert.equal(readlinkSync(join(site, 'sub/link')), '../one');
  noTemporaries(site);

  const again = omirr(['sync', local, url(site), '--json']);
  assert.equal(again.status, 0, again.stderr);
  const a = JSON.parse(again.stdout);
  assert.equal(a.filesSent, 0, JSON.stringify(a.planned));
  assert.equal(a.planned.setattrs, 0, JSON.stringify(a.planned));

  // a link pointing elsewhere is replaced (made beside it, renamed over); a mode change is a setattr
  rmSync(join(local, 'sub/link'));
  symlinkSync('deeper/three', join(local, 'sub/link'));
  chmodSync(join(local, 'one'), 0o640);
  const changed = omirr(['sync', local, url(site), '--json']);
  assert.equal(changed.status, 0, changed.stderr);
  const c = JSON.parse(changed.stdout);
  assert.equal(c.filesSent, 0, JSON.stringify(c.planned));
  assert.equal(readlinkSync(join(site, 'sub/link')), 'deeper/three');
  assert.equal(lstatSync(join(site, 'one')).mode & 0o777, 0o640);
  noTemporaries(site);

  rmSync(join(local, 'sub'), { recursive: true });
  const d = omirr(['sync', local, url(site), '--json', '--delete']);
  assert.equal(d.status, 0, d.stderr + d.stdout);
  assert.deepEqual(readdirSync(site), ['one']);
});

test('a symlink on the site where the source has a directory is replaced, not followed out of the tree', () => {
  const local = join(base, 'link-src');
  const site = join(base, 'link-site');
  const outside = join(base, 'outside');
  mkdirSync(join(local, 'd'), { recursive: true });
  mkdirSync(site);
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep'), 'outside the tree\n');
  writeFileSync(join(local, 'd/keep'), 'inside\n');
  writeFileSync(join(local, 'd/new'), 'new\n');
  symlinkSync(outside, join(site, 'd'));
  const r = omirr(['sync', local, url(site), '--json', '--delete']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(lstatSync(join(site, 'd')).isDirectory(), true);
  assert.deepEqual(readdirSync(outside), ['keep']);
  assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'outside the tree\n');
  assert.deepEqual(seconds(join(site, 'd')), seconds(join(local, 'd')));
});

test('upload mode is allowed for sftp:// sites and still refused where the site cannot be written', () => {
  const job = (site: string) =>
    interpretPackage(parsePackageFiles([{ file: 'pf', text: `package=p\nsite=${site}\nremote_dir=/x\nlocal_dir=/d\nget_file=false\n` }]).packages[0]!, { nowMs: 0 });
  assert.equal(job('sftp://me@host').upload, true);
  assert.throws(() => job('http://host'), (e: unknown) => e instanceof PackageSettingsError && /^pf:5: get_file=false: not implemented by omirr: .*FTP and sftp/m.test(e.message));
});

test('omirr sync to sftp:// of names and link targets that are not UTF-8: each fails by name (exit 1), never stored under another name; the rest arrives', async () => {
  const local = join(base, 'badnames-local');
  const raw = makeBadNameTree(local);
  const site = join(base, 'badnames-site');
  mkdirSync(site);
  const r = omirr(['sync', local, url(site), '--json']);
  assert.equal(r.status, 1, r.stderr);
  const failed = new Map((JSON.parse(r.stdout).failed as Array<{ path: string; error: string }>).map((f) => [f.path, f.error]));
  const notUtf8 = raw.map((b) => decodeName(b)).filter((p) => hasEscapedBytes(p));
  // each non-UTF-8 entry fails (or sits below a directory that did)
  for (const p of notUtf8) assert.ok([...failed.keys()].some((f) => p === f || p.startsWith(`${f}/`)), `${displayName(p)} reported: ${[...failed.keys()].map(displayName).join(', ')}`);
  for (const e of failed.values()) assert.match(e, /not UTF-8/);
  assert.ok(failed.has('badlink'), 'a link whose target is not UTF-8 fails');
  assert.equal(readFileSync(join(site, 'ok.txt'), 'utf8'), 'fine\n');
  // nothing stored under a replaced name (U+FFFD = EF BF BD)
  const names = (d: string): Buffer[] => readdirSync(d, { encoding: 'buffer' }).flatMap((n) => {
    const abs = Buffer.concat([Buffer.from(`${d}/`), n]);
    return lstatSync(abs).isDirectory() ? [n, ...names(abs.toString())] : [n];
  });
  for (const n of names(site)) assert.ok(!n.includes(Buffer.from([0xef, 0xbf, 0xbd])), `stored as ${n.toString()}`);
  noTemporaries(site);
});

// What the local walk leaves out is still local: a fifo where the site has a file from
// before is not a local delete, so upload mode's do_deletes keeps the site's copy (before,
// it was deleted as an orphan); a real orphan beside it still goes.
test('upload mode: the site copy of what the local walk left out (a fifo) is not deleted by do_deletes', async () => {
  const cwd = join(base, 'up-fifo');
  const local = join(cwd, 'local');
  const site = join(base, 'up-fifo-site');
  mkdirSync(local, { recursive: true });
  mkdirSync(site, { recursive: true });
  writeFileSync(join(local, 'a.txt'), 'a\n');
  spawnSync('mkfifo', [join(local, 'pipe')]);
  assert.ok(lstatSync(join(local, 'pipe')).isFIFO(), 'mkfifo made the fifo');
  writeFileSync(join(site, 'pipe'), 'the site had a file here\n');
  writeFileSync(join(site, 'orphan.txt'), 'only on the site\n');
  writeFileSync(join(cwd, 'pk'), pkgText('upfifo', { site: url(''), remote_dir: site, local_dir: 'local', get_file: 'false', do_deletes: 'true', max_delete_files: '100%' }));
  const r = await mirrorCli(['mirror', 'pk'], { cwd });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(readFileSync(join(site, 'pipe'), 'utf8'), 'the site had a file here\n');
  assert.equal(existsSync(join(site, 'orphan.txt')), false);
  assert.equal(readFileSync(join(site, 'a.txt'), 'utf8'), 'a\n');
});
