// One peer link: the actor that pushes this node's changes to one peer, from that peer's
// own durable outbox (src/actors/outbox.ts). Each peer has its own link, so a slow,
// stopped or cut-off peer only grows its own outbox and never delays the others.
//
//   online ── connecting ─CONN.OPENED→ handshaking ─CONN.HANDSHAKEN→ catchingUp ─(outbox drained)→ live
//     │ CONN.LOST / timeouts
//     ▼
//   backingOff ─(exponential delay with jitter)→ online.connecting
//   paused  ←PAUSE (anywhere)   RESUME→ online.connecting
//
// Pure: no I/O here. The connection lives in the invoked `session` actor (provided by the
// daemon, see src/actors/peerSession.ts when present): entering `online` starts a session,
// leaving it (lost connection, pause, stop) stops it, and the session's cleanup closes the
// socket. The session reports CONN.* events; whoever owns the outbox reports OUTBOX.CHANGED.
// Backoff jitter comes from a seeded PRNG kept in the context, so a run is reproducible and
// tests with xstate's SimulatedClock know every delay exactly.
import { assign, fromCallback, setup, type SnapshotFrom } from 'xstate';
import { nextRandom } from '../core/random.js';

export interface BackoffPolicy {
  /** Delay after the first failure. */
  initialMs: number;
  /** Ceiling of the exponential growth. */
  maxMs: number;
  factor: number;
  /** Fraction of the delay that is randomised away: the delay lies in [base*(1-jitter), base]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** The delay before reconnect attempt `attempt` (0 = after the first failure); r in [0, 1). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, r: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return Math.round(base * (1 - policy.jitter * r));
}

/** The bounds backoffDelay() stays within for an attempt, whatever the random draw. */
export function backoffBounds(attempt: number, policy: BackoffPolicy): { min: number; max: number } {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return { min: Math.round(base * (1 - policy.jitter)), max: Math.round(base) };
}

/**
 * Clock offset of a peer from one request/response (NTP's formula with one sample):
 * sent at local t0, the peer answered with its clock `peerNow`, received at local t1.
 * Positive: the peer's clock is ahead of ours.
 */
export function clockOffset(t0: number, peerNow: number, t1: number): { offsetMs: number; rttMs: number } {
  return { offsetMs: Math.round(peerNow - (t0 + t1) / 2), rttMs: t1 - t0 };
}

export interface PeerLinkInput {
  /** The peer's node name (omirr.conf `peer = NAME HOST:PORT FINGERPRINT`). */
  peer: string;
  /** HOST:PORT. */
  address: string;
  backoff?: Partial<BackoffPolicy>;
  /** Seed of the jitter PRNG (default: fixed; the daemon passes a random one). */
  seed?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Start in `paused` (e.g. a peer disabled in the configuration). */
  paused?: boolean;
}

export interface PeerLinkContext {
  peer: string;
  address: string;
  backoff: BackoffPolicy;
  rng: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  startPaused: boolean;
  /** Failed attempts since the last successful handshake. */
  attempt: number;
  /** The delay chosen for the current (or last) backingOff. */
  retryDelayMs: number;
  lastError: string | null;
  /** Measured at each handshake; null until the first one. */
  clockOffsetMs: number | null;
  rttMs: number | null;
  remoteNode: string | null;
  /** When the current connection completed its handshake (ms since epoch), or null. */
  connectedSince: number | null;
  /** Outbox: records appended, acknowledged; depth = head - acked. */
  headSeq: number;
  ackedSeq: number;
  outboxDepth: number;
  /** Append time of the oldest unacknowledged change; lag = now - this. */
  oldestPendingAt: number | null;
  recordsSent: number;
  filesSent: number;
  bytesSent: number;
  connects: number;
}

export type PeerLinkEvent =
  | { type: 'CONN.OPENED' }
  | { type: 'CONN.HANDSHAKEN'; clockOffsetMs: number; rttMs?: number; remoteNode?: string; at?: number }
  | { type: 'CONN.LOST'; error: string }
  /** The outbox's figures; with `sent`, what deliveries sent since the last report (one event for both: forwardOutboxStats). */
  | { type: 'OUTBOX.CHANGED'; headSeq: number; ackedSeq: number; oldestPendingAt: number | null; sent?: { records: number; files: number; bytes: number } }
  | { type: 'LINK.SENT'; records?: number; files?: number; bytes?: number }
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'RETRY_NOW' };

