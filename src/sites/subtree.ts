// ScanOptions.subtree for drivers that list the whole tree and then narrow it: the
// subtree's own entry and what is below it (one level without `recursive`).
import type { Entry } from '../core/entry.js';
import { parentOf } from '../engine/paths.js';

export function inSubtree<E extends Pick<Entry, 'path'>>(entries: E[], subtree: string | undefined, recursive: boolean): E[] {
  if (!subtree) return entries;
  const below = entries.filter((e) => e.path === subtree || e.path.startsWith(subtree + '/'));
  return recursive ? below : below.filter((e) => e.path === subtree || parentOf(e.path) === subtree);
}
