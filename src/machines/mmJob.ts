// One site:package of the mirror master, as an actor (pure: every I/O step is an injected
// actor, every message an injected `notify` action). Its life cycle, as mm.pl had it:
//
//   checking ──due──▶ waitingForSlot ──SLOT.GRANTED──▶ active.locking ──▶ running ──▶ recording
//      │                                                 │                              │
//      ├─timer──▶ waitingTimer ◀───── not due any more ──┤                 succeeded / failed
//      └─locked─▶ lockedElsewhere ◀── locked meanwhile ──┘
//
// One-shot (`omirr mm`): waitingTimer / lockedElsewhere end at `skipped` ("Not trying X: N
// seconds to go"), succeeded / failed at `done`. Long-running (a daemon): the same states
// wait on their `after` timer and go back to `checking`, so the job runs again when due.
// See docs/statecharts-mm.md.
import { assign, fromCallback, fromPromise, sendParent, setup, type ActorRefFrom, type EventObject } from 'xstate';
import type { SourceLoc } from '../core/mmInput.js';
import type { RetryDecision } from '../core/mmRetry.js';

/** Everything a job needs to run, fixed when its line is obeyed. */
export interface MmJobSpec {
  /** `site:package`: the key in mm.status, the -o subject, the actor id's suffix. */
  sitePackage: string;
  site: string;
  pkg: string;
  okHours: number;
  notokHours: number;
  /** The mirror template, already expanded for this job (run with /bin/sh -c). */
  command: string;
  /** Absolute home in effect when the line was read: cwd of the command, place of mm.status. */
  home: string;
  /** The job's log, relative to home: logs/<site>:<pkg>. */
  logFile: string;
  loc: SourceLoc;
}

export interface MmJobInput {
  job: MmJobSpec;
  /** Position in the input: slots are granted in this order. */
  seq: number;
  /** -t: ignore the retry timers (for the first run only in a long-running supervisor). */
  ignoreTimers: boolean;
  /** false: one pass then final (omirr mm); true: the timers fire and the job runs again. */
  longRunning: boolean;
  /** Long-running: how often to look again at a job locked by another process (default 60 s). */
  lockPollMs?: number;
  /** Long-running: wait after an I/O error before checking again (default 60 s). */
  errorRetryMs?: number;
  /** Long-running: least time between two runs, even with 0 hours (default 60 s). */
  minRerunMs?: number;
}

export type MmJobOutcome = 'succeeded' | 'failed' | 'notDue' | 'locked' | 'error';

export interface MmJobResult {
  sitePackage: string;
  outcome: MmJobOutcome;
  /** Raw wait status of the last run (0 = success). */
  waitStatus?: number;
  /** notDue: seconds until the timer expires. */
  secondsToGo?: number;
  /** locked: the live pid holding the lock. */
  lockedBy?: number;
  /** pid of the last run's process. */
  pid?: number;
  error?: string;
  /** How many times the command was started by this actor. */
  runs: number;
}

/** What the injected I/O actors receive. */
export interface MmJobIoInput {
  job: MmJobSpec;
  ignoreTimers: boolean;
}
export interface MmRecordEndInput {
  job: MmJobSpec;
  waitStatus: number;
}
/** checkStatus's output: the mm "ok_to_restart" answer. */
export interface MmStatusCheck {
  decision: RetryDecision;
}
/** lockJob's output: did we take the lock (decided again under the status-file mutex)? */
export interface MmLockOutcome extends MmStatusCheck {
  acquired: boolean;
}

/** Messages for the log; `notify` is a no-op until provided. */
export type MmJobNotice =
  | { kind: 'notDue'; sitePackage: string; secondsToGo: number }
  | { kind: 'locked'; sitePackage: string; pid: number }
  | { kind: 'started'; sitePackage: string; pid: number; command: string }
  | { kind: 'ended'; sitePackage: string; pid?: number; waitStatus: number }
  | { kind: 'error'; sitePackage: string; error: string };

/** Events the job sends to its supervisor (its parent). */
export type MmJobToSupervisorEvent =
  | { type: 'SLOT.REQUEST'; id: string; seq: number }
  | { type: 'SLOT.RELEASE'; id: string }
  | { type: 'JOB.SETTLED'; id: string; result: MmJobResult };

export type MmJobEvent =
  /** From a program or the inspector: run now, ignoring the retry timer (locks still hold). */
  | { type: 'RUN_NOW' }
  | { type: 'SLOT.GRANTED' }
  | { type: 'MIRROR.STARTED'; pid: number }
  | { type: 'MIRROR.EXITED'; waitStatus: number };

export interface MmJobContext extends Required<Omit<MmJobInput, 'job'>> {
  job: MmJobSpec;
  id: string;
  outcome?: MmJobOutcome;
  secondsToGo: number;
  lockedBy?: number;
  pid?: number;
  waitStatus?: number;
  error?: string;
  runs: number;
}

