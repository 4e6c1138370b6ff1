import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromCallback, SimulatedClock, type AnyEventObject } from 'xstate';
import { nextRandom } from '../../src/core/random.js';
import {
  backoffBounds,
  backoffDelay,
  clockOffset,
  peerLinkMachine,
  peerLinkState,
  peerStatus,
  type BackoffPolicy,
  type PeerLinkEvent,
} from '../../src/machines/peerLink.js';

interface FakeSession {
  sendBack: (e: PeerLinkEvent) => void;
  stopped: boolean;
  received: AnyEventObject[];
}

const policy: BackoffPolicy = { initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0.5 };

function startLink(opts: { seed?: number; paused?: boolean } = {}) {
  const clock = new SimulatedClock();
  const sessions: FakeSession[] = [];
  const session = fromCallback<AnyEventObject, { peer: string; address: string }>(({ sendBack, receive }) => {
    const s: FakeSession = { sendBack: sendBack as (e: PeerLinkEvent) => void, stopped: false, received: [] };
    receive((e) => s.received.push(e));
    sessions.push(s);
    return () => {
      s.stopped = true;
    };
  });
  const actor = createActor(peerLinkMachine.provide({ actors: { session } }), {
    clock,
    input: {
      peer: 'beta',
      address: '127.0.0.1:7878',
      backoff: policy,
      seed: opts.seed ?? 42,
      connectTimeoutMs: 5000,
      handshakeTimeoutMs: 3000,
      paused: opts.paused,
    },
  }).start();
  const state = () => peerLinkState(actor.getSnapshot());
  const last = () => sessions[sessions.length - 1]!;
  return { clock, sessions, actor, state, last };
}

test('backoffDelay stays within its bounds and is capped', () => {
  let rng = 7;
  for (let attempt = 0; attempt < 12; attempt++) {
    for (let i = 0; i < 50; i++) {
      const [r, next] = nextRandom(rng);
      rng = next;
      assert.ok(r >= 0 && r < 1);
      const d = backoffDelay(attempt, policy, r);
      const { min, max } = backoffBounds(attempt, policy);
      assert.ok(d >= min && d <= max, `attempt ${attempt}: ${d} not in [${min}, ${max}]`);
      assert.ok(max <= policy.maxMs);
    }
  }
  assert.deepEqual(backoffBounds(0, policy), { min: 500, max: 1000 });
  assert.deepEqual(backoffBounds(3, policy), { min: 4000, max: 8000 });
  assert.deepEqual(backoffBounds(10, policy), { min: 4000, max: 8000 });
});

test('clockOffset: NTP midpoint of one exchange', () => {
  assert.deepEqual(clockOffset(1000, 6010, 1020), { offsetMs: 5000, rttMs: 20 });
  assert.deepEqual(clockOffset(1000, 995, 1010), { offsetMs: -10, rttMs: 10 });
});

test('connect failures back off exponentially with exact, seeded jitter, then reconnect', () => {
  const { clock, sessions, actor, state, last } = startLink({ seed: 42 });
  assert.equal(state(), 'connecting');
  assert.equal(sessions.length, 1);

  // Reproduce the machine's draws: the same seed gives the same delays.
  let rng = 42;
  for (let attempt = 0; attempt < 6; attempt++) {
    last().sendBack({ type: 'CONN.LOST', error: 'ECONNREFUSED' });
    assert.equal(state(), 'backingOff');
    assert.equal(last().stopped, true, 'leaving online stops the session (closes the socket)');
    const [r, next] = nextRandom(rng);
    rng = next;
    const expected = backoffDelay(attempt, policy, r);
    const ctx = actor.getSnapshot().context;
    assert.equal(ctx.retryDelayMs, expected);
    const { min, max } = backoffBounds(attempt, policy);
    assert.ok(expected >= min && expected <= max);
    assert.equal(ctx.lastError, 'ECONNREFUSED');
    assert.equal(peerStatus(actor.getSnapshot(), 0).retryDelayMs, expected);

    clock.increment(expected - 1);
    assert.equal(state(), 'backingOff', 'not a millisecond early');
    const before: number = sessions.length;
    clock.increment(1);
    assert.equal(state(), 'connecting');
    assert.equal(sessions.length, before + 1, 'a fresh session per attempt');
  }
  actor.stop();
  assert.equal(last().stopped, true);
});

