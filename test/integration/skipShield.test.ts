// What a source has but does not mirror (a fifo; a name its listing cannot carry; a
// directory it cannot list) is still the source's: `omirr sync --delete` must not delete
// the destination's entry of that path as an orphan (PlanOptions.srcSkipped). Checked with
// a local source and an FTP site (vsftpd lists the fifo, the driver leaves it out), each
// against a destination whose `pipe` is a regular file from before; a real orphan beside it
// still goes. And an FTP directory the server cannot read, which vsftpd's LIST -R leaves
// out (no section: it looked empty) and its CWD refuses (550): before, --delete emptied the
// local copy of it; now the sync fails by name and the copy stays.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOmirr } from '../helpers/omirrRun.js';
import { removeDir, tempDir } from '../helpers/engineFixtures.js';
import { startVsftpd, type VsftpdServer } from '../helpers/vsftpdServer.js';


const omirr = (args: string[]) => runOmirr(args);

let base: string;
let site: string;
let ftp: VsftpdServer;

before(async () => {
  base = tempDir('skip-shield');
  site = join(base, 'site');
  mkdirSync(join(site, 'd'), { recursive: true });
  writeFileSync(join(site, 'a.txt'), 'a\n');
  spawnSync('mkfifo', [join(site, 'd/pipe')]);
  assert.ok(statSync(join(site, 'd/pipe')).isFIFO(), 'mkfifo made the fifo');
  ftp = await startVsftpd({ root: site });
});

after(async () => {
  await ftp?.stop();
  if (base) removeDir(base);
});

function destination(name: string): string {
  const dst = join(base, name);
  mkdirSync(join(dst, 'd'), { recursive: true });
  writeFileSync(join(dst, 'd/pipe'), 'a regular file from before\n');
  writeFileSync(join(dst, 'orphan'), 'not on the source\n');
  return dst;
}

for (const [how, source] of [
  ['a local source', () => site],
  ['an FTP site', () => ftp.url('/')],
] as const) {
  test(`${how}'s fifo keeps the destination's entry of its path under --delete; an orphan goes`, () => {
    const dst = destination(how.replace(/\W+/g, '-'));
    const r = omirr(['sync', source(), dst, '--delete', '--json']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(readFileSync(join(dst, 'd/pipe'), 'utf8'), 'a regular file from before\n');
    assert.equal(existsSync(join(dst, 'orphan')), false);
    assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'a\n');
  });
}

for (const how of ['one LIST -R', 'directory by directory'] as const) {
  test(`an FTP directory the server cannot read (${how}) fails by name; its local copy is not deleted`, async () => {
    const root = join(base, `locked-site-${how.replace(/\W+/g, '-')}`);
    mkdirSync(join(root, 'locked'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'a\n');
    writeFileSync(join(root, 'locked/b.txt'), 'b\n');
    // owned by root, mode 0700: the anonymous login (vsftpd's ftp user) cannot read it
    chmodSync(join(root, 'locked'), 0o700);
    const server = await startVsftpd({ root, lsRecurse: how === 'one LIST -R' });
    try {
      const dst = join(base, `locked-dst-${how.replace(/\W+/g, '-')}`);
      mkdirSync(join(dst, 'locked'), { recursive: true });
      writeFileSync(join(dst, 'locked/b.txt'), 'my copy\n');
      writeFileSync(join(dst, 'locked/older.txt'), 'also mine\n');
      writeFileSync(join(dst, 'orphan'), 'not on the site\n');
      const r = omirr(['sync', server.url('/'), dst, '--delete', '--json']);
      assert.equal(r.status, 1, r.stderr + r.stdout);
      const out = JSON.parse(r.stdout);
      assert.deepEqual((out.failed as Array<{ path: string }>).map((f) => f.path), ['locked']);
      assert.equal(readFileSync(join(dst, 'locked/b.txt'), 'utf8'), 'my copy\n');
      assert.equal(readFileSync(join(dst, 'locked/older.txt'), 'utf8'), 'also mine\n');
      assert.equal(existsSync(join(dst, 'orphan')), false, 'the rest of the tree is still mirrored');
      assert.equal(readFileSync(join(dst, 'a.txt'), 'utf8'), 'a\n');
    } finally {
      await server.stop();
    }
  });
}
