// Which planned transfers go as deltas (executePlan.ts splitDelta), as a pure function of
// the plan and the destination's listing: the executor asks the receiver for their
// signatures, and the sync tells the receiver after its plan, before the executor loads
// (Tree.prepareDelta), so that the threads that sign and rebuild start meanwhile.
import type { Entry } from '../core/entry.js';
import type { StrongAlg } from '../core/delta.js';
import type { DeltaEndpoint } from '../core/tree.js';

/**
 * Files at least this large go as deltas when the receiver has an older version: below it,
 * the signature round trip and the three reads cost more than the bytes saved.
 */
export const DELTA_MIN = 256 * 1024;

/**
 * The transfers that have an old version to send a delta against: at least DELTA_MIN bytes,
 * and a non-empty file at their path in `target` (the destination's listing), with that old
 * version's size. The destination's files are looked up only when there is a large
 * transfer (a rerun that changed a few small files of a big tree builds no set).
 */
export function deltaCandidates<T extends { path: string; size: number }>(transfers: readonly T[], target: readonly Entry[]): Array<{ file: T; basisSize: number }> {
  const large = transfers.filter((f) => f.size >= DELTA_MIN);
  if (large.length === 0) return [];
  const have = new Map<string, number>();
  for (const e of target) if (e.kind === 'file' && e.size > 0) have.set(e.path, e.size);
  const out: Array<{ file: T; basisSize: number }> = [];
  for (const f of large) {
    const basisSize = have.get(f.path);
    if (basisSize !== undefined) out.push({ file: f, basisSize });
  }
  return out;
}

/** A source entry and the destination's of the same path: a delta candidate (deltaCandidates' test, for one pair). */
export function isDeltaPair(source: Entry, target: Entry): boolean {
  return source.kind === 'file' && source.size >= DELTA_MIN && target.kind === 'file' && target.size > 0;
}

/** The strong block hash of a delta between two ends: lanes32 when both do it (about half CRC-32's CPU, in the weak checksum's pass). */
export function strongAlgOf(src: DeltaEndpoint, dst: DeltaEndpoint): StrongAlg {
  return src.strongAlgs.includes('lanes32') && dst.strongAlgs.includes('lanes32') ? 'lanes32' : 'crc32';
}

/** The receiver's signatures of the delta candidates, asked for by the sync right after its plan (ExecuteOptions.signaturesAhead). */
export interface SignaturesAhead {
  /** The candidates' paths, in the order deltaCandidates gave them. */
  paths: string[];
  strong: StrongAlg;
  sigs: Promise<Map<string, import('../core/delta.js').Signature>>;
}
