// "One slow, stopped or cut-off peer never delays the others": three daemons; while c is
// fetching a large file from b, b is frozen (SIGSTOP). a's next change must still reach c
// promptly: c's fetch from b waits outside c's tree queue. After SIGCONT all converge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, until } from '../helpers/daemonFixtures.js';

const MiB = 1024 * 1024;
/** The large file's size at the first attempt, and how much larger it is at each next one. */
const BIG = 96 * MiB;
const STEP = 64 * MiB;

/**
 * At most how many bytes can still reach c once b is frozen: b's socket send buffer and c's
 * receive buffer (the kernel's TCP autotuning maxima; tcp_rmem is 32 MiB on some machines)
 * plus c's own stream buffers (16 MiB is generous). A load-20 run froze b in time but the
 * file completed from these buffers.
 */
function inFlightMax(): number {
  const max = (f: string, fallback: number): number => {
    try {
      const v = Number(readFileSync(f, 'utf8').trim().split(/\s+/)[2]);
      return Number.isFinite(v) && v > 0 ? v : fallback;
    } catch {
      return fallback;
    }
  };
  return max('/proc/sys/net/ipv4/tcp_wmem', 4 * MiB) + max('/proc/sys/net/ipv4/tcp_rmem', 32 * MiB) + 16 * MiB;
}

test('a peer frozen in the middle of a large transfer does not hold up the changes of the others', async (t) => {
  // a and b are not linked: b's large file can reach c only from b. In a full mesh a may get
  // it first and pass it on, and c then completes it from a while b is frozen (seen at load 20)
  const c = await Cluster.create(['a', 'b', 'c'], { links: [['a', 'c'], ['b', 'c']] });
  let frozen = false;
  t.after(async () => {
    if (frozen) c.procs.get('b')?.proc.kill('SIGCONT');
    await c.close();
  });
  await c.startAll();
  await c.waitLive();
  const stage = join(c.tree('c'), '.omirr-part.stage-b');

  // Freeze b while c is receiving from it. The transfer may be over before the freeze lands
  // (a fast moment of the machine), or so nearly over that what was already in flight
  // completes it anyway: then try again with a larger file.
  let big = '';
  let bigSize = 0;
  // "Receiving" = a temporary file with bytes in it in c's staging directory for b (the
  // directory alone may be left from the previous attempt's batch, removed just after it).
  const received = (): number => {
    try {
      return Math.max(0, ...readdirSync(stage).map((n) => statSync(join(stage, n)).size));
    } catch {
      return 0;
    }
  };
  const inFlight = inFlightMax();
  for (let attempt = 1; attempt <= 5 && !frozen; attempt++) {
    big = `big-${attempt}.bin`;
    bigSize = BIG + (attempt - 1) * STEP;
    writeFileSync(join(c.tree('b'), big), Buffer.alloc(bigSize, attempt));
    await until(async () => (received() > 0 ? true : undefined), 'c to start fetching from b', 30_000, 2);
    c.procs.get('b')!.proc.kill('SIGSTOP');
    frozen = true;
    // Read after the freeze: from now on c can only get what was in flight, so with more than
    // that still missing the file cannot complete while b is frozen.
    const missing = bigSize - received();
    if (existsSync(join(c.tree('c'), big)) || missing <= inFlight) {
      // too late: the file was complete already, or may complete from the buffers
      t.diagnostic(`attempt ${attempt}: froze b with ${missing} of ${bigSize} bytes missing (in flight up to ${inFlight}): again`);
      c.procs.get('b')!.proc.kill('SIGCONT');
      frozen = false;
      await c.converge(['a', 'b', 'c'], 90_000);
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
  // an emptied staging directory is kept for the sender's next batch and goes after 2 s
  // of quiet (src/daemon/contentStaging.ts): gone soon after the transfer, not at once
  await until(async () => (existsSync(stage) ? undefined : true), "c's staging directory to be gone once the transfer is done", 15_000);
});
