// The I/O behind a peer link's `session` actor (src/machines/peerLink.ts): one connection to
// one peer. It opens a channel (TCP, TLS, handshake), reports CONN.OPENED / CONN.HANDSHAKEN,
// then streams that peer's outbox from its acknowledged cursor: read a batch, deliver it,
// acknowledge what the peer confirmed, wait for more appends. Any failure is CONN.LOST; the
// machine backs off and starts a fresh session, which resends everything not acknowledged,
// so nothing is lost across cut connections or restarts of either side.
//
// The channel is an interface so the link logic does not depend on the transport:
// netPeerChannel() below is the omirr protocol one (src/net), tests use in-memory ones.
import { fromCallback } from 'xstate';
import type { Outbox, OutboxRecord } from './outbox.js';
import type { PeerLinkEvent, PeerSessionInput } from '../machines/peerLink.js';
import type { Connection } from '../net/connection.js';
import type { Session } from '../net/handshake.js';

export interface DeliverResult {
  /** Highest sequence number the peer has applied (or durably queued); may trail the batch. */
  ackedSeq: number;
  files?: number;
  bytes?: number;
}

/** An open, authenticated connection to a peer, as far as the link needs it. */
export interface PeerChannel {
  readonly remoteNode: string;
  /** The peer's clock minus ours, measured at the handshake. */
  readonly clockOffsetMs: number;
  readonly rttMs?: number;
  /** Sends change records, in order; resolves with the peer's acknowledgement. */
  deliver(records: OutboxRecord<unknown>[]): Promise<DeliverResult>;
  /** Resolves (with the reason) when the connection ends, for whatever cause. */
  readonly closed: Promise<Error>;
  close(): void;
}

export type OpenPeerChannel = (input: PeerSessionInput, signal: AbortSignal) => Promise<PeerChannel>;

