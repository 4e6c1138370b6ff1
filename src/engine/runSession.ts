// The transferSession actor over a plan's steps (src/machines/transferSession.ts), in a
// module of its own: it brings xstate and the machine (~20 ms of CPU to load), which a run
// that nobody watches does without (src/engine/syncTrees.ts runs the same steps directly).
import { createActor, fromPromise, toPromise, type InspectionEvent } from 'xstate';
import { logTransitions } from '../logTransitions.js';
import { silentLogger, type Logger } from '../log.js';
import { transferSessionMachine, type PlanOutput } from '../machines/transferSession.js';

/** Runs a transferSession actor over `runner`, with optional scan/plan steps first. */
export async function runSession(
  label: string,
  work: {
    scan?: () => Promise<{ srcEntries: number; dstEntries: number }>;
    plan?: () => Promise<PlanOutput>;
    transfer: () => Promise<void>;
    apply: () => Promise<void>;
  },
  opts: { hasPlan: boolean; dryRun: boolean; log?: Logger; inspect?: (ev: InspectionEvent) => void },
): Promise<void> {
  const machine = transferSessionMachine.provide({
    actors: {
      scan: fromPromise(async () => work.scan!()),
      plan: fromPromise(async () => work.plan!()),
      transfer: fromPromise(async () => work.transfer()),
      apply: fromPromise(async () => work.apply()),
    },
  });
  const log = opts.log ?? silentLogger;
  const logT = logTransitions(log);
  const extra = opts.inspect;
  const actor = createActor(machine, {
    input: { label, hasPlan: opts.hasPlan, dryRun: opts.dryRun },
    inspect: extra ? (ev) => { logT(ev); extra(ev); } : logT,
  });
  actor.start();
  const out = await toPromise(actor);
  if (!out.ok) throw new Error(out.error);
}
