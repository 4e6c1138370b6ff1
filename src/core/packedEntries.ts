// The quick local sync's comparison (src/engine/quickLocal.ts): a scan as objects against a
// scan in columns (src/core/scanColumns.ts, how a scan crosses from a thread), without
// unpacking the columns into an array first. Pure.
import { sameMtime, type Entry } from './entry.js';
import { everyPacked, ScanList, type ScanColumns } from './scanColumns.js';

/** The entries of packed columns, as an array (the full sync's plan takes one). */
export function unpackEntries(c: ScanColumns): Entry[] {
  return [...new ScanList([c])];
}

/**
 * Whether `dst` (packed, or as objects) holds exactly the entries of `src`, in the same order, each one
 * equal by the full sync's quick check (core/plan.ts planSync with rsync's rules and no
 * filter): same path and kind; a file's size, mtime (sameMtime) and mode; a directory's
 * mode and mtime; a symlink's target. Owners are not compared (planSync does not either).
 * Two scans of trees with the same paths list them in the same order (a scan sorts every
 * directory), so true means planSync would plan nothing, with or without deletes. False
 * says only "not certain": the caller plans.
 */
export function matchesPacked(src: Entry[], dst: ScanColumns | readonly Entry[]): boolean {
  // a scan made on this thread comes as objects: compared as they are, never packed to be compared
  // the same array (syncTrees lets the local listing stand in for a remote one found equal as it was decoded)
  if (dst === src) return true;
  if (Array.isArray(dst)) return dst.length === src.length && dst.every((d, i) => sameEntry(src[i]!, d));
  const c = dst as ScanColumns;
  // each packed entry seen in place, none made (everyPacked)
  return c.count === src.length && everyPacked(c, (d, i) => sameEntry(src[i]!, d));
}

/**
 * Where two listings as objects differ, when they list the same paths and kinds in the same
 * order (two scans of trees with the same names): the indices whose pairs fail the full
 * sync's quick check (sameEntry), in order. Undefined when a path or a kind differs
 * anywhere: then entries were added, removed or replaced, and only a whole plan can say
 * what to do. With the same paths and kinds, a pair equal by the quick check plans nothing
 * and nothing is deleted or replaced, so planning the changed pairs alone plans the same
 * (core/plan.ts planSync, with a plain quick check): what syncTrees does for a local rerun.
 */
export function changedPairs(src: readonly Entry[], dst: readonly Entry[]): number[] | undefined {
  if (src.length !== dst.length) return undefined;
  const changed: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    const d = dst[i]!;
    if (d.path !== s.path || d.kind !== s.kind) return undefined;
    if (!sameEntry(s, d)) changed.push(i);
  }
  return changed;
}

/** The full sync's quick check of one entry (matchesPacked). */
function sameEntry(s: Entry, d: Readonly<Entry>): boolean {
  if (d.path !== s.path || d.kind !== s.kind) return false;
  if (s.kind === 'symlink') return d.target === s.target;
  if (d.mode !== s.mode || (s.kind === 'file' && d.size !== s.size)) return false;
  return sameMtime(s, d);
}