/** What the `session` actor is started with. */
export interface PeerSessionInput {
  peer: string;
  address: string;
}

const noSession = fromCallback<{ type: string }, PeerSessionInput>(() => undefined);

export const peerLinkMachine = setup({
  types: {
    context: {} as PeerLinkContext,
    events: {} as PeerLinkEvent,
    input: {} as PeerLinkInput,
  },
  actors: {
    /** Owns one connection: connect, TLS, handshake, then stream the outbox; reports CONN.*. */
    session: noSession,
  },
  delays: {
    backoff: ({ context }) => context.retryDelayMs,
    connectTimeout: ({ context }) => context.connectTimeoutMs,
    handshakeTimeout: ({ context }) => context.handshakeTimeoutMs,
  },
  guards: {
    outboxDrained: ({ context }) => context.outboxDepth === 0,
  },
  actions: {
    planRetry: assign(({ context }) => {
      const [r, rng] = nextRandom(context.rng);
      return { rng, retryDelayMs: backoffDelay(context.attempt, context.backoff, r), attempt: context.attempt + 1, connectedSince: null };
    }),
    recordError: assign({ lastError: (_, params: { error: string }) => params.error }),
  },
}).createMachine({
  id: 'peerLink',
  context: ({ input }) => ({
    peer: input.peer,
    address: input.address,
    backoff: { ...DEFAULT_BACKOFF, ...input.backoff },
    rng: (input.seed ?? 0x5eed) >>> 0,
    connectTimeoutMs: input.connectTimeoutMs ?? 10_000,
    handshakeTimeoutMs: input.handshakeTimeoutMs ?? 10_000,
    startPaused: input.paused ?? false,
    attempt: 0,
    retryDelayMs: 0,
    lastError: null,
    clockOffsetMs: null,
    rttMs: null,
    remoteNode: null,
    connectedSince: null,
    headSeq: 0,
    ackedSeq: 0,
    outboxDepth: 0,
    oldestPendingAt: null,
    recordsSent: 0,
    filesSent: 0,
    bytesSent: 0,
    connects: 0,
  }),
  initial: 'start',
  on: {
    'OUTBOX.CHANGED': {
      actions: assign(({ context, event }) => ({
        headSeq: event.headSeq,
        ackedSeq: event.ackedSeq,
        outboxDepth: Math.max(0, event.headSeq - event.ackedSeq),
        oldestPendingAt: event.headSeq > event.ackedSeq ? event.oldestPendingAt : null,
        ...(event.sent
          ? { recordsSent: context.recordsSent + event.sent.records, filesSent: context.filesSent + event.sent.files, bytesSent: context.bytesSent + event.sent.bytes }
          : {}),
      })),
    },
    'LINK.SENT': {
      actions: assign(({ context, event }) => ({
        recordsSent: context.recordsSent + (event.records ?? 0),
        filesSent: context.filesSent + (event.files ?? 0),
        bytesSent: context.bytesSent + (event.bytes ?? 0),
      })),
    },
    PAUSE: { target: '.paused' },
  },
  states: {
    start: {
      always: [{ guard: ({ context }) => context.startPaused, target: 'paused' }, { target: 'online' }],
    },
    online: {
      invoke: {
        id: 'session',
        src: 'session',
        input: ({ context }) => ({ peer: context.peer, address: context.address }),
      },
      on: {
        'CONN.LOST': {
          target: 'backingOff',
          actions: { type: 'recordError', params: ({ event }) => ({ error: event.error }) },
        },
      },
      initial: 'connecting',
      states: {
        connecting: {
          on: { 'CONN.OPENED': 'handshaking' },
          after: {
            connectTimeout: {
              target: '#peerLink.backingOff',
              actions: { type: 'recordError', params: { error: 'connect timed out' } },
            },
          },
        },
        handshaking: {
          on: {
            'CONN.HANDSHAKEN': {
              target: 'catchingUp',
              actions: assign(({ context, event }) => ({
                clockOffsetMs: event.clockOffsetMs,
                rttMs: event.rttMs ?? null,
                remoteNode: event.remoteNode ?? context.remoteNode,
                connectedSince: event.at ?? null,
                attempt: 0,
                lastError: null,
                connects: context.connects + 1,
              })),
            },
          },
          after: {
            handshakeTimeout: {
              target: '#peerLink.backingOff',
              actions: { type: 'recordError', params: { error: 'handshake timed out' } },
            },
          },
        },
        catchingUp: {
          always: { guard: 'outboxDrained', target: 'live' },
        },
        live: {},
      },
    },
    backingOff: {
      entry: 'planRetry',
      after: { backoff: 'online' },
      on: { RETRY_NOW: 'online' },
    },
    paused: {
      entry: assign({ connectedSince: null }),
      on: {
        PAUSE: {},
        RESUME: { target: 'online', actions: assign({ attempt: 0 }) },
      },
    },
  },
});

