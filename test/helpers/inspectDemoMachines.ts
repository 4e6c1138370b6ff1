// Small machines shaped like omirr's (a supervisor with peer links) for inspector
// tests: they exercise nesting, parallel regions, after delays (fixed and named),
// always transitions, guards, invoked children and final states.
import { assign, sendTo, setup } from 'xstate';

export const demoPeerLink = setup({
  types: {} as {
    context: { peer: string; attempts: number; outbox: number; bytesSent: number };
    input: { peer: string };
    events: { type: 'CONNECTED' } | { type: 'LOST' } | { type: 'CHANGE'; bytes: number } | { type: 'STOP' };
  },
  delays: { retryDelay: ({ context }) => Math.min(30_000, 1000 * 2 ** context.attempts) },
  guards: { hasOutbox: ({ context }) => context.outbox > 0 },
}).createMachine({
  id: 'demoPeerLink',
  context: ({ input }) => ({ peer: input.peer, attempts: 0, outbox: 0, bytesSent: 0 }),
  initial: 'connecting',
  on: { STOP: '.stopped' },
  states: {
    connecting: {
      on: { CONNECTED: 'connected', LOST: 'backoff' },
      after: { 10_000: 'backoff' },
    },
    connected: {
      initial: 'idle',
      entry: assign({ attempts: 0 }),
      on: { LOST: 'backoff', CHANGE: { target: '.sending', actions: assign({ outbox: ({ context }) => context.outbox + 1 }) } },
      states: {
        idle: { always: { guard: 'hasOutbox', target: 'sending' } },
        sending: {
          after: {
            50: { target: 'idle', actions: assign({ outbox: 0, bytesSent: ({ context }) => context.bytesSent + 1 }) },
          },
        },
      },
    },
    backoff: {
      entry: assign({ attempts: ({ context }) => context.attempts + 1 }),
      after: { retryDelay: 'connecting' },
    },
    stopped: { type: 'final' },
  },
});

export const demoSupervisor = setup({
  types: {} as { events: { type: 'TO_PEER'; peer: string; event: { type: 'CONNECTED' } | { type: 'LOST' } | { type: 'STOP' } } | { type: 'SHUTDOWN' } },
  actors: { peerLink: demoPeerLink },
}).createMachine({
  id: 'demoSupervisor',
  initial: 'running',
  states: {
    running: {
      type: 'parallel',
      invoke: [
        { id: 'peer:alpha', src: 'peerLink', input: { peer: 'alpha' } },
        { id: 'peer:beta', src: 'peerLink', input: { peer: 'beta' } },
      ],
      on: {
        TO_PEER: { actions: sendTo(({ event }) => `peer:${event.peer}`, ({ event }) => event.event) },
        SHUTDOWN: 'done',
      },
      states: {
        links: { initial: 'watching', states: { watching: {} } },
        scans: { initial: 'idle', states: { idle: { after: { 60_000: 'rescanning' } }, rescanning: { after: { 10: 'idle' } } } },
      },
    },
    done: { type: 'final' },
  },
});
