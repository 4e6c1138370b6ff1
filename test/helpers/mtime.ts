// Comparing mtimes in tests at the precision omirr promises (docs/protocol.md, "Times").
import { lstatSync } from 'node:fs';

/**
 * A file's mtime in whole ms, rounded from the exact nanoseconds. Not Math.round(st.mtimeMs):
 * that double cannot hold a 2020s time to the nanosecond, so a time a few hundred ns below
 * x.5 ms rounds up while the same time cut to the microsecond (what utimes can set) rounds
 * down, and two trees equal to the microsecond would look different.
 */
export function mtimeMsOf(path: string): number {
  try {
    return msFromNs(lstatSync(path, { bigint: true }).mtimeNs);
  } catch {
    return NaN;
  }
}

/** A time of BigIntStats (ns) in whole ms, rounded as mtimeMsOf does. */
export function msFromNs(ns: bigint): number {
  return Number((ns + 500_000n) / 1_000_000n);
}
