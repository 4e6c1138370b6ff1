// After a burst (a big scan), the daemon gives V8's young generation back: the collection
// right after the burst cannot (V8 shrinks it only at a collection that sees a low
// allocation rate over its last 5 s), so collectAfterBurst collects again once idle. The
// test grows the young generation to its maximum with surviving objects, as the load and
// scan of a big index do, and waits for the idle collections (their event, with a
// deadline) until it has come back down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectAfterBurst, newSpaceBytes, nextIdleCollection } from '../../src/daemon/memory.js';

test('the young generation grown by a burst is given back once the process is idle', async () => {
  let keep: { a: number; b: string }[] | null = [];
  for (let i = 0; i < 3_000_000; i++) keep.push({ a: i, b: String(i) });
  const grown = newSpaceBytes();
  keep = null;
  assert.ok(grown >= 16 * 2 ** 20, `the burst grew the young generation (${grown} bytes)`);
  assert.equal(collectAfterBurst(), true);
  // the collection right after the burst leaves it grown (what the idle one is for)
  // each idle collection (6 s apart, at most 5) is awaited; the idle timer is unref'ed, so
  // the test's own deadline timer keeps the process alive meanwhile
  let deadline: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error(`young generation still ${newSpaceBytes()} bytes after 40 s idle`)), 40_000);
  });
  try {
    while (newSpaceBytes() > 4 * 2 ** 20) await Promise.race([nextIdleCollection(), timedOut]);
  } finally {
    clearTimeout(deadline);
  }
});
