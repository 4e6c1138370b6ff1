// The watcher drops the echo of the daemon's own placing before it becomes a batch
// (TreeReplica.ownEcho: the file as lstat'ed after its event is exactly what was placed,
// inode, size and mtime to the microsecond). Real daemons on 127.0.0.1. The adversary:
// a user's write of the same size landing right after a placing must still be seen and
// sent, never taken for the echo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const shaOf = (file: string): string | undefined => {
  try {
    return sha(readFileSync(file));
  } catch {
    return undefined;
  }
};

test('a placed file is not echoed back; a same-size write right after a placing is sent', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const treeStats = async (n: string) => (await c.status(n)).trees[0]!.stats!;
  const sent = async (n: string) => (await c.status(n)).peers[0]!.recordsSent;

  // 1. a's files reach b; b's watcher sees its own placings and sends nothing back
  const [b0, sentB0] = [await treeStats('b'), await sent('b')];
  for (let i = 0; i < 5; i++) {
    writeFileSync(join(c.dir, 'x.tmp'), randomBytes(4096));
    renameSync(join(c.dir, 'x.tmp'), join(c.tree('a'), `quiet${i}.bin`));
  }
  await c.converge();
  await until(async () => ((await c.status('b')).trees[0]!.state.endsWith('live') ? true : undefined), 'b live');
  const b1 = await treeStats('b');
  assert.ok(b1.echoesDropped > b0.echoesDropped, `b's watcher dropped the echoes of its placings (${b0.echoesDropped} -> ${b1.echoesDropped})`);
  assert.equal((await sent('b')) - sentB0, 0, 'b echoed nothing back');

  // 2. the race: as soon as a file lands on b, a user there rewrites it in place with as
  //    many bytes; every such write must reach a (none mistaken for the placing's echo)
  const N = 30;
  const mine: string[] = [];
  for (let i = 0; i < N; i++) {
    const theirs = randomBytes(4096);
    const f = `race${i}.bin`;
    writeFileSync(join(c.dir, 'r.tmp'), theirs);
    renameSync(join(c.dir, 'r.tmp'), join(c.tree('a'), f));
    await until(async () => (shaOf(join(c.tree('b'), f)) === sha(theirs) ? true : undefined), `${f} on b`, 20_000, 1);
    const ours = randomBytes(4096);
    writeFileSync(join(c.tree('b'), f), ours);
    mine.push(sha(ours));
  }
  for (let i = 0; i < N; i++) {
    const f = `race${i}.bin`;
    await until(async () => (shaOf(join(c.tree('a'), f)) === mine[i] ? true : undefined), `b's write of ${f} on a`, 30_000);
  }
  const snap = await c.converge();
  for (let i = 0; i < N; i++) assert.ok(snap[`race${i}.bin`]?.startsWith(`file:${mine[i]}:`), `race${i}.bin holds b's write`);
});