test('reconnect → handshake → catching up drains the outbox → live; cut-off mid-live → backoff', () => {
  const { clock, actor, state, last } = startLink();
  // The daemon appended 3 changes while the peer was away.
  actor.send({ type: 'OUTBOX.CHANGED', headSeq: 3, ackedSeq: 0, oldestPendingAt: 1000 });
  last().sendBack({ type: 'CONN.LOST', error: 'ECONNREFUSED' });
  clock.increment(actor.getSnapshot().context.retryDelayMs);
  assert.equal(state(), 'connecting');

  last().sendBack({ type: 'CONN.OPENED' });
  assert.equal(state(), 'handshaking');
  last().sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: -42, rttMs: 3, remoteNode: 'beta', at: 5000 });
  assert.equal(state(), 'catchingUp');
  let ctx = actor.getSnapshot().context;
  assert.equal(ctx.clockOffsetMs, -42);
  assert.equal(ctx.attempt, 0, 'a good handshake resets the backoff');
  assert.equal(ctx.connects, 1);

  // The session sends the backlog; acks arrive.
  last().sendBack({ type: 'LINK.SENT', records: 2, files: 2, bytes: 300 });
  last().sendBack({ type: 'OUTBOX.CHANGED', headSeq: 3, ackedSeq: 2, oldestPendingAt: 1100 });
  assert.equal(state(), 'catchingUp');
  const st = peerStatus(actor.getSnapshot(), 2100);
  assert.equal(st.outboxDepth, 1);
  assert.equal(st.lagMs, 1000);
  last().sendBack({ type: 'LINK.SENT', records: 1, files: 1, bytes: 100 });
  last().sendBack({ type: 'OUTBOX.CHANGED', headSeq: 3, ackedSeq: 3, oldestPendingAt: null });
  assert.equal(state(), 'live');
  ctx = actor.getSnapshot().context;
  assert.deepEqual([ctx.recordsSent, ctx.filesSent, ctx.bytesSent, ctx.outboxDepth], [3, 3, 400, 0]);
  assert.equal(peerStatus(actor.getSnapshot(), 9999).lagMs, 0);
  assert.equal(peerStatus(actor.getSnapshot(), 9999).connectedSince, new Date(5000).toISOString());

  // New changes while live keep it live (lag shows a slow peer).
  actor.send({ type: 'OUTBOX.CHANGED', headSeq: 4, ackedSeq: 3, oldestPendingAt: 6000 });
  assert.equal(state(), 'live');

  // Cut off mid-live.
  const live = last();
  live.sendBack({ type: 'CONN.LOST', error: 'ECONNRESET' });
  assert.equal(state(), 'backingOff');
  assert.equal(live.stopped, true);
  const d = actor.getSnapshot().context.retryDelayMs;
  const b = backoffBounds(0, policy);
  assert.ok(d >= b.min && d <= b.max, 'first failure after live uses the initial delay');
  assert.equal(peerStatus(actor.getSnapshot(), 0).connectedSince, null);

  // Returns: a handshake with an outbox still holding seq 4 goes through catchingUp.
  clock.increment(d);
  last().sendBack({ type: 'CONN.OPENED' });
  last().sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: 7 });
  assert.equal(state(), 'catchingUp');
  last().sendBack({ type: 'OUTBOX.CHANGED', headSeq: 4, ackedSeq: 4, oldestPendingAt: null });
  assert.equal(state(), 'live');
  assert.equal(actor.getSnapshot().context.clockOffsetMs, 7, 'offset re-measured at each handshake');
  assert.equal(actor.getSnapshot().context.connects, 2);
  actor.stop();
});

test('an empty outbox goes straight from handshake to live', () => {
  const { actor, state, last } = startLink();
  last().sendBack({ type: 'CONN.OPENED' });
  last().sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: 0 });
  assert.equal(state(), 'live');
  actor.stop();
});

test('connect and handshake timeouts back off', () => {
  const { clock, actor, state, last } = startLink();
  clock.increment(4999);
  assert.equal(state(), 'connecting');
  clock.increment(1);
  assert.equal(state(), 'backingOff');
  assert.equal(actor.getSnapshot().context.lastError, 'connect timed out');
  clock.increment(actor.getSnapshot().context.retryDelayMs);
  last().sendBack({ type: 'CONN.OPENED' });
  clock.increment(3000);
  assert.equal(state(), 'backingOff');
  assert.equal(actor.getSnapshot().context.lastError, 'handshake timed out');
  assert.equal(actor.getSnapshot().context.attempt, 2);
  // RETRY_NOW (e.g. SIGHUP) skips the rest of the wait.
  actor.send({ type: 'RETRY_NOW' });
  assert.equal(state(), 'connecting');
  actor.stop();
});

test('pause stops the session wherever it is; resume reconnects at once', () => {
  const { clock, sessions, actor, state, last } = startLink();
  last().sendBack({ type: 'CONN.OPENED' });
  last().sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: 0 });
  assert.equal(state(), 'live');
  const s = last();
  actor.send({ type: 'PAUSE' });
  assert.equal(state(), 'paused');
  assert.equal(s.stopped, true);
  clock.increment(10 * 60_000);
  assert.equal(state(), 'paused', 'no timer runs while paused');
  assert.equal(sessions.length, 1);
  actor.send({ type: 'PAUSE' });
  assert.equal(state(), 'paused');
  actor.send({ type: 'RESUME' });
  assert.equal(state(), 'connecting');
  assert.equal(sessions.length, 2);

  // Paused from backingOff: the pending retry timer is cancelled.
  last().sendBack({ type: 'CONN.LOST', error: 'x' });
  assert.equal(state(), 'backingOff');
  actor.send({ type: 'PAUSE' });
  clock.increment(60_000);
  assert.equal(state(), 'paused');
  assert.equal(sessions.length, 2);
  actor.stop();
});

test('a link can start paused', () => {
  const { sessions, actor, state } = startLink({ paused: true });
  assert.equal(state(), 'paused');
  assert.equal(sessions.length, 0);
  actor.send({ type: 'RESUME' });
  assert.equal(state(), 'connecting');
  assert.equal(sessions.length, 1);
  actor.stop();
});

test('links are independent: one peer backing off does not hold up another', () => {
  const a = startLink({ seed: 1 });
  const b = startLink({ seed: 2 });
  a.last().sendBack({ type: 'CONN.LOST', error: 'down' });
  b.last().sendBack({ type: 'CONN.OPENED' });
  b.last().sendBack({ type: 'CONN.HANDSHAKEN', clockOffsetMs: 1 });
  assert.equal(a.state(), 'backingOff');
  assert.equal(b.state(), 'live');
  a.actor.stop();
  b.actor.stop();
});
