// The mirror master's supervisor (pure): obeys mm statements in order, owns the `max` slots
// and the cmd barriers, and spawns one mmJob actor per job line. I/O (home check, cmd, cmdin)
// is injected as actors; messages go through the injected `notify` action.
//
//   obeying ──cmd──▶ barrier ──all jobs settled──▶ runningCmd ──▶ obeying
//      │  ──cmdin──▶ readingCmdin (its statements are spliced in place) ──▶ obeying
//      │  ──home───▶ changingHome ──▶ obeying
//      │  ──job────▶ startingJob (until the job holds a slot, or settled without one) ──▶ obeying
//      └─ end of input ──▶ draining ──▶ done (one-shot)  |  supervising (long-running)
//
// Like mm.pl, reading stops while a due job waits for a slot: so a later `max=` applies
// from its own position, `max=1` runs the packages in file order, and at most max + 1 job
// actors are alive in a one-shot run, however long the input. Slots are granted FIFO.
// See docs/statecharts-mm.md.
import { assign, enqueueActions, fromPromise, setup, stopChild, type ActorRefFrom } from 'xstate';
import { sitePackageOf, type MmDiagnostic, type MmParseResult, type MmStatement, type SourceLoc } from '../core/mmInput.js';
import { jobSkipReason, type JobFilterState } from '../core/mmJobFilter.js';
import { expandTemplate, jobArgs, pkgFileName } from '../core/mmTemplate.js';
import { jobActorId, mmJobMachine, type MmJobResult, type MmJobToSupervisorEvent } from './mmJob.js';

export const DEFAULT_MAX = 6;

export interface MmSupervisorInput {
  statements: MmStatement[];
  /** Absolute starting home (the process's cwd for omirr mm). */
  home: string;
  /** The mirror template in effect until a `mirror=` line. */
  template: string;
  max?: number;
  ignoreTimers?: boolean;
  /** -o: regex source matched unanchored against site:package. */
  only?: string;
  /** mm's pass-through `-` arguments, appended to each job's $args. */
  extraArgs?: string[];
  longRunning?: boolean;
  /** --strict: an unparsable line in a cmdin's output is fatal. */
  strict?: boolean;
  /** Passed on to every job (see MmJobInput). */
  lockPollMs?: number;
  errorRetryMs?: number;
  minRerunMs?: number;
}

export interface MmCommandResult {
  kind: 'cmd' | 'cmdin';
  command: string;
  loc: SourceLoc;
  waitStatus?: number;
  error?: string;
}

export interface MmSupervisorOutput {
  /** One result per job actor (its first pass in a long-running supervisor). */
  results: MmJobResult[];
  /** Lines that could not be parsed in cmdin outputs (the caller reports the files' own). */
  warnings: MmDiagnostic[];
  commands: MmCommandResult[];
  /** Why obeying stopped early (file:line: message), if it did. */
  fatal?: string;
}

/** Messages for the log; `notify` is a no-op until provided. */
export type MmSupervisorNotice =
  | { kind: 'filtered'; sitePackage: string; reason: string; loc: SourceLoc }
  | { kind: 'warning'; diagnostic: MmDiagnostic }
  | { kind: 'command'; result: MmCommandResult }
  | { kind: 'home'; home: string }
  | { kind: 'setting'; key: string; loc: SourceLoc }
  | { kind: 'fatal'; message: string };

export interface MmCommandInput {
  home: string;
  command: string;
  loc: SourceLoc;
}

export interface MmSupervisorContext {
  pending: MmStatement[];
  home: string;
  template: string;
  max: number;
  filter: JobFilterState;
  extraArgs: string[];
  ignoreTimers: boolean;
  longRunning: boolean;
  strict: boolean;
  jobTiming: { lockPollMs?: number; errorRetryMs?: number; minRerunMs?: number };
  nextSeq: number;
  /** Slots held now. */
  running: number;
  /** Jobs waiting for a slot, in request order. */
  slotQueue: string[];
  /** The job just spawned: reading waits until it holds a slot or has settled. */
  starting?: string;
  /** Spawned jobs whose first pass has not settled: the cmd barrier waits for them. */
  inFlight: Record<string, true>;
  inFlightCount: number;
  results: MmJobResult[];
  warnings: MmDiagnostic[];
  commands: MmCommandResult[];
  fatal?: string;
}

