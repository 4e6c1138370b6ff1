// The order records are written and sent in: deletes deepest first (a directory empties
// before it goes), everything else parents first (a directory exists before its contents).
import type { IndexRecord } from '../core/treeIndex.js';

function depth(p: string): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
}
const byPath = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const deepestFirst = (a: IndexRecord, b: IndexRecord): number => depth(b.entry.path) - depth(a.entry.path) || byPath(a.entry.path, b.entry.path);
export const parentsFirst = (a: IndexRecord, b: IndexRecord): number => depth(a.entry.path) - depth(b.entry.path) || byPath(a.entry.path, b.entry.path);

/** Deletes deepest first, then everything else parents first: the order a receiver can apply. */
export function sendOrder(records: IndexRecord[]): IndexRecord[] {
  const dead = records.filter((r) => r.deleted).sort(deepestFirst);
  const live = records.filter((r) => !r.deleted).sort(parentsFirst);
  return [...dead, ...live];
}
