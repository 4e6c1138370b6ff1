import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createActor, waitFor } from 'xstate';
import { Outbox, type OutboxRecord } from '../../src/actors/outbox.js';
import { forwardOutboxStats, netPeerChannel, peerSessionLogic, PEER_CHANGES_OP, type OpenPeerChannel, type PeerChannel } from '../../src/actors/peerSession.js';
import { peerLinkMachine, peerLinkState } from '../../src/machines/peerLink.js';
import { Connection } from '../../src/net/connection.js';
import { clientHandshake, serverHandshake } from '../../src/net/handshake.js';

interface Change {
  path: string;
}

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omirr-session-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An in-memory peer: up or down, optionally stalled; records what it applied. */
class FakePeer {
  up = false;
  stalled = false;
  applied: number[] = [];
  opens = 0;
  private cut: ((e: Error) => void) | undefined;

  readonly open: OpenPeerChannel = async () => {
    this.opens++;
    if (!this.up) throw new Error('ECONNREFUSED');
    let resolveClosed!: (e: Error) => void;
    const closed = new Promise<Error>((r) => (resolveClosed = r));
    this.cut = resolveClosed;
    const ch: PeerChannel = {
      remoteNode: 'beta',
      clockOffsetMs: 25,
      rttMs: 1,
      deliver: async (records: OutboxRecord<unknown>[]) => {
        if (this.stalled) await new Promise(() => undefined);
        for (const r of records) if (!this.applied.includes(r.seq)) this.applied.push(r.seq);
        return { ackedSeq: records[records.length - 1]!.seq, files: records.length, bytes: 10 * records.length };
      },
      closed,
      close: () => resolveClosed(new Error('closed by us')),
    };
    return ch;
  };

  cutConnection(): void {
    this.cut?.(new Error('ECONNRESET'));
  }
}

async function startLink(box: Outbox<Change>, peer: FakePeer) {
  const logic = peerLinkMachine.provide({ actors: { session: peerSessionLogic({ outbox: box, open: peer.open }) } });
  const actor = createActor(logic, {
    input: { peer: 'beta', address: 'mem', backoff: { initialMs: 10, maxMs: 40, factor: 2, jitter: 0.5 }, seed: 3 },
  });
  const unforward = forwardOutboxStats(box as Outbox<unknown>, (e) => actor.send(e));
  actor.start();
  return {
    actor,
    state: () => peerLinkState(actor.getSnapshot()),
    stop: () => {
      unforward();
      actor.stop();
    },
  };
}

test('a peer away at the start gets every change when it returns, then live updates', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir });
  const peer = new FakePeer();
  const link = await startLink(box, peer);
  for (let i = 1; i <= 50; i++) await box.append({ path: `f${i}` });
  await waitFor(link.actor, (s) => peerLinkState(s) === 'backingOff');
  // the link's figures trail its outbox by up to OUTBOX_FIGURES_MS
  await waitFor(link.actor, (s) => s.context.outboxDepth === 50);
  assert.equal(link.actor.getSnapshot().context.lastError, 'ECONNREFUSED');

  peer.up = true;
  await waitFor(link.actor, (s) => peerLinkState(s) === 'live', { timeout: 5000 });
  assert.deepEqual(peer.applied, Array.from({ length: 50 }, (_, i) => i + 1));
  await waitFor(link.actor, (s) => s.context.outboxDepth === 0);
  const ctx = link.actor.getSnapshot().context;
  assert.equal(ctx.outboxDepth, 0);
  assert.equal(ctx.clockOffsetMs, 25);
  assert.equal(ctx.recordsSent, 50);

  // Live: a new change goes out at once.
  await box.append({ path: 'late' });
  await until(() => peer.applied.length === 51, 'the live change');
  await until(() => box.depth === 0, 'its ack');

  // Cut off mid-live: back off, reconnect, carry on.
  peer.cutConnection();
  await waitFor(link.actor, (s) => peerLinkState(s) === 'backingOff');
  for (let i = 0; i < 5; i++) await box.append({ path: `while-cut-${i}` });
  await waitFor(link.actor, (s) => peerLinkState(s) === 'live', { timeout: 5000 });
  await until(() => peer.applied.length === 56, 'the changes made while cut off');
  assert.deepEqual(peer.applied, Array.from({ length: 56 }, (_, i) => i + 1));
  link.stop();
  await box.close();
});

