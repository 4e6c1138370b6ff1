// A directory the daemon cannot read (a user's chmod 000, with the daemon not running as
// root) is unknown to its scan, not empty: before, the next full scan (a restart) took every
// file under it as deleted and sent the deletes, and a peer running as root removed them.
// Now the scan keeps them (PlanOptions' skipShadow over the walk's skips): `a` runs as the
// vsftpd fixture's system user, `b` as root; after `a` restarts with `d` unreadable, `b`
// still has `d/x.txt`, the trees converge (the directory's new mode mirrored), and `a`'s
// status lists `d` as out of sync.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../helpers/daemonFixtures.js';
import { ensureFtpUser } from '../helpers/vsftpdServer.js';

let c: Cluster;

before(async () => {
  c = await Cluster.create(['a', 'b']);
});

after(async () => {
  await c?.close();
});

test('a directory the daemon cannot read is not taken as deleted: its files stay on the peers', async () => {
  const user = ensureFtpUser();
  mkdirSync(join(c.tree('a'), 'd'));
  writeFileSync(join(c.tree('a'), 'd/x.txt'), 'keep me\n');
  writeFileSync(join(c.tree('a'), 'top.txt'), 'top\n');
  await c.start('a', {}, user);
  await c.start('b');
  await c.waitLive();
  await c.converge();
  assert.equal(readFileSync(join(c.tree('b'), 'd/x.txt'), 'utf8'), 'keep me\n');

  assert.equal(await c.stop('a'), 0);
  chmodSync(join(c.tree('a'), 'd'), 0o000); // owned by a's user, who now cannot list it
  await c.start('a', {}, user);
  await c.waitLive();
  await c.converge();
  assert.equal(readFileSync(join(c.tree('b'), 'd/x.txt'), 'utf8'), 'keep me\n');
  // and it is loud: `omirr status` lists the directory as out of sync
  const t = (await c.status('a')).trees[0]!;
  assert.equal(t.outOfSync, 1);
  assert.deepEqual(t.outOfSyncItems?.map((i) => i.path), ['d']);
});
