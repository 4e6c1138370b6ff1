// The destination root's own mode and mtime, as `rsync -a SRC/ DST/` leaves them: SRC's.
// The listings hold what is below the roots, never the roots themselves, so this is a step
// of its own at the end of a run, after every write into the destination root (each moved
// its mtime). Decided by core/plan.ts planRootAttrs, the rule every directory below follows.
import { planRootAttrs, type PlanOptions } from '../core/plan.js';
import type { RootAttrs, RootAttrsChange, Tree } from '../core/tree.js';

/**
 * What the destination root would be given, before the run writes anything (for `-i`'s `./`
 * line), with what it has now; undefined where nothing is to be set or an end cannot say.
 */
export async function plannedRootAttrs(src: Tree, dst: Tree, opts: PlanOptions): Promise<{ change: RootAttrsChange; have: RootAttrs | undefined } | undefined> {
  if (!src.rootAttrs || !dst.rootAttrs) return undefined;
  const [s, d] = await Promise.all([src.rootAttrs(), dst.rootAttrs()]);
  const change = planRootAttrs(s, d, opts);
  return change ? { change, have: d } : undefined;
}

/**
 * Give `dst`'s root the mode and mtime of `src`'s where they differ (or where the run wrote
 * into it: `touched`). Nothing where either end cannot say or set them (a site, an older
 * peer). Returns the error of a failed set (the caller fails the run with it), else undefined.
 */
export async function mirrorRootAttrs(src: Tree, dst: Tree, opts: PlanOptions, touched: boolean): Promise<string | undefined> {
  if (!src.rootAttrs || !dst.rootAttrs || !dst.setRootAttrs) return undefined;
  const [s, d] = await Promise.all([src.rootAttrs(), dst.rootAttrs()]);
  const change = planRootAttrs(s, d, opts, touched);
  if (!change) return undefined;
  try {
    await dst.setRootAttrs(change);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Whether a plan writes into the destination root itself (an entry of its top level made, replaced or removed). */
export function touchesRoot(paths: Iterable<{ path: string }>): boolean {
  for (const { path } of paths) if (!path.includes('/')) return true;
  return false;
}
