// A sender's staging directory on the receiver (src/daemon/contentStaging.ts) is kept for
// the sender's next batch while it keeps sending, and removed once it has been quiet, and
// at a stop; a batch that leaves something in it (a file in a subdirectory) never leaves it
// for the next one. Real daemons on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

test("a sender's staging directory is reused while it sends, removed once it is quiet and at a stop", async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const stage = join(c.tree('b'), '.omirr-part.stage-a');
  const put = (rel: string): void => {
    writeFileSync(join(c.dir, 'x.tmp'), randomBytes(1024));
    renameSync(join(c.dir, 'x.tmp'), join(c.tree('a'), rel));
  };

  for (let i = 0; i < 10; i++) put(`f${i}.bin`);
  await c.converge();
  // quiet: it goes (kept at most a few seconds), and nothing was left in it meanwhile
  await until(async () => (existsSync(stage) ? undefined : true), 'the staging directory to go once a is quiet', 20_000);

  // files in a subdirectory: the directory is not kept with them in it
  mkdirSync(join(c.tree('a'), 'sub'));
  put('sub/g.bin');
  await c.converge();
  await until(async () => (!existsSync(stage) || readdirSync(stage).length === 0 ? true : undefined), 'nothing left staged', 20_000);

  // a stop right after a batch: the kept directory goes with the daemon
  put('last.bin');
  await c.converge();
  assert.equal(await c.stop('b'), 0, c.procs.get('b')!.stderr());
  assert.equal(existsSync(stage), false, 'no staging directory left after a stop');
});

test('killed -9 while its staging directory is kept: the restart removes it', async (t) => {
  const c = await Cluster.create(['a', 'b']);
  t.after(() => c.close());
  await c.startAll();
  await c.waitLive();
  const stage = join(c.tree('b'), '.omirr-part.stage-a');
  writeFileSync(join(c.dir, 'x.tmp'), randomBytes(1024));
  renameSync(join(c.dir, 'x.tmp'), join(c.tree('a'), 'f.bin'));
  await c.converge();
  await c.kill9('b');
  if (!existsSync(stage)) t.diagnostic('the staging directory was gone before the kill (a slow moment): the restart is checked all the same');
  await c.start('b');
  await c.waitLive();
  await until(async () => (existsSync(stage) ? undefined : true), 'no staging directory after the restart', 10_000);
});