export interface PeerSessionOptions<T> {
  /** The peer's outbox, or how to find it from the session's input (one logic for all links). */
  outbox: Outbox<T> | ((input: PeerSessionInput) => Outbox<T>);
  open: OpenPeerChannel;
  /** Records per delivery. Default 256. */
  batchRecords?: number;
  /** Deliveries sent before the oldest is answered (pipelining). Default 4. */
  inFlight?: number;
  /** Bytes per delivery, roughly. Default 1 MiB. */
  batchBytes?: number;
  now?: () => number;
  /**
   * Where each delivery's counts go (the daemon: forwardOutboxStats's `sent`, carried by the
   * next OUTBOX.CHANGED for many deliveries); without it each delivery sends its own LINK.SENT.
   */
  reportSent?: (input: PeerSessionInput, d: SentFigures) => void;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The actor logic to provide as the peer link's `session`. */
export function peerSessionLogic<T>(opts: PeerSessionOptions<T>) {
  const batch = opts.batchRecords ?? 256;
  const batchBytes = opts.batchBytes ?? 1024 * 1024;
  const inFlight = Math.max(1, opts.inFlight ?? 4);
  const now = opts.now ?? Date.now;
  return fromCallback<{ type: string }, PeerSessionInput>(({ sendBack, input }) => {
    const send = sendBack as (e: PeerLinkEvent) => void;
    const outbox = typeof opts.outbox === 'function' ? opts.outbox(input) : opts.outbox;
    const ac = new AbortController();
    let channel: PeerChannel | undefined;
    let appended = 0;
    let wake: (() => void) | undefined;
    const onAppend = (): void => {
      appended++;
      wake?.();
    };
    outbox.on('append', onAppend);

    const run = async (): Promise<void> => {
      const ch = await opts.open(input, ac.signal);
      channel = ch;
      if (ac.signal.aborted) {
        ch.close();
        return;
      }
      const lost = ch.closed.then((err) => Promise.reject(err));
      lost.catch(() => undefined);
      send({ type: 'CONN.OPENED' });
      send({ type: 'CONN.HANDSHAKEN', clockOffsetMs: ch.clockOffsetMs, rttMs: ch.rttMs, remoteNode: ch.remoteNode, at: now() });
      // Resend from the acknowledged cursor: what was in flight on a previous connection
      // may never have arrived.
      let cursor = outbox.ackedSeq;
      // Deliveries in flight, oldest first. Up to `inFlight` at once, so the peer applies one
      // batch while the next is on its way and this side reads the one after (a burst no
      // longer waits a full round trip, apply included, per batch). The peer answers each
      // once it is durable there; only the oldest answer moves the acknowledged cursor, so a
      // later batch answered first never acknowledges an earlier one that may still fail
      // (a failure ends the session, and the next resends from the cursor).
      // Only whole batches go out while others are in flight: a part batch waits for the
      // answers, so that a peer that keeps up still gets records in few, large batches (on a
      // busy machine, many small batches cost more per record than the overlap gains).
      const flight: Array<{ recs: OutboxRecord<T>[]; done: Promise<DeliverResult>; settled: boolean }> = [];
      let lastWhole = false;
      while (!ac.signal.aborted) {
        const seen = appended;
        if (flight.length === 0 || (flight.length < inFlight && lastWhole)) {
          const recs = await outbox.read(cursor, batch, batchBytes);
          if (ac.signal.aborted) return;
          const whole = recs.length >= batch;
          lastWhole = whole;
          if (recs.length > 0 && (flight.length === 0 || whole)) {
            const f = { recs, done: ch.deliver(recs as OutboxRecord<unknown>[]), settled: false };
            f.done.then(
              () => (f.settled = true),
              () => (f.settled = true),
            );
            flight.push(f);
            cursor = recs[recs.length - 1]!.seq;
            continue;
          }
        }
        const head = flight[0];
        if (!head) {
          if (appended !== seen) continue;
          await Promise.race([new Promise<void>((r) => (wake = r)), lost]);
          wake = undefined;
          continue;
        }
        // the oldest answer, or (with room for another whole batch) new appends, whichever first
        const more = flight.length < inFlight && lastWhole && appended === seen ? new Promise<void>((r) => (wake = r)) : undefined;
        await Promise.race(more ? [head.done, more, lost] : [head.done, lost]);
        wake = undefined;
        if (!head.settled) continue;
        const res = await head.done;
        flight.shift();
        const last = head.recs[head.recs.length - 1]!.seq;
        const d = { records: head.recs.length, files: res.files ?? 0, bytes: res.bytes ?? 0 };
        if (opts.reportSent) {
          // counted before the acknowledgement: a drain it brings shows them with it
          opts.reportSent(input, d);
          outbox.ack(Math.min(res.ackedSeq, last));
        } else {
          outbox.ack(Math.min(res.ackedSeq, last));
          send({ type: 'LINK.SENT', ...d });
        }
      }
    };
    run().catch((err) => {
      if (!ac.signal.aborted) send({ type: 'CONN.LOST', error: message(err) });
    });

    return () => {
      ac.abort();
      outbox.off('append', onAppend);
      wake?.();
      channel?.close();
    };
  });
}

/** How long a peer link's outbox figures and sent counts may trail the outbox (forwardOutboxStats). */
export const OUTBOX_FIGURES_MS = 1000;

/** What one delivery sent (added up into the next OUTBOX.CHANGED by forwardOutboxStats). */
export interface SentFigures {
  records: number;
  files: number;
  bytes: number;
}

/**
 * Keeps a peer link's outbox figures (depth, oldest pending change) and sent counts
 * current: sends OUTBOX.CHANGED now, and after appends and acknowledgements at most every
 * OUTBOX_FIGURES_MS; an outbox that drains is told at once (the link goes from catchingUp
 * to live on it). `sent(d)` adds a delivery's counts to the next OUTBOX.CHANGED (its
 * `sent`: one event for both, where a LINK.SENT and an OUTBOX.CHANGED were two). Returns the
 * unsubscribe, whose `flush()` sends what is held back at once (a status request).
 */
export function forwardOutboxStats(outbox: Outbox<unknown>, send: (e: PeerLinkEvent) => void): (() => void) & { flush(): void; sent(d: SentFigures): void } {
  let shownDepth = -1;
  const held: SentFigures = { records: 0, files: 0, bytes: 0 };
  const update = (): void => {
    // the sent counts ride on the figures' event: one machine step, not two
    const sent = held.records > 0 || held.files > 0 || held.bytes > 0 ? { ...held } : undefined;
    held.records = held.files = held.bytes = 0;
    const s = outbox.stats();
    shownDepth = s.depth;
    send({ type: 'OUTBOX.CHANGED', headSeq: s.headSeq, ackedSeq: s.ackedSeq, oldestPendingAt: s.oldestPendingAt, ...(sent ? { sent } : {}) });
  };
  // Held back: every change is appended to and acknowledged by each peer's outbox, each
  // event is a step of the link machine, and each delivery was one more (LINK.SENT); with 16
  // peers that was 48 machine steps per small write, about a fifth of the sending daemon's
  // CPU. The figures are only shown (omirr status, which flushes them, metrics, the
  // inspector), so they may trail the outbox; a drain is what the machine acts on.
  let pending: NodeJS.Timeout | undefined;
  const soon = (): void => {
    if (outbox.depth === 0 && shownDepth !== 0) {
      clearTimeout(pending);
      pending = undefined;
      update();
      return;
    }
    pending ??= setTimeout(() => {
      pending = undefined;
      update();
    }, OUTBOX_FIGURES_MS);
    pending.unref();
  };
  outbox.on('append', soon);
  outbox.on('ack', soon);
  update();
  const unsubscribe = (): void => {
    clearTimeout(pending);
    pending = undefined;
    outbox.off('append', soon);
    outbox.off('ack', soon);
  };
  /** The figures now (a status request: it must not show a depth up to a second old). */
  const flush = (): void => {
    if (!pending) return;
    clearTimeout(pending);
    pending = undefined;
    update();
  };
  const sent = (d: SentFigures): void => {
    held.records += d.records;
    held.files += d.files;
    held.bytes += d.bytes;
    soon();
  };
  return Object.assign(unsubscribe, { flush, sent });
}

/** The protocol request that carries change records to a peer (answered by the receiving daemon). */
export const PEER_CHANGES_OP = 'peer.changes';

/**
 * A PeerChannel over an open omirr protocol connection: each delivery is one
 * `peer.changes` request whose items are the records (as `toItems` dresses them: the
 * daemon adds small files' contents); the answer's result is `{ ackedSeq, files?, bytes? }`.
 */
export function netPeerChannel(conn: Connection, session: Session, rttMs?: number, toItems?: (records: OutboxRecord<unknown>[]) => unknown[]): PeerChannel {
  const closed = conn.closed.then(() => conn.closeReason ?? new Error('connection closed'));
  return {
    remoteNode: session.peer,
    clockOffsetMs: session.clockOffsetMs ?? 0,
    rttMs,
    async deliver(records) {
      const res = await conn.request(PEER_CHANGES_OP, { first: records[0]?.seq, last: records[records.length - 1]?.seq }, toItems ? toItems(records) : records);
      const r = res.result as Partial<DeliverResult> | null;
      if (!r || typeof r.ackedSeq !== 'number' || !Number.isSafeInteger(r.ackedSeq)) {
        throw new Error(`${conn.label}: ${PEER_CHANGES_OP}: answer without ackedSeq`);
      }
      return { ackedSeq: r.ackedSeq, files: typeof r.files === 'number' ? r.files : 0, bytes: typeof r.bytes === 'number' ? r.bytes : 0 };
    },
    closed,
    close() {
      conn.close('link stopped');
    },
  };
}
