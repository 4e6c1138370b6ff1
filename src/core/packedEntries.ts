// The quick local sync's comparison (src/engine/quickLocal.ts): a scan as objects against a
// scan in columns (src/core/scanColumns.ts, how a scan crosses from a thread), without
// unpacking the columns into an array first. Pure.
import { sameMtime, type Entry } from './entry.js';
import { ScanList, type ScanColumns } from './scanColumns.js';

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
  const list = Array.isArray(dst) ? dst : new ScanList([dst as ScanColumns]);
  if (list.length !== src.length) return false;
  let i = 0;
  for (const d of list) {
    const s = src[i++]!;
    if (d.path !== s.path || d.kind !== s.kind) return false;
    if (s.kind === 'symlink') {
      if (d.target !== s.target) return false;
      continue;
    }
    if (d.mode !== s.mode || (s.kind === 'file' && d.size !== s.size)) return false;
    if (!sameMtime(s, d)) return false;
  }
  return true;
}