export type MmSupervisorEvent = MmJobToSupervisorEvent | { type: `xstate.done.actor.${string}`; actorId?: string };

function notProvided(name: string): never {
  throw new Error(`mmSupervisor: actor '${name}' was not provided`);
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const at = (loc: SourceLoc) => `${loc.file}:${loc.line}`;
const next = (c: MmSupervisorContext) => c.pending[0];

/** The cmd/cmdin statement at the head of the input has ended: record it and move past it. */
function commandEnded(
  c: MmSupervisorContext,
  outcome: { waitStatus: number } | { error: string },
): { result: MmCommandResult; commands: MmCommandResult[]; pending: MmStatement[] } {
  const st = next(c) as Extract<MmStatement, { kind: 'cmd' | 'cmdin' }>;
  const result: MmCommandResult = { kind: st.kind, command: st.command, loc: st.loc, ...outcome };
  return { result, commands: [...c.commands, result], pending: c.pending.slice(1) };
}

const base = setup({
  types: {
    context: {} as MmSupervisorContext,
    input: {} as MmSupervisorInput,
    events: {} as MmSupervisorEvent,
    output: {} as MmSupervisorOutput,
  },
  actors: {
    job: mmJobMachine,
    /** Resolves `dir` against `home` and checks it is a directory; outputs the absolute path. */
    checkHome: fromPromise<string, { home: string; dir: string }>(async () => notProvided('checkHome')),
    /** `cmd=`: runs the command with /bin/sh -c in home; outputs its wait status. */
    runCommand: fromPromise<number, MmCommandInput>(async () => notProvided('runCommand')),
    /** `cmdin=`: runs the command and parses its standard output as more mm input. */
    readCommandInput: fromPromise<MmParseResult & { waitStatus: number }, MmCommandInput>(async () =>
      notProvided('readCommandInput'),
    ),
  },
  actions: {
    notify: (_, _notice: MmSupervisorNotice) => {},
    shift: assign({ pending: ({ context }) => context.pending.slice(1) }),
  },
  guards: {
    failedFatally: ({ context }) => context.fatal !== undefined,
    endOfInput: ({ context }) => context.pending.length === 0,
    startingJob: ({ context }) => context.starting !== undefined,
    nextIsCmd: ({ context }) => next(context)?.kind === 'cmd',
    nextIsCmdin: ({ context }) => next(context)?.kind === 'cmdin',
    nextIsHome: ({ context }) => next(context)?.kind === 'home',
    allSettled: ({ context }) => context.inFlightCount === 0,
    oneShot: ({ context }) => !context.longRunning,
  },
});

const withGrant = base.extend({
  actions: {
    /** Grant free slots, FIFO. */
    grantSlots: base.enqueueActions(({ context, enqueue }) => {
      let running = context.running;
      const queue = [...context.slotQueue];
      const granted: string[] = [];
      while (running < context.max && queue.length > 0) {
        granted.push(queue.shift()!);
        running++;
      }
      if (granted.length === 0) return;
      const starting = context.starting !== undefined && granted.includes(context.starting) ? undefined : context.starting;
      enqueue.assign({ running, slotQueue: queue, starting });
      for (const id of granted) enqueue.sendTo(id, { type: 'SLOT.GRANTED' });
    }),
  },
});

const full = withGrant.extend({
  actions: {
    /** Obey the next statement that needs no waiting: a job line, max, mirror, skip, setting. */
    obeyNext: withGrant.enqueueActions(({ context, enqueue }) => {
      const st = next(context);
      if (!st) return;
      const pending = context.pending.slice(1);
      switch (st.kind) {
        case 'max':
          enqueue.assign({ pending, max: Math.max(1, st.max) });
          enqueue('grantSlots');
          return;
        case 'mirror':
          enqueue.assign({ pending, template: st.template });
          return;
        case 'skip':
          enqueue.assign({ pending, filter: { ...context.filter, skips: [...context.filter.skips, st.sitePackage] } });
          return;
        case 'setting':
          enqueue.assign({ pending });
          enqueue({ type: 'notify', params: { kind: 'setting', key: st.key, loc: st.loc } });
          return;
        case 'job': {
          const sitePackage = sitePackageOf(st);
          // jobSkipReason records a taken site:package in filter.seen (first occurrence wins).
          const reason = jobSkipReason(st, context.filter);
          if (reason !== undefined) {
            enqueue.assign({ pending });
            enqueue({ type: 'notify', params: { kind: 'filtered', sitePackage, reason, loc: st.loc } });
            return;
          }
          const id = jobActorId(sitePackage);
          const seq = context.nextSeq;
          enqueue.assign({
            pending,
            nextSeq: seq + 1,
            starting: id,
            inFlight: { ...context.inFlight, [id]: true },
            inFlightCount: context.inFlightCount + 1,
          });
          enqueue.spawnChild('job', {
            id,
            input: {
              job: {
                sitePackage,
                site: st.site,
                pkg: st.pkg,
                okHours: st.okHours,
                notokHours: st.notokHours,
                command: expandTemplate(context.template, { args: jobArgs(st.args, context.extraArgs), site: st.site, pkg: st.pkg }),
                home: context.home,
                logFile: `logs/${st.site}:${pkgFileName(st.pkg)}`,
                loc: st.loc,
              },
              seq,
              ignoreTimers: context.ignoreTimers,
              longRunning: context.longRunning,
              ...context.jobTiming,
            },
          });
          return;
        }
        default:
          // home, cmd and cmdin have states of their own; never reached.
          return;
      }
    }),
  },
});

export const mmSupervisorMachine = full.createMachine({
  id: 'mmSupervisor',
  context: ({ input }) => ({
    pending: [...input.statements],
    home: input.home,
    template: input.template,
    max: Math.max(1, input.max ?? DEFAULT_MAX),
    filter: { skips: [], seen: new Set<string>(), ...(input.only !== undefined ? { only: new RegExp(input.only) } : {}) },
    extraArgs: input.extraArgs ?? [],
    ignoreTimers: input.ignoreTimers ?? false,
    longRunning: input.longRunning ?? false,
    strict: input.strict ?? false,
    jobTiming: {
      ...(input.lockPollMs !== undefined ? { lockPollMs: input.lockPollMs } : {}),
      ...(input.errorRetryMs !== undefined ? { errorRetryMs: input.errorRetryMs } : {}),
      ...(input.minRerunMs !== undefined ? { minRerunMs: input.minRerunMs } : {}),
    },
    nextSeq: 0,
    running: 0,
    slotQueue: [],
    inFlight: {},
    inFlightCount: 0,
    results: [],
    warnings: [],
    commands: [],
  }),
  output: ({ context }) => ({
    results: context.results,
    warnings: context.warnings,
    commands: context.commands,
    ...(context.fatal !== undefined ? { fatal: context.fatal } : {}),
  }),
  // Job messages are handled in every state.
  on: {
    'SLOT.REQUEST': {
      actions: [
        assign({ slotQueue: ({ context, event }) => [...context.slotQueue, event.id] }),
        'grantSlots',
      ],
    },
    'SLOT.RELEASE': {
      actions: [assign({ running: ({ context }) => Math.max(0, context.running - 1) }), 'grantSlots'],
    },
    'JOB.SETTLED': {
      actions: [
        assign(({ context, event }) => {
          const starting = context.starting === event.id ? undefined : context.starting;
          if (!context.inFlight[event.id]) return { starting };
          const { [event.id]: _done, ...inFlight } = context.inFlight;
          return { starting, inFlight, inFlightCount: context.inFlightCount - 1, results: [...context.results, event.result] };
        }),
        'grantSlots',
      ],
    },
    // A one-shot job that reached its final state: drop it, so live children stay bounded.
    'xstate.done.actor.*': {
      actions: stopChild(({ event }) => (event as { actorId?: string }).actorId ?? ''),
    },
  },
  initial: 'obeying',
  states: {
    obeying: {
      always: [
        { guard: 'startingJob', target: 'startingJob' },
        { guard: 'failedFatally', target: 'draining' },
        { guard: 'endOfInput', target: 'draining' },
        { guard: 'nextIsCmd', target: 'barrier' },
        { guard: 'nextIsCmdin', target: 'readingCmdin' },
        { guard: 'nextIsHome', target: 'changingHome' },
        // Targetless: taken again and again, one statement each time, until one of the above.
        { actions: 'obeyNext' },
      ],
    },
    // Reading waits here, as mm did in run(), while the job just read waits for a slot.
    startingJob: {
      always: { guard: ({ context }) => context.starting === undefined, target: 'obeying' },
    },
    changingHome: {
      invoke: {
        src: 'checkHome',
        input: ({ context }) => {
          const st = next(context) as Extract<MmStatement, { kind: 'home' }>;
          return { home: context.home, dir: st.dir };
        },
        onDone: {
          target: 'obeying',
          actions: [
            assign({ home: ({ event }) => event.output }),
            { type: 'notify', params: ({ event }) => ({ kind: 'home', home: event.output }) },
            'shift',
          ],
        },
        onError: {
          target: 'obeying',
          actions: [
            assign({
              fatal: ({ context, event }) => {
                const st = next(context) as Extract<MmStatement, { kind: 'home' }>;
                return `${at(st.loc)}: cannot chdir to ${st.dir}: ${errorText(event.error)}`;
              },
            }),
            { type: 'notify', params: ({ context }) => ({ kind: 'fatal', message: context.fatal ?? '' }) },
          ],
        },
      },
    },
    // cmd= is a barrier: every job spawned so far must have settled first.
    barrier: {
      always: { guard: 'allSettled', target: 'runningCmd' },
    },
    runningCmd: {
      invoke: {
        src: 'runCommand',
        input: ({ context }) => {
          const st = next(context) as Extract<MmStatement, { kind: 'cmd' }>;
          return { home: context.home, command: st.command, loc: st.loc };
        },
        onDone: {
          target: 'obeying',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const { result, ...update } = commandEnded(context, { waitStatus: event.output });
            enqueue.assign(update);
            enqueue({ type: 'notify', params: { kind: 'command', result } });
          }),
        },
        onError: {
          target: 'obeying',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const { result, ...update } = commandEnded(context, { error: errorText(event.error) });
            enqueue.assign(update);
            enqueue({ type: 'notify', params: { kind: 'command', result } });
          }),
        },
      },
    },
    // cmdin= does not wait for running jobs (as in mm); its output is obeyed in its place.
    readingCmdin: {
      invoke: {
        src: 'readCommandInput',
        input: ({ context }) => {
          const st = next(context) as Extract<MmStatement, { kind: 'cmdin' }>;
          return { home: context.home, command: st.command, loc: st.loc };
        },
        onDone: {
          target: 'obeying',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const out = event.output;
            const { result, commands, pending } = commandEnded(context, { waitStatus: out.waitStatus });
            // the command's output is obeyed in its place
            enqueue.assign({ commands, warnings: [...context.warnings, ...out.warnings], pending: [...out.statements, ...pending] });
            enqueue({ type: 'notify', params: { kind: 'command', result } });
            for (const d of out.warnings) enqueue({ type: 'notify', params: { kind: 'warning', diagnostic: d } });
            if (context.strict && out.warnings.length > 0) {
              const d = out.warnings[0]!;
              const fatal = `${d.loc.file}:${d.loc.line}: ${d.message}`;
              enqueue.assign({ fatal });
              enqueue({ type: 'notify', params: { kind: 'fatal', message: fatal } });
            }
          }),
        },
        onError: {
          target: 'obeying',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const { result, ...update } = commandEnded(context, { error: errorText(event.error) });
            enqueue.assign(update);
            enqueue({ type: 'notify', params: { kind: 'command', result } });
          }),
        },
      },
    },
    // End of input (or a fatal error): let every job in flight finish its pass.
    draining: {
      always: [
        { guard: ({ context }) => context.inFlightCount === 0 && !context.longRunning, target: 'done' },
        { guard: ({ context }) => context.inFlightCount === 0 && context.fatal === undefined, target: 'supervising' },
        { guard: ({ context }) => context.inFlightCount === 0, target: 'done' },
      ],
    },
    // Long-running: every statement obeyed; the job actors live on and run when due.
    supervising: {},
    done: { type: 'final' },
  },
});

export type MmSupervisorActorRef = ActorRefFrom<typeof mmSupervisorMachine>;