/** Wait status recorded when /bin/sh itself could not be started (as if it exited 255). */
export const SPAWN_FAILED_STATUS = 255 * 256;
/** setTimeout's limit: longer timers fire early, re-check, and wait again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function jobActorId(sitePackage: string): string {
  return `job:${sitePackage}`;
}

function notProvided(name: string): never {
  throw new Error(`mmJob: actor '${name}' was not provided`);
}

export function jobResult(c: MmJobContext): MmJobResult {
  const r: MmJobResult = { sitePackage: c.job.sitePackage, outcome: c.outcome ?? 'error', runs: c.runs };
  if (c.waitStatus !== undefined) r.waitStatus = c.waitStatus;
  if (c.outcome === 'notDue') r.secondsToGo = c.secondsToGo;
  if (c.outcome === 'locked' && c.lockedBy !== undefined) r.lockedBy = c.lockedBy;
  if (c.pid !== undefined) r.pid = c.pid;
  if (c.error !== undefined) r.error = c.error;
  return r;
}

function decisionUpdate(d: RetryDecision): Partial<MmJobContext> {
  if (d.run) return {};
  return d.reason === 'locked'
    ? { outcome: 'locked', lockedBy: d.pid }
    : { outcome: 'notDue', secondsToGo: Math.ceil(d.secondsToGo) };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export const mmJobMachine = setup({
  types: {
    context: {} as MmJobContext,
    input: {} as MmJobInput,
    events: {} as MmJobEvent,
    output: {} as MmJobResult,
  },
  actors: {
    checkStatus: fromPromise<MmStatusCheck, MmJobIoInput>(async () => notProvided('checkStatus')),
    lockJob: fromPromise<MmLockOutcome, MmJobIoInput>(async () => notProvided('lockJob')),
    /** Sends MIRROR.STARTED {pid} once the child is recorded and let run, then MIRROR.EXITED {waitStatus}. */
    runMirror: fromCallback<EventObject, MmJobIoInput>(() => notProvided('runMirror')),
    recordEnd: fromPromise<unknown, MmRecordEndInput>(async () => notProvided('recordEnd')),
  },
  actions: {
    notify: (_, _notice: MmJobNotice) => {},
    /** RUN_NOW: the next check ignores the retry timer (reset again once the run is recorded). */
    ignoreTimerOnce: assign({ ignoreTimers: true }),
    requestSlot: sendParent(({ context }): MmJobToSupervisorEvent => ({ type: 'SLOT.REQUEST', id: context.id, seq: context.seq })),
    releaseSlot: sendParent(({ context }): MmJobToSupervisorEvent => ({ type: 'SLOT.RELEASE', id: context.id })),
    reportSettled: sendParent(
      ({ context }): MmJobToSupervisorEvent => ({ type: 'JOB.SETTLED', id: context.id, result: jobResult(context) }),
    ),
  },
  guards: {
    oneShot: ({ context }) => !context.longRunning,
    exitedOk: ({ context }) => context.waitStatus === 0,
  },
  delays: {
    /** Until the retry timer expires (from ok/notok hours and the last result). */
    untilDue: ({ context }) => Math.min(MAX_TIMER_MS, Math.max(0, context.secondsToGo * 1000)),
    /** After a run: the timer, but never less than minRerunMs. */
    untilRerun: ({ context }) => Math.min(MAX_TIMER_MS, Math.max(context.minRerunMs, context.secondsToGo * 1000)),
    lockPoll: ({ context }) => context.lockPollMs,
    errorRetry: ({ context }) => context.errorRetryMs,
  },
}).createMachine({
  id: 'mmJob',
  context: ({ input }) => ({
    job: input.job,
    id: jobActorId(input.job.sitePackage),
    seq: input.seq,
    ignoreTimers: input.ignoreTimers,
    longRunning: input.longRunning,
    lockPollMs: input.lockPollMs ?? 60_000,
    errorRetryMs: input.errorRetryMs ?? 60_000,
    minRerunMs: input.minRerunMs ?? 60_000,
    secondsToGo: 0,
    runs: 0,
  }),
  initial: 'checking',
  output: ({ context }) => jobResult(context),
  states: {
    checking: {
      invoke: {
        src: 'checkStatus',
        input: ({ context }) => ({ job: context.job, ignoreTimers: context.ignoreTimers }),
        onDone: [
          { guard: ({ event }) => event.output.decision.run, target: 'waitingForSlot' },
          {
            guard: ({ event }) => !event.output.decision.run && event.output.decision.reason === 'locked',
            target: 'lockedElsewhere',
            actions: assign(({ event }) => decisionUpdate(event.output.decision)),
          },
          { target: 'waitingTimer', actions: assign(({ event }) => decisionUpdate(event.output.decision)) },
        ],
        onError: { target: 'error', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    waitingTimer: {
      entry: [
        {
          type: 'notify',
          params: ({ context }) => ({ kind: 'notDue', sitePackage: context.job.sitePackage, secondsToGo: context.secondsToGo }),
        },
        'reportSettled',
      ],
      always: { guard: 'oneShot', target: 'skipped' },
      after: { untilDue: 'checking' },
      on: { RUN_NOW: { target: 'checking', actions: 'ignoreTimerOnce' } },
    },
    lockedElsewhere: {
      entry: [
        {
          type: 'notify',
          params: ({ context }) => ({ kind: 'locked', sitePackage: context.job.sitePackage, pid: context.lockedBy ?? 0 }),
        },
        'reportSettled',
      ],
      always: { guard: 'oneShot', target: 'skipped' },
      after: { lockPoll: 'checking' },
      on: { RUN_NOW: { target: 'checking', actions: 'ignoreTimerOnce' } },
    },
    waitingForSlot: {
      entry: 'requestSlot',
      on: { 'SLOT.GRANTED': 'active' },
    },
    active: {
      // Holding one of the supervisor's `max` slots: given back however this state is left.
      exit: 'releaseSlot',
      initial: 'locking',
      states: {
        locking: {
          invoke: {
            src: 'lockJob',
            input: ({ context }) => ({ job: context.job, ignoreTimers: context.ignoreTimers }),
            onDone: [
              { guard: ({ event }) => event.output.acquired, target: 'running' },
              {
                guard: ({ event }) => !event.output.decision.run && event.output.decision.reason === 'locked',
                target: '#mmJob.lockedElsewhere',
                actions: assign(({ event }) => decisionUpdate(event.output.decision)),
              },
              { target: '#mmJob.waitingTimer', actions: assign(({ event }) => decisionUpdate(event.output.decision)) },
            ],
            onError: { target: '#mmJob.error', actions: assign({ error: ({ event }) => errorText(event.error) }) },
          },
        },
        running: {
          entry: assign({ runs: ({ context }) => context.runs + 1, pid: undefined, waitStatus: undefined, error: undefined }),
          invoke: {
            src: 'runMirror',
            input: ({ context }) => ({ job: context.job, ignoreTimers: context.ignoreTimers }),
            onError: {
              target: 'recording',
              actions: assign({ waitStatus: SPAWN_FAILED_STATUS, error: ({ event }) => errorText(event.error) }),
            },
          },
          on: {
            'MIRROR.STARTED': {
              actions: [
                assign({ pid: ({ event }) => event.pid }),
                {
                  type: 'notify',
                  params: ({ context, event }) => ({
                    kind: 'started',
                    sitePackage: context.job.sitePackage,
                    pid: event.pid,
                    command: context.job.command,
                  }),
                },
              ],
            },
            'MIRROR.EXITED': { target: 'recording', actions: assign({ waitStatus: ({ event }) => event.waitStatus }) },
          },
        },
        recording: {
          invoke: {
            src: 'recordEnd',
            input: ({ context }) => ({ job: context.job, waitStatus: context.waitStatus ?? SPAWN_FAILED_STATUS }),
            onDone: [
              // -t applies to the first run only: a long-running job then obeys its timers.
              { guard: 'exitedOk', target: '#mmJob.succeeded', actions: assign({ ignoreTimers: false }) },
              { target: '#mmJob.failed', actions: assign({ ignoreTimers: false }) },
            ],
            onError: { target: '#mmJob.error', actions: assign({ error: ({ event }) => errorText(event.error) }) },
          },
        },
      },
    },
    succeeded: {
      entry: [
        assign({ outcome: 'succeeded', secondsToGo: ({ context }) => context.job.okHours * 3600 }),
        {
          type: 'notify',
          params: ({ context }) => ({ kind: 'ended', sitePackage: context.job.sitePackage, pid: context.pid, waitStatus: 0 }),
        },
        'reportSettled',
      ],
      always: { guard: 'oneShot', target: 'done' },
      after: { untilRerun: 'checking' },
      on: { RUN_NOW: { target: 'checking', actions: 'ignoreTimerOnce' } },
    },
    failed: {
      entry: [
        assign({ outcome: 'failed', secondsToGo: ({ context }) => context.job.notokHours * 3600 }),
        {
          type: 'notify',
          params: ({ context }) => ({
            kind: 'ended',
            sitePackage: context.job.sitePackage,
            pid: context.pid,
            waitStatus: context.waitStatus ?? SPAWN_FAILED_STATUS,
          }),
        },
        'reportSettled',
      ],
      always: { guard: 'oneShot', target: 'done' },
      after: { untilRerun: 'checking' },
      on: { RUN_NOW: { target: 'checking', actions: 'ignoreTimerOnce' } },
    },
    error: {
      entry: [
        assign({ outcome: 'error' }),
        {
          type: 'notify',
          params: ({ context }) => ({ kind: 'error', sitePackage: context.job.sitePackage, error: context.error ?? 'unknown error' }),
        },
        'reportSettled',
      ],
      always: { guard: 'oneShot', target: 'done' },
      after: { errorRetry: 'checking' },
      on: { RUN_NOW: { target: 'checking', actions: 'ignoreTimerOnce' } },
    },
    skipped: { type: 'final' },
    done: { type: 'final' },
  },
});

export type MmJobActorRef = ActorRefFrom<typeof mmJobMachine>;
