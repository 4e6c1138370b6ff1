// What a sync did, and what its plan counted: apart from executePlan.ts so that a run whose
// plan is empty (a no-op) reports its result without loading the transfer machine and xstate.
import type { DeltaHash } from '../core/delta.js';
import type { SyncPlan } from '../core/plan.js';

export interface DeltaCounts {
  /** Files rebuilt from a delta. */
  files: number;
  /** Bytes sent as literals, and bytes the receiver copied from its old versions. */
  literalBytes: number;
  copiedBytes: number;
  /** Files whose delta failed (old version changed meanwhile, mismatch) and went whole. */
  fallbacks: number;
  /** The whole-file hash that verified the rebuilds (deltaHashOf). */
  hash?: DeltaHash;
}

export interface PlanCounts {
  replaced: number;
  mkdirs: number;
  transfers: number;
  symlinks: number;
  setattrs: number;
  deletes: number;
  skipped: number;
  /** Bytes of the files to transfer. */
  bytes: number;
}

export interface SyncResult {
  filesSent: number;
  bytesSent: number;
  /** Bytes of large files a previous broken transfer had already delivered. */
  resumedBytes: number;
  dirsCreated: number;
  symlinks: number;
  attrsSet: number;
  deleted: number;
  failed: Array<{ path: string; error: string }>;
  planned: PlanCounts;
  deletesRefused?: string;
  skipped: Array<{ path: string; reason: string }>;
  durationMs: number;
  dryRun: boolean;
  /** Delta transfers, when any file went as one. */
  delta?: DeltaCounts;
}

export function planCounts(plan: SyncPlan): PlanCounts {
  return {
    replaced: plan.replaced?.length ?? 0,
    mkdirs: plan.mkdirs.length,
    transfers: plan.transfers.length,
    symlinks: plan.symlinks.length,
    setattrs: plan.setattrs.length,
    deletes: plan.deletes.length,
    skipped: plan.skipped.length,
    bytes: plan.transfers.reduce((n, t) => n + t.size, 0),
  };
}

export function emptyResult(plan: SyncPlan, dryRun: boolean): SyncResult {
  return {
    filesSent: 0,
    bytesSent: 0,
    resumedBytes: 0,
    dirsCreated: 0,
    symlinks: 0,
    attrsSet: 0,
    deleted: 0,
    failed: [],
    planned: planCounts(plan),
    ...(plan.deletesRefused ? { deletesRefused: plan.deletesRefused } : {}),
    skipped: plan.skipped,
    durationMs: 0,
    dryRun,
  };
}

/** Whether a plan changes anything at the destination (a no-op's changes nothing). */
export function planHasWork(plan: SyncPlan): boolean {
  return plan.mkdirs.length + plan.transfers.length + plan.symlinks.length + plan.setattrs.length + plan.deletes.length + (plan.replaced?.length ?? 0) > 0;
}

/**
 * What a sync that failed midway had done by then (executePlan attaches it to its error): the
 * files got and the ones that failed for their own reason, such as a file the site refused
 * before its connection was lost, which the caller still names (runMirror.ts lostSite).
 */
const partials = new WeakMap<object, SyncResult>();

/** `err`, with `result` kept as what its sync had done by then. */
export function withPartialResult(err: unknown, result: SyncResult): unknown {
  if (typeof err === 'object' && err !== null && !partials.has(err)) partials.set(err, result);
  return err;
}

/** What the failed sync that threw `err` had done by then (withPartialResult), if known. */
export function partialResultOf(err: unknown): SyncResult | undefined {
  return typeof err === 'object' && err !== null ? partials.get(err) : undefined;
}
