// The entries the last full scan of each local tree found but could not mirror (paths too
// long to reach; names that are not UTF-8 are mirrored byte-exactly, src/core/names.ts). `omirr sync` fails on them
// itself (syncTrees); this is the hook for long-lived users of a LocalTree, the daemon's
// status and metrics: `unmirrorableEntries(label)` is what to show as out-of-sync items.
import type { ScanSkip } from '../core/tree.js';

/** An unmirrorable entry, and when a scan first found it (kept across scans while it stays). */
export type UnmirrorableEntry = ScanSkip & { sinceMs: number };

const byTree = new Map<string, UnmirrorableEntry[]>();

/** Record what a full scan of `tree` found unmirrorable (replacing the previous scan's). */
export function noteUnmirrorable(tree: string, skipped: ScanSkip[], nowMs = Date.now()): void {
  const before = new Map((byTree.get(tree) ?? []).map((e) => [e.path, e.sinceMs]));
  const bad = skipped.filter((s) => s.unmirrorable === true).map((s) => ({ ...s, sinceMs: before.get(s.path) ?? nowMs }));
  if (bad.length > 0) byTree.set(tree, bad);
  else byTree.delete(tree);
}

/** The unmirrorable entries of `tree`'s last full scan (its label as the LocalTree has it); [] if none. */
export function unmirrorableEntries(tree: string): readonly UnmirrorableEntry[] {
  return byTree.get(tree) ?? [];
}

/** Every tree with unmirrorable entries, and how many. */
export function unmirrorableCounts(): Map<string, number> {
  return new Map([...byTree].map(([t, l]) => [t, l.length]));
}
