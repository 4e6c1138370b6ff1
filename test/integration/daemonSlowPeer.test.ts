// "One slow, stopped or cut-off peer never delays the others": three daemons; while c is
// fetching a large file from b, b is frozen (SIGSTOP). a's next change must still reach c
// promptly: c's fetch from b waits outside c's tree queue. After SIGCONT all converge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

const BIG = 96 * 1024 * 1024;

test('a peer frozen in the middle of a large transfer does not hold up the changes of the others', async (t) => {
  const c = await Cluster.create(['a', 'b', 'c']);
  let frozen = false;
  t.after(async () => {
    if (frozen) c.procs.get('b')?.proc.kill('SIGCONT');
    await c.close();
  });
  await c.startAll();
  await c.waitLive();
  const stage = join(c.tree('c'), '.omirr-part.stage-b');

  // Freeze b while c is receiving from it. The transfer may be over before the freeze lands
  // (a fast moment of the machine): then try again with another file.
  let big = '';
  // "Receiving" = a temporary file with bytes in it in c's staging directory for b (the
  // directory alone may be left from the previous attempt's batch, removed just after it).
  const receiving = (): boolean => {
    try {
      return readdirSync(stage).some((n) => statSync(join(stage, n)).size > 0);
    } catch {
      return false;
    }
  };
  for (let attempt = 1; attempt <= 5 && !frozen; attempt++) {
    big = `big-${attempt}.bin`;
    writeFileSync(join(c.tree('b'), big), Buffer.alloc(BIG, attempt));
    await until(async () => (receiving() ? true : undefined), 'c to start fetching from b', 30_000, 2);
    c.procs.get('b')!.proc.kill('SIGSTOP');
    frozen = true;
    if (existsSync(join(c.tree('c'), big))) {
      // too late: the file was complete already
      c.procs.get('b')!.proc.kill('SIGCONT');
      frozen = false;
      await c.converge(['a', 'b', 'c'], 60_000);
    }
  }
  assert.ok(frozen, 'b was frozen during a transfer to c');
  t.diagnostic(`b frozen while c fetched ${big}`);

  const t0 = Date.now();
  writeFileSync(join(c.tree('a'), 'hello.txt'), 'from a, while b is frozen\n');
  await until(
    async () => {
      try {
        return readFileSync(join(c.tree('c'), 'hello.txt'), 'utf8') === 'from a, while b is frozen\n' ? true : undefined;
      } catch {
        return undefined;
      }
    },
    "a's change to reach c while b is frozen",
    10_000,
    5,
  );
  const ms = Date.now() - t0;
  t.diagnostic(`a -> c while b was frozen: ${ms} ms`);
  assert.ok(!existsSync(join(c.tree('c'), big)), 'the large file from b was still on its way');

  c.procs.get('b')!.proc.kill('SIGCONT');
  frozen = false;
  const snap = await c.converge(['a', 'b', 'c'], 90_000);
  assert.match(snap[big]!, /^file:/);
  assert.match(snap['hello.txt']!, /^file:/);
  // kept for the sender's next batch, removed after 2 s of quiet (src/daemon/contentStaging.ts)
  await until(async () => (existsSync(stage) ? undefined : true), "c's staging directory to be gone once the transfer is done", 15_000);
});