test('after a restart of the sending side, only unacknowledged changes are resent', async (t) => {
  const dir = tmpdir(t);
  let box = await Outbox.open<Change>({ dir });
  const peer = new FakePeer();
  peer.up = true;
  let link = await startLink(box, peer);
  for (let i = 1; i <= 10; i++) await box.append({ path: `f${i}` });
  await until(() => box.depth === 0, 'first ten acknowledged');
  link.stop();
  peer.up = false;
  for (let i = 11; i <= 15; i++) await box.append({ path: `f${i}` });
  await box.close(); // the daemon stops

  box = await Outbox.open<Change>({ dir }); // and starts again
  assert.equal(box.depth, 5);
  peer.up = true;
  link = await startLink(box, peer);
  await waitFor(link.actor, (s) => peerLinkState(s) === 'live', { timeout: 5000 });
  assert.deepEqual(peer.applied, Array.from({ length: 15 }, (_, i) => i + 1));
  link.stop();
  await box.close();
});

test('a stalled peer never delays another', async (t) => {
  const dirA = tmpdir(t);
  const dirB = tmpdir(t);
  const boxA = await Outbox.open<Change>({ dir: dirA });
  const boxB = await Outbox.open<Change>({ dir: dirB });
  const fast = new FakePeer();
  const slow = new FakePeer();
  fast.up = slow.up = true;
  slow.stalled = true;
  const a = await startLink(boxA, fast);
  const b = await startLink(boxB, slow);
  // The daemon appends every change to both outboxes.
  for (let i = 1; i <= 300; i++) await Promise.all([boxA.append({ path: `f${i}` }), boxB.append({ path: `f${i}` })]);
  await until(() => fast.applied.length === 300, 'the fast peer');
  await until(() => boxA.depth === 0, 'the fast peer acks');
  assert.equal(slow.applied.length, 0);
  assert.equal(boxB.depth, 300);
  assert.equal(peerLinkState(a.actor.getSnapshot()), 'live');
  // The stalled link is connected (it was live before the burst); its outbox holds the burst.
  // (The links' figures trail their outboxes by up to OUTBOX_FIGURES_MS.)
  await until(() => b.actor.getSnapshot().context.outboxDepth === 300 && a.actor.getSnapshot().context.outboxDepth === 0, 'the figures');
  a.stop();
  b.stop();
  await boxA.close();
  await boxB.close();
});

test('netPeerChannel: records travel as peer.changes requests over a real connection', async (t) => {
  const dir = tmpdir(t);
  const received: number[] = [];
  const serverConns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    serverConns.add(sock);
    const conn = new Connection(sock, { role: 'server' });
    void serverHandshake(conn, {}, { mode: 'ssh', node: 'beta', peers: [] }).then(() =>
      conn.open(async (req) => {
        assert.equal(req.op, PEER_CHANGES_OP);
        for (const r of req.items as Array<{ seq: number }>) received.push(r.seq);
        return { result: { ackedSeq: (req.items[req.items.length - 1] as { seq: number }).seq, files: req.items.length, bytes: 0 } };
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;

  const open: OpenPeerChannel = async () => {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const conn = new Connection(sock, { role: 'client' });
    const session = await clientHandshake(conn, {}, { mode: 'ssh', node: 'alpha' });
    conn.open();
    return netPeerChannel(conn, session);
  };
  const box = await Outbox.open<Change>({ dir });
  const logic = peerLinkMachine.provide({ actors: { session: peerSessionLogic({ outbox: box, open, batchRecords: 64 }) } });
  const actor = createActor(logic, { input: { peer: 'beta', address: `127.0.0.1:${port}`, backoff: { initialMs: 10, maxMs: 40 } } });
  const unforward = forwardOutboxStats(box as Outbox<unknown>, (e) => actor.send(e));
  actor.start();
  for (let i = 1; i <= 200; i++) void box.append({ path: `f${i}` });
  await until(() => received.length >= 200 && box.depth === 0, 'delivery over the wire');
  assert.deepEqual(received, Array.from({ length: 200 }, (_, i) => i + 1));
  assert.equal(peerLinkState(actor.getSnapshot()), 'live');
  assert.equal(actor.getSnapshot().context.remoteNode, 'beta');
  assert.equal(typeof actor.getSnapshot().context.clockOffsetMs, 'number');

  // The peer drops the connection: the link notices and comes back.
  const before = actor.getSnapshot().context.connects;
  for (const s of serverConns) s.destroy();
  await waitFor(actor, (s) => s.context.connects > before && peerLinkState(s) === 'live', { timeout: 5000 });
  await box.append({ path: 'after-reconnect' });
  await until(() => received.includes(201), 'delivery after the reconnect');
  unforward();
  actor.stop();
  for (const s of serverConns) s.destroy();
  await box.close();
});

test('pipelined batches: a later answer never acknowledges an earlier batch that fails; part batches go one at a time', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir });
  // 600 records: two whole batches of 256 (pipelined) and a part batch of 88
  for (let i = 1; i <= 600; i++) void box.append({ path: `f${i}` });
  await box.sync();
  const applied = new Set<number>();
  let sessions = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let ackedWhenFirstFailed = -1;
  const open: OpenPeerChannel = async () => {
    const session = ++sessions;
    let calls = 0;
    let resolveClosed!: (e: Error) => void;
    const closed = new Promise<Error>((r) => (resolveClosed = r));
    let secondAnswered!: () => void;
    const second = new Promise<void>((r) => (secondAnswered = r));
    return {
      remoteNode: 'beta',
      clockOffsetMs: 0,
      deliver: async (records: OutboxRecord<unknown>[]) => {
        const call = ++calls;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          if (session === 1 && call === 1) {
            // the first batch fails, but only after the second one was answered
            await second;
            await new Promise((r) => setTimeout(r, 20));
            ackedWhenFirstFailed = box.ackedSeq;
            throw new Error('the first batch could not be applied');
          }
          await new Promise((r) => setImmediate(r));
          for (const r of records) applied.add(r.seq);
          if (session === 1 && call === 2) secondAnswered();
          return { ackedSeq: records[records.length - 1]!.seq };
        } finally {
          inFlight--;
        }
      },
      closed,
      close: () => resolveClosed(new Error('closed by us')),
    };
  };
  const logic = peerLinkMachine.provide({ actors: { session: peerSessionLogic({ outbox: box, open }) } });
  const actor = createActor(logic, { input: { peer: 'beta', address: 'mem', backoff: { initialMs: 10, maxMs: 40, factor: 2, jitter: 0.5 }, seed: 3 } });
  actor.start();
  await until(() => box.depth === 0, 'everything acknowledged after the resend');
  assert.equal(ackedWhenFirstFailed, 0, 'the second answer acknowledged records of the first batch');
  assert.ok(sessions >= 2, 'the failure ended the session');
  assert.equal(maxInFlight >= 2, true, 'whole batches were not pipelined');
  assert.deepEqual([...applied].sort((a, b) => a - b), Array.from({ length: 600 }, (_, i) => i + 1));
  actor.stop();

  // a peer that keeps up: records trickling in go one part batch at a time
  maxInFlight = 0;
  const actor2 = createActor(logic, { input: { peer: 'beta', address: 'mem' } });
  actor2.start();
  for (let i = 1; i <= 20; i++) {
    void box.append({ path: `g${i}` });
    await new Promise((r) => setImmediate(r));
  }
  await until(() => box.depth === 0, 'the trickle acknowledged');
  assert.equal(maxInFlight, 1);
  actor2.stop();
  await box.close();
});

