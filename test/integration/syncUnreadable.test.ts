// `omirr sync` of a source with a directory the user running it cannot read (run as the
// vsftpd fixture's system user, not root): the directory's contents are not mirrored, so
// the run fails by name (exit 1, as rsync's 23), the rest arrives, and --delete leaves the
// destination's copy of that directory alone (before: exit 0 and its copy deleted).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { omirrBinPath } from '../helpers/omirrRun.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { ensureFtpUser } from '../helpers/vsftpdServer.js';

const base = tempDir('sync-unreadable');
after(() => removeDir(base));

test('a source directory that cannot be read fails the sync by name; its destination copy is not deleted', () => {
  const user = ensureFtpUser();
  chmodSync(base, 0o755);
  const src = join(base, 'src');
  const dst = join(base, 'dst');
  mkdirSync(join(src, 'locked'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'a\n');
  writeFileSync(join(src, 'locked/b.txt'), 'b\n');
  mkdirSync(join(dst, 'locked'), { recursive: true });
  writeFileSync(join(dst, 'locked/b.txt'), 'my copy\n');
  writeFileSync(join(dst, 'orphan'), 'not in the source\n');
  for (const p of [src, join(src, 'a.txt'), join(src, 'locked'), join(src, 'locked/b.txt'), dst, join(dst, 'locked'), join(dst, 'locked/b.txt'), join(dst, 'orphan')]) chownSync(p, user.uid, user.gid);
  chmodSync(join(src, 'locked'), 0o000);
  const r = spawnSync(process.execPath, [omirrBinPath, 'sync', src, dst, '--delete', '--json'], {
    encoding: 'utf8',
    uid: user.uid,
    gid: user.gid,
    env: { ...process.env, OMIRR_LOG_LEVEL: 'warn', HOME: base },
  });
  assert.equal(r.status, 1, r.stderr + r.stdout);
  const out = JSON.parse(r.stdout);
  assert.deepEqual((out.failed as Array<{ path: string }>).map((f) => f.path), ['locked']);
  assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'a\n');
  assert.equal(readFileSync(join(dst, 'locked/b.txt'), 'utf8'), 'my copy\n');
  assert.equal(existsSync(join(dst, 'orphan')), false);
});
