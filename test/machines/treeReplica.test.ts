// The tree replica machine with its I/O replaced: a rescan that finds the root on another
// file system (src/replica/rootGuard.ts) stops the tree (failed) instead of going on live,
// any other rescan error goes on live; `omirr rescan` (RESCAN) in failed tries again at
// once, and the retry timer does too, on a simulated clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromCallback, fromPromise, SimulatedClock, waitFor } from 'xstate';
import { treeReplicaMachine } from '../../src/machines/treeReplica.js';
import { TreeRootChangedError } from '../../src/replica/rootGuard.js';

function start(scanResults: Array<Error | undefined>) {
  const clock = new SimulatedClock();
  const scans: string[] = [];
  const logic = treeReplicaMachine.provide({
    actors: {
      load: fromPromise<unknown, { tree: string }>(async () => undefined),
      watcher: fromCallback<{ type: string }, { tree: string; path: string }>(({ sendBack }) => {
        sendBack({ type: 'watch.ready', watched: 1 });
        return () => undefined;
      }),
      scan: fromPromise<unknown, { tree: string; subtree: string }>(async ({ input }) => {
        scans.push(input.subtree);
        const r = scanResults.shift();
        if (r) throw r;
        return undefined;
      }),
    },
  });
  const actor = createActor(logic, { input: { name: 't', path: '/t', peers: [], writable: true, retryMs: 30_000 }, clock });
  actor.start();
  return { actor, clock, scans };
}

const inState = (actor: ReturnType<typeof start>['actor'], s: string) => waitFor(actor, (x) => x.matches(s as never), { timeout: 2000 });

test('a rescan that finds the root on another file system stops the tree; RESCAN tries again at once', async () => {
  const { actor, scans } = start([undefined, new TreeRootChangedError('/t: on another file system'), undefined]);
  await inState(actor, { active: 'live' } as never);
  actor.send({ type: 'RESCAN' });
  const failed = await inState(actor, 'failed');
  assert.match(String(failed.context.lastError), /another file system/);
  actor.send({ type: 'RESCAN' });
  await inState(actor, { active: 'live' } as never);
  assert.deepEqual(scans, ['', '', '']);
  actor.stop();
});

test('any other rescan error goes on live; a failed tree retries after retryMs on the clock', async () => {
  const { actor, clock, scans } = start([undefined, new Error('EIO'), new TreeRootChangedError('/t: lost'), undefined]);
  await inState(actor, { active: 'live' } as never);
  actor.send({ type: 'RESCAN' });
  await waitFor(actor, (x) => x.matches({ active: 'live' }) && x.context.lastError === 'EIO', { timeout: 2000 });
  actor.send({ type: 'RESCAN' });
  await inState(actor, 'failed');
  clock.increment(29_999);
  assert.equal(actor.getSnapshot().matches('failed'), true);
  clock.increment(1);
  await inState(actor, { active: 'live' } as never);
  assert.equal(scans.length, 4);
  actor.stop();
});