test('the daemon wiring: many deliveries make few link events (the sent counts ride on OUTBOX.CHANGED), exact once flushed; a drain is shown at once', async (t) => {
  const dir = tmpdir(t);
  const box = await Outbox.open<Change>({ dir });
  const peer = new FakePeer();
  peer.up = true;
  const events: string[] = [];
  let fwd: ReturnType<typeof forwardOutboxStats> | undefined;
  const logic = peerLinkMachine.provide({ actors: { session: peerSessionLogic({ outbox: box, open: peer.open, reportSent: (_i, d) => fwd!.sent(d) }) } });
  const actor = createActor(logic, { input: { peer: 'beta', address: 'mem', seed: 3 } });
  fwd = forwardOutboxStats(box as Outbox<unknown>, (e) => {
    events.push(e.type);
    actor.send(e);
  });
  t.after(() => {
    fwd!();
    actor.stop();
  });
  actor.start();
  await waitFor(actor, (s) => peerLinkState(s) === 'live', { timeout: 5000 });
  // whenever the outbox is drained, the link's context says so in the same turn (the
  // forwarder's listener runs first): the machine acts on a drain, it must not trail it
  let drainsSeenLate = 0;
  box.on('ack', () => {
    if (box.depth === 0 && actor.getSnapshot().context.outboxDepth !== 0) drainsSeenLate++;
  });
  const N = 20;
  for (let i = 1; i <= N; i++) {
    await box.append({ path: `f${i}` });
    await until(() => box.depth === 0, `record ${i} acknowledged`);
  }
  assert.deepEqual(peer.applied, Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(drainsSeenLate, 0);
  assert.equal(actor.getSnapshot().context.outboxDepth, 0);
  // the counts ride on the figures' event: no LINK.SENT of their own, and few events in all
  assert.equal(events.filter((e) => e === 'LINK.SENT').length, 0, 'no separate LINK.SENT events');
  assert.ok(events.length < N / 2, `${N} deliveries made ${events.length} link events`);
  events.length = 0;
  fwd.flush();
  assert.ok(events.length <= 1, 'a flush is at most one event');
  const ctx = actor.getSnapshot().context;
  assert.equal(ctx.recordsSent, N, 'every delivery counted once flushed');
  assert.equal(ctx.filesSent, N);
  assert.equal(ctx.bytesSent, 10 * N);
});