export type PeerLinkSnapshot = SnapshotFrom<typeof peerLinkMachine>;

/** The leaf state a link is in, as named in docs and `omirr status`. */
export type PeerLinkState = 'connecting' | 'handshaking' | 'catchingUp' | 'live' | 'backingOff' | 'paused';

/** Every PeerLinkState (e.g. for the omirr_peer_state metric's labels). */
export const PEER_LINK_STATES: readonly PeerLinkState[] = ['connecting', 'handshaking', 'catchingUp', 'live', 'backingOff', 'paused'];

export function peerLinkState(snapshot: PeerLinkSnapshot): PeerLinkState {
  const v = snapshot.value as string | Record<string, string>;
  if (typeof v === 'string') return (v === 'start' ? 'connecting' : v) as PeerLinkState;
  return (v.online ?? 'connecting') as PeerLinkState;
}

/** What `omirr status` shows for one peer. */
export interface PeerStatus {
  name: string;
  address: string;
  state: PeerLinkState;
  remoteNode: string | null;
  clockOffsetMs: number | null;
  rttMs: number | null;
  connectedSince: string | null;
  outboxDepth: number;
  /** Age of the oldest change the peer has not acknowledged (0 when none). */
  lagMs: number;
  attempt: number;
  retryDelayMs: number | null;
  lastError: string | null;
  recordsSent: number;
  filesSent: number;
  bytesSent: number;
  connects: number;
}

export function peerStatus(snapshot: PeerLinkSnapshot, now: number): PeerStatus {
  const c = snapshot.context;
  const state = peerLinkState(snapshot);
  return {
    name: c.peer,
    address: c.address,
    state,
    remoteNode: c.remoteNode,
    clockOffsetMs: c.clockOffsetMs,
    rttMs: c.rttMs,
    connectedSince: c.connectedSince === null ? null : new Date(c.connectedSince).toISOString(),
    outboxDepth: c.outboxDepth,
    lagMs: c.oldestPendingAt === null || c.outboxDepth === 0 ? 0 : Math.max(0, now - c.oldestPendingAt),
    attempt: c.attempt,
    retryDelayMs: state === 'backingOff' ? c.retryDelayMs : null,
    lastError: c.lastError,
    recordsSent: c.recordsSent,
    filesSent: c.filesSent,
    bytesSent: c.bytesSent,
    connects: c.connects,
  };
}
