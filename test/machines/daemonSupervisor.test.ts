import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorRef } from 'xstate';
import { daemonSupervisorMachine, type DaemonPlan, type TreeSpec } from '../../src/machines/daemonSupervisor.js';
import { peerLinkMachine, peerLinkState, type PeerLinkSnapshot } from '../../src/machines/peerLink.js';

function harness(plan: DaemonPlan) {
  const clock = new SimulatedClock();
  const sessions: Array<{ peer: string; address: string; stopped: boolean }> = [];
  const trees: Array<{ name: string; stopped: boolean; drain?: () => void }> = [];
  let shutdowns = 0;
  const link = peerLinkMachine.provide({
    actors: {
      session: fromCallback<{ type: string }, { peer: string; address: string }>(({ input, sendBack }) => {
        const s = { ...input, stopped: false };
        sessions.push(s);
        sendBack({ type: 'CONN.LOST', error: 'refused' });
        return () => {
          s.stopped = true;
        };
      }),
    },
  });
  const actor = createActor(
    daemonSupervisorMachine.provide({
      actors: {
        peerLink: link,
        // A tree with a write in flight: it answers DRAIN only when the test says so.
        tree: fromCallback<{ type: string }, TreeSpec>(({ input, receive, sendBack }) => {
          const t: { name: string; stopped: boolean; drain?: () => void } = { name: input.name, stopped: false };
          receive((e) => {
            if (e.type === 'DRAIN') t.drain = () => sendBack({ type: 'TREE.DRAINED', tree: input.name });
          });
          trees.push(t);
          return () => {
            t.stopped = true;
          };
        }),
        shutdown: fromPromise(async () => {
          shutdowns++;
        }),
      },
    }),
    { clock, input: { plan, seed: 1, drainTimeoutMs: 5000 } },
  ).start();
  const children = () => actor.getSnapshot().children as Record<string, AnyActorRef>;
  return { actor, clock, sessions, trees, children, shutdowns: () => shutdowns };
}

const plan = (peers: Array<[string, string | null, string?]>, trees: string[]): DaemonPlan => ({
  node: 'alpha',
  peers: peers.map(([name, address, fp]) => ({ name, address, fingerprint: fp ?? null })),
  trees: trees.map((name) => ({ name, path: `/srv/${name}`, peers: [], writable: true })),
});

test('one link per peer with an address, one actor per tree', () => {
  const h = harness(plan([['beta', '10.0.0.2:7878'], ['gamma', '10.0.0.3:7878'], ['delta', null]], ['www', 'etc']));
  assert.deepEqual(Object.keys(h.children()).sort(), ['peer:beta', 'peer:gamma', 'tree:etc', 'tree:www']);
  assert.deepEqual(h.sessions.map((s) => s.peer).sort(), ['beta', 'gamma']);
  h.actor.stop();
});

test('reload adds, removes and restarts only what changed; waiting links retry at once', () => {
  const h = harness(plan([['beta', '10.0.0.2:7878'], ['gamma', '10.0.0.3:7878']], ['www']));
  const beta = h.children()['peer:beta']!;
  assert.equal(peerLinkState(beta.getSnapshot() as PeerLinkSnapshot), 'backingOff');
  const sessionsBefore = h.sessions.length;

  h.actor.send({ type: 'RELOAD', plan: plan([['beta', '10.0.0.2:7878'], ['gamma', '10.0.0.9:7878'], ['eps', '10.0.0.5:7878']], ['www', 'new']) });
  const c = h.children();
  assert.deepEqual(Object.keys(c).sort(), ['peer:beta', 'peer:eps', 'peer:gamma', 'tree:new', 'tree:www']);
  assert.equal(c['peer:beta'], beta, 'unchanged peer keeps its actor');
  assert.equal(h.trees.filter((t) => t.name === 'www').length, 1, 'unchanged tree not restarted');
  assert.equal((c['peer:gamma']!.getSnapshot() as PeerLinkSnapshot).context.address, '10.0.0.9:7878', 'changed peer restarted with the new address');
  // beta was backing off: RELOAD made it retry without waiting for its timer.
  assert.ok(h.sessions.slice(sessionsBefore).some((s) => s.peer === 'beta'));
  assert.equal(h.actor.getSnapshot().context.reloads, 1);

  h.actor.send({ type: 'RELOAD', plan: plan([['eps', '10.0.0.5:7878']], []) });
  assert.deepEqual(Object.keys(h.children()), ['peer:eps']);
  assert.ok(h.trees.every((t) => t.stopped));

  h.actor.send({ type: 'RELOAD_FAILED', error: 'x.conf:3: bad' });
  assert.equal(h.actor.getSnapshot().context.lastReloadError, 'x.conf:3: bad');
  assert.deepEqual(Object.keys(h.children()), ['peer:eps'], 'a failed reload changes nothing');
  h.actor.stop();
});

test('STOP: links stop at once, trees finish their writes, then shutdown runs once and it ends', async () => {
  const h = harness(plan([['beta', '10.0.0.2:7878']], ['www', 'etc']));
  h.actor.send({ type: 'STOP' });
  assert.deepEqual(h.actor.getSnapshot().value, { stopping: 'draining' });
  assert.ok(h.sessions.every((s) => s.stopped), 'nothing new goes out');
  assert.ok(h.trees.every((t) => !t.stopped && t.drain), 'every tree was asked to drain');
  h.trees[0]!.drain!();
  assert.deepEqual(h.actor.getSnapshot().value, { stopping: 'draining' }, 'waits for every tree');
  h.trees[1]!.drain!();
  await new Promise((r) => setImmediate(r));
  assert.equal(h.actor.getSnapshot().status, 'done');
  assert.equal(h.shutdowns(), 1);
  assert.ok(h.trees.every((t) => t.stopped));
});

test('STOP does not wait forever for a stuck tree', async () => {
  const h = harness(plan([], ['www']));
  h.actor.send({ type: 'STOP' });
  h.clock.increment(4999);
  assert.deepEqual(h.actor.getSnapshot().value, { stopping: 'draining' });
  h.clock.increment(1);
  await new Promise((r) => setImmediate(r));
  assert.equal(h.actor.getSnapshot().status, 'done');
  assert.equal(h.shutdowns(), 1);
});
