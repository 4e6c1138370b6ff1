// One transfer session between two trees, as an actor the inspector can draw:
//   scanning -> planning -> transferring -> applying -> done   (any step may -> failed)
// A session started with a ready plan (executePlan, mirror packages) goes straight to
// transferring; a dry run stops after planning. The machine is pure: the work (scan,
// plan, transfer, apply) is injected with .provide() by src/engine/syncTrees.ts and
// executePlan.ts, which keep the listings and the plan out of the snapshot.
import { assign, fromPromise, setup } from 'xstate';

export interface TransferSessionInput {
  label: string;
  /** The plan is already known: skip scanning and planning. */
  hasPlan: boolean;
  dryRun: boolean;
}

/** Counts shown by the inspector and `omirr status`. */
export interface TransferSessionContext {
  label: string;
  hasPlan: boolean;
  dryRun: boolean;
  srcEntries?: number;
  dstEntries?: number;
  planned?: { mkdirs: number; transfers: number; symlinks: number; setattrs: number; deletes: number; bytes: number };
  error?: string;
}

export interface ScanOutput {
  srcEntries: number;
  dstEntries: number;
}

export type PlanOutput = NonNullable<TransferSessionContext['planned']>;

function notProvided(name: string) {
  return fromPromise<unknown, unknown>(async () => {
    throw new Error(`transferSession: actor '${name}' not provided`);
  });
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const transferSessionMachine = setup({
  types: {
    context: {} as TransferSessionContext,
    input: {} as TransferSessionInput,
    output: {} as { ok: boolean; error?: string },
  },
  actors: {
    scan: notProvided('scan') as unknown as ReturnType<typeof fromPromise<ScanOutput, void>>,
    plan: notProvided('plan') as unknown as ReturnType<typeof fromPromise<PlanOutput, void>>,
    transfer: notProvided('transfer') as unknown as ReturnType<typeof fromPromise<void, void>>,
    apply: notProvided('apply') as unknown as ReturnType<typeof fromPromise<void, void>>,
  },
  guards: {
    hasPlan: ({ context }) => context.hasPlan,
    dryRun: ({ context }) => context.dryRun,
  },
}).createMachine({
  id: 'transferSession',
  context: ({ input }) => ({ label: input.label, hasPlan: input.hasPlan, dryRun: input.dryRun }),
  initial: 'starting',
  states: {
    starting: {
      always: [
        { guard: 'hasPlan', target: 'planned' },
        { target: 'scanning' },
      ],
    },
    scanning: {
      invoke: {
        src: 'scan',
        onDone: { target: 'planning', actions: assign(({ event }) => ({ srcEntries: event.output.srcEntries, dstEntries: event.output.dstEntries })) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    planning: {
      invoke: {
        src: 'plan',
        onDone: { target: 'planned', actions: assign({ planned: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    planned: {
      always: [{ guard: 'dryRun', target: 'done' }, { target: 'transferring' }],
    },
    transferring: {
      invoke: {
        src: 'transfer',
        onDone: 'applying',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    applying: {
      invoke: {
        src: 'apply',
        onDone: 'done',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => errorText(event.error) }) },
      },
    },
    done: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error === undefined ? { ok: true } : { ok: false, error: context.error }),
});
